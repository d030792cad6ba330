using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Vigil.Core.Events;

/// <summary>The one-pass decoding of well-formed flat events, the shape nearly every message has.</summary>
/// <remarks>
/// <para>The fast path reads the message once, validating what <see cref="JsonDecoding.TryScan"/> would (size, UTF-8,
/// syntax to the last byte, nesting depth, unpaired surrogate escapes) while it decodes. It only ever answers "here is
/// the event" or "not mine": anything unusual — a field error, a syntax error, a CloudEvents envelope, an escaped
/// property name, a value needing the careful path — sends the message to the original two-pass decoder, which then
/// produces the event or the exact dead letter it always did. So a message is decoded by the fast path only when the
/// two-pass decoder would decode it to the same event, and bad input keeps its reasons and details.</para>
/// <para>Recurring values come from a bounded <see cref="Utf8StringCache"/>, IPv4 text is validated on the bytes and
/// then cached like any other value, and the wall clock is read only when an event is later than the last limit
/// computed from it (or every <see cref="ClockRefreshEvery"/> events), not once per event.</para>
/// </remarks>
public sealed partial class EventDecoder
{
    /// <summary>Fast-path decodes between two readings of the wall clock when no event comes near the limit.</summary>
    private const int ClockRefreshEvery = 1024;

    private enum Field : byte
    {
        Unknown,
        EventId,
        Type,
        Timestamp,
        UserId,
        Username,
        SessionId,
        IpAddress,
        UserAgent,
        Properties,
        SpecVersion,
    }

    [ThreadStatic]
    private static string[]? t_propertyScratch;

    // The latest event time accepted without reading the clock again: the clock's reading plus the allowed skew.
    // A clock that only moves forward makes every event at or before it acceptable, so this is exact, not a guess.
    private long _futureLimitMs = long.MinValue;
    private int _sinceClockRead;

    /// <summary>False makes every message take the two-pass path; tests compare the two paths with it.</summary>
    internal bool FastPathEnabled { get; init; } = true;

    /// <summary>Slots of the value cache, 0 when it is off.</summary>
    internal int StringCacheSlots => _strings?.Size ?? 0;

    private bool TryDecodeFast(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out UserEvent? evt)
    {
        evt = null;
        if (!FastPathEnabled || utf8.IsEmpty || utf8.Length > _options.MaxMessageBytes || !Utf8.IsValid(utf8))
        {
            return false;
        }

        if (utf8.Length >= 3 && utf8[0] == 0xEF && utf8[1] == 0xBB && utf8[2] == 0xBF)
        {
            utf8 = utf8[3..];
        }

        var reader = new Utf8JsonReader(utf8, _readerOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            uint seen = 0;
            string? eventId = null, rawType = null, userId = null, username = null, sessionId = null, ipAddress = null, userAgent = null;
            EventType type = default;
            bool hasType = false, hasTimestamp = false;
            long timestampMs = 0;
            PropertyMap? properties = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueIsEscaped)
                {
                    return false;
                }

                var field = FieldOf(reader.ValueSpan);
                if (field != Field.Unknown)
                {
                    uint mask = 1u << (int)field;
                    if ((seen & mask) != 0)
                    {
                        return false;
                    }

                    seen |= mask;
                }

                bool ok = field switch
                {
                    Field.EventId => TryFastString(ref reader, MaxIdLength, cache: false, out eventId),
                    Field.Type => TryFastType(ref reader, out type, out hasType, out rawType),
                    Field.Timestamp => TryFastTimestamp(ref reader, out timestampMs, out hasTimestamp),
                    Field.UserId => TryFastStringOrNumber(ref reader, MaxIdLength, out userId),
                    Field.Username => TryFastString(ref reader, MaxUsernameLength, cache: true, out username),
                    Field.SessionId => TryFastString(ref reader, MaxIdLength, cache: true, out sessionId),
                    Field.IpAddress => TryFastIp(ref reader, out ipAddress),
                    Field.UserAgent => TryFastString(ref reader, MaxUserAgentLength, cache: true, out userAgent),
                    Field.Properties => TryFastProperties(ref reader, out properties),
                    Field.SpecVersion => false,
                    _ => TrySkipChecked(ref reader),
                };
                if (!ok)
                {
                    return false;
                }
            }

            // The object must be the whole message: whatever follows it (other than white space) is for the slow path
            // to name, as is an object that was not closed.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return false;
            }

            if (eventId is null || !hasType || !hasTimestamp
                || (userId is null && !(type == EventType.LoginFailed && username is not null))
                || !IsNotInFuture(timestampMs))
            {
                return false;
            }

            evt = new UserEvent
            {
                EventId = eventId,
                Type = type,
                RawType = rawType,
                TimestampMs = timestampMs,
                UserId = userId,
                Username = username,
                SessionId = sessionId,
                IpAddress = ipAddress,
                UserAgent = userAgent,
                Properties = properties,
            };
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Whatever the reader objects to, the two-pass decoder classifies.
            return false;
        }
    }

    private bool IsNotInFuture(long epochMs)
    {
        long limit = _futureLimitMs;
        if (epochMs <= limit && ++_sinceClockRead < ClockRefreshEvery)
        {
            return true;
        }

        // Read the clock again: the event is later than the last limit, or the limit is due for a refresh (a clock
        // stepped back by NTP is then followed within a thousand events).
        _sinceClockRead = 0;
        limit = _time.GetUtcNow().ToUnixTimeMilliseconds() + (long)_options.MaxFutureSkew.TotalMilliseconds;
        _futureLimitMs = limit;
        return epochMs <= limit;
    }

    /// <summary>The field a top-level property name denotes, aliases included, by length and then by bytes.</summary>
    private static Field FieldOf(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when name.SequenceEqual("ip"u8) => Field.IpAddress,
        4 when name.SequenceEqual("type"u8) => Field.Type,
        6 when name.SequenceEqual("userId"u8) => Field.UserId,
        7 when name.SequenceEqual("eventId"u8) => Field.EventId,
        7 when name.SequenceEqual("user_id"u8) => Field.UserId,
        8 when name.SequenceEqual("username"u8) => Field.Username,
        8 when name.SequenceEqual("event_id"u8) => Field.EventId,
        9 => name[0] switch
        {
            (byte)'e' when name.SequenceEqual("eventType"u8) => Field.Type,
            (byte)'t' when name.SequenceEqual("timestamp"u8) => Field.Timestamp,
            (byte)'s' when name.SequenceEqual("sessionId"u8) => Field.SessionId,
            (byte)'i' when name.SequenceEqual("ipAddress"u8) => Field.IpAddress,
            (byte)'u' when name.SequenceEqual("userAgent"u8) => Field.UserAgent,
            _ => Field.Unknown,
        },
        10 => name[0] switch
        {
            (byte)'e' when name.SequenceEqual("event_type"u8) => Field.Type,
            (byte)'o' when name.SequenceEqual("occurredAt"u8) => Field.Timestamp,
            (byte)'s' when name.SequenceEqual("session_id"u8) => Field.SessionId,
            (byte)'i' when name.SequenceEqual("ip_address"u8) => Field.IpAddress,
            (byte)'u' when name.SequenceEqual("user_agent"u8) => Field.UserAgent,
            (byte)'p' when name.SequenceEqual("properties"u8) => Field.Properties,
            _ => Field.Unknown,
        },
        11 when name.SequenceEqual("specversion"u8) => Field.SpecVersion,
        _ => Field.Unknown,
    };

    /// <summary>Moves to the value and reads an optional string ("" and null are absent); false for anything else.</summary>
    private bool TryFastString(ref Utf8JsonReader reader, int maxLength, bool cache, out string? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        return reader.TokenType switch
        {
            JsonTokenType.Null => true,
            JsonTokenType.String => TryFastStringValue(ref reader, maxLength, cache, out value),
            _ => false,
        };
    }

    private bool TryFastStringOrNumber(ref Utf8JsonReader reader, int maxLength, out string? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                return TryFastStringValue(ref reader, maxLength, cache: true, out value);
            case JsonTokenType.Number when reader.ValueSpan.Length <= maxLength:
                value = Materialise(reader.ValueSpan, cache: true);
                return true;
            default:
                return false;
        }
    }

    /// <summary>The current string token as text of at most <paramref name="maxLength"/> characters, "" as null.</summary>
    private bool TryFastStringValue(ref Utf8JsonReader reader, int maxLength, bool cache, out string? value)
    {
        value = null;
        var raw = reader.ValueSpan;
        if (reader.ValueIsEscaped)
        {
            if (raw.Length > maxLength * 6 || !JsonDecoding.SurrogateEscapesArePaired(raw))
            {
                return false;
            }

            var text = reader.GetString()!;
            value = text.Length == 0 ? null : text;
            return text.Length <= maxLength;
        }

        // Unescaped: the bytes are the text, and a character takes at least one byte, so within the limit in bytes
        // is within it in characters; longer non-ASCII text that may still fit is left to the slow path.
        if (raw.Length > maxLength)
        {
            return false;
        }

        value = raw.IsEmpty ? null : Materialise(raw, cache);
        return true;
    }

    private string Materialise(ReadOnlySpan<byte> utf8, bool cache) =>
        cache && _strings is { } strings ? strings.Get(utf8) : Encoding.UTF8.GetString(utf8);

    private bool TryFastType(ref Utf8JsonReader reader, out EventType type, out bool hasType, out string? rawType)
    {
        type = default;
        hasType = false;
        rawType = null;
        if (!reader.Read())
        {
            return false;
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        // Escaped or long type names are for the careful path; valid ones are short ASCII words.
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.ValueSpan.Length > MaxTypeLength)
        {
            return false;
        }

        var name = reader.ValueSpan;
        if (name.IsEmpty)
        {
            return true;
        }

        type = EventTypeNames.Resolve(name);
        rawType = type == EventType.Other ? Materialise(name, cache: true) : null;
        hasType = true;
        return true;
    }

    private static bool TryFastTimestamp(ref Utf8JsonReader reader, out long epochMs, out bool present)
    {
        epochMs = 0;
        present = false;
        if (!reader.Read())
        {
            return false;
        }

        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number:
                present = reader.TryGetInt64(out long whole) && JsonDecoding.FromEpoch(whole, out epochMs) == TimestampStatus.Ok;
                return present;
            case JsonTokenType.String when !reader.ValueIsEscaped:
                if (reader.ValueSpan.IsEmpty)
                {
                    return true;
                }

                present = Timestamps.TryParse(reader.ValueSpan, out epochMs) == TimestampStatus.Ok;
                return present;
            default:
                return false;
        }
    }

    private bool TryFastIp(ref Utf8JsonReader reader, out string? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.ValueSpan.Length > 64)
        {
            return false;
        }

        var text = reader.ValueSpan;
        if (text.IsEmpty)
        {
            return true;
        }

        // A strict dotted quad is its own canonical form, so it is validated on the bytes and cached like any value;
        // IPv6 needs normalising into new text.
        if (text.IndexOf((byte)':') < 0)
        {
            if (!IpText.IsDottedQuad(text))
            {
                return false;
            }

            value = Materialise(text, cache: true);
            return true;
        }

        return IpText.TryNormalize(text, out value);
    }

    private bool TryFastProperties(ref Utf8JsonReader reader, out PropertyMap? properties)
    {
        properties = null;
        if (!reader.Read())
        {
            return false;
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        int max = _options.MaxProperties;
        var scratch = t_propertyScratch ??= new string[16];
        int count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!TryFastStringValue(ref reader, MaxPropertyKeyLength, cache: true, out string? key) || !reader.Read())
            {
                return false;
            }

            key ??= string.Empty;
            if (reader.TokenType == JsonTokenType.Null)
            {
                continue;
            }

            if (reader.TokenType != JsonTokenType.String
                || !TryFastStringValue(ref reader, MaxPropertyValueLength, cache: true, out string? value)
                || count >= max)
            {
                return false;
            }

            for (int i = 0; i < count * 2; i += 2)
            {
                if (string.Equals(scratch[i], key, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            if (count * 2 == scratch.Length)
            {
                Array.Resize(ref scratch, scratch.Length * 2);
                t_propertyScratch = scratch;
            }

            scratch[count * 2] = key;
            scratch[(count * 2) + 1] = value ?? string.Empty;
            count++;
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            return false;
        }

        if (count > 0)
        {
            properties = new PropertyMap(scratch.AsSpan(0, count * 2).ToArray());
            // The scratch outlives the call: do not let it keep this event's strings alive.
            Array.Clear(scratch, 0, count * 2);
        }

        return true;
    }

    /// <summary>
    /// Skips the value of a property nobody reads, checking what the validation pass would: nesting depth and unpaired
    /// surrogate escapes (the reader itself checks the syntax).
    /// </summary>
    private bool TrySkipChecked(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            return false;
        }

        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return !reader.ValueIsEscaped || JsonDecoding.SurrogateEscapesArePaired(reader.ValueSpan);
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                break;
            default:
                return true;
        }

        int depth = reader.CurrentDepth;
        int maxDepth = _options.MaxDepth;
        do
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray when reader.CurrentDepth >= maxDepth:
                    return false;
                case JsonTokenType.PropertyName or JsonTokenType.String
                    when reader.ValueIsEscaped && !JsonDecoding.SurrogateEscapesArePaired(reader.ValueSpan):
                    return false;
            }

            if (!reader.Read())
            {
                return false;
            }
        }
        while (reader.CurrentDepth > depth);

        return true;
    }
}
