using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Vigil.Core.Events;

/// <summary>The one-pass decoding of well-formed flat events, the shape nearly every message has.</summary>
/// <remarks>
/// <para>The fast path reads the message once with a <see cref="FlatJsonScanner"/>, validating what
/// <see cref="JsonDecoding.TryScan"/> would (size, UTF-8, syntax to the last byte, unpaired surrogate escapes) while it
/// decodes. It only ever answers "here is the event" or "not mine": anything unusual — a field error, a syntax error, a
/// CloudEvents envelope, an escaped property name, a nested value in an unknown field, a value needing the careful path
/// — sends the message to the original two-pass decoder, which then produces the event or the exact dead letter it
/// always did. So a message is decoded by the fast path only when the two-pass decoder would decode it to the same event,
/// and bad input keeps its reasons and details.</para>
/// <para>Recurring values come from a bounded <see cref="Utf8StringCache"/>, IPv4 text is validated on the bytes and
/// then cached like any other value, and the wall clock is read only when an event is later than the last limit
/// computed from it (or every <see cref="ClockRefreshEvery"/> events), not once per event.</para>
/// </remarks>
public sealed partial class EventDecoder
{
    /// <summary>Fast-path decodes between two readings of the wall clock when no event comes near the limit.</summary>
    private const int ClockRefreshEvery = 1024;

    /// <summary>The longest escaped value (as written) the fast path decodes itself, on the stack.</summary>
    private const int MaxFastEscapedBytes = 1024;

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

    /// <summary>The hour of the latest event time written as <c>YYYY-MM-DDThh:mm:ss.fffZ</c>.</summary>
    private IsoHourMemo _isoHour;

    /// <summary>Which property keys' values go through the value cache.</summary>
    private readonly ValueAdmission _admission = new();

    // The latest event time accepted without reading the clock again: the clock's reading plus the allowed skew.
    // A clock that only moves forward makes every event at or before it acceptable, so this is exact, not a guess.
    private long _futureLimitMs = long.MinValue;
    private int _sinceClockRead;

    /// <summary>False makes every message take the two-pass path; tests compare the two paths with it.</summary>
    internal bool FastPathEnabled { get; init; } = true;

    /// <summary>Slots of the value cache, 0 when it is off.</summary>
    internal int StringCacheSlots => _strings?.Size ?? 0;

    /// <summary>The fast path alone, for tests: false means "not mine" as well as invalid.</summary>
    internal bool TryDecodeFastOnly(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out UserEvent? evt) => TryDecodeFast(utf8, out evt);

    private bool TryDecodeFast(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out UserEvent? evt)
    {
        evt = null;
        if (!FastPathEnabled || utf8.IsEmpty || utf8.Length > _options.MaxMessageBytes)
        {
            return false;
        }

        if (utf8.Length >= 3 && utf8[0] == 0xEF && utf8[1] == 0xBB && utf8[2] == 0xBF)
        {
            utf8 = utf8[3..];
        }

        var json = new FlatJsonScanner(utf8);
        if (!json.TryReadObjectStart())
        {
            return false;
        }

        uint seen = 0;
        string? eventId = null, rawType = null, userId = null, username = null, sessionId = null, ipAddress = null, userAgent = null;
        // The cacheable values are looked up once the message is read: each is hashed (and its table entry fetched)
        // as it is found, so their cache misses overlap with the scanning instead of stalling it one after another.
        Pending pendingUserId = default, pendingUsername = default, pendingSessionId = default, pendingIp = default, pendingAgent = default;
        EventType type = default;
        bool hasType = false, hasTimestamp = false;
        long timestampMs = 0;
        PropertyMap? properties = null;
        for (bool first = true; ; first = false)
        {
            var member = json.ReadMember(first, out var name, out bool nameEscaped);
            if (member == FlatMember.End)
            {
                break;
            }

            // An escaped name may still spell a field (or specversion): the careful path reads those.
            if (member != FlatMember.Name || nameEscaped)
            {
                return false;
            }

            var field = FieldOf(name);
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
                Field.EventId => TryFastUncachedString(ref json, MaxIdLength, out eventId),
                Field.Type => TryFastType(ref json, out type, out hasType, out rawType),
                Field.Timestamp => TryFastTimestamp(ref json, out timestampMs, out hasTimestamp),
                Field.UserId => TryFastStringOrNumber(ref json, MaxIdLength, utf8, out userId, ref pendingUserId),
                Field.Username => TryFastCachedString(ref json, MaxUsernameLength, utf8, out username, ref pendingUsername),
                Field.SessionId => TryFastCachedString(ref json, MaxIdLength, utf8, out sessionId, ref pendingSessionId),
                Field.IpAddress => TryFastIp(ref json, utf8, out ipAddress, ref pendingIp),
                Field.UserAgent => TryFastCachedString(ref json, MaxUserAgentLength, utf8, out userAgent, ref pendingAgent),
                Field.Properties => TryFastProperties(ref json, out properties),
                Field.SpecVersion => false,
                // Values nobody reads only need to be valid; nested ones are left to the careful path.
                _ => json.ReadValue(out _, out _) is not (FlatValue.Unsupported or FlatValue.ObjectStart),
            };
            if (!ok)
            {
                return false;
            }
        }

        // The object must be the whole message: whatever follows it (other than white space) is for the slow path to
        // name.
        if (!json.IsAtEnd())
        {
            return false;
        }

        Resolve(utf8, in pendingUserId, ref userId);
        Resolve(utf8, in pendingUsername, ref username);
        Resolve(utf8, in pendingSessionId, ref sessionId);
        Resolve(utf8, in pendingIp, ref ipAddress);
        Resolve(utf8, in pendingAgent, ref userAgent);

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

    /// <summary>Reads an optional string value ("" and null are absent), never cached (event ids do not repeat); false
    /// for anything else.</summary>
    private bool TryFastUncachedString(ref FlatJsonScanner json, int maxLength, out string? value)
    {
        value = null;
        return json.ReadValue(out var raw, out bool escaped) switch
        {
            FlatValue.Null => true,
            FlatValue.String => TryFastStringValue(raw, escaped, maxLength, cache: false, out value),
            _ => false,
        };
    }

    private bool TryFastStringOrNumber(ref FlatJsonScanner json, int maxLength, ReadOnlySpan<byte> message, out string? value, ref Pending pending)
    {
        value = null;
        switch (json.ReadValue(out var raw, out bool escaped))
        {
            case FlatValue.Null:
                return true;
            case FlatValue.String:
                return TryFastCachedValue(raw, escaped, maxLength, message, out value, ref pending);
            case FlatValue.Number when raw.Length <= maxLength:
                // A number is ASCII and unescaped, and the careful path keeps it as its text too.
                Defer(message, raw, out value, ref pending);
                return true;
            default:
                return false;
        }
    }

    /// <summary><see cref="TryFastUncachedString"/> for a cached value, whose lookup waits for <see cref="Resolve"/> when the
    /// value is plain text.</summary>
    private bool TryFastCachedString(ref FlatJsonScanner json, int maxLength, ReadOnlySpan<byte> message, out string? value, ref Pending pending)
    {
        value = null;
        return json.ReadValue(out var raw, out bool escaped) switch
        {
            FlatValue.Null => true,
            FlatValue.String => TryFastCachedValue(raw, escaped, maxLength, message, out value, ref pending),
            _ => false,
        };
    }

    private bool TryFastCachedValue(ReadOnlySpan<byte> raw, bool escaped, int maxLength, ReadOnlySpan<byte> message, out string? value,
        ref Pending pending)
    {
        if (escaped)
        {
            return TryFastEscapedValue(raw, maxLength, cache: true, out value);
        }

        // As in TryFastStringValue: within the limit in bytes is within it in characters.
        value = null;
        if (raw.Length > maxLength)
        {
            return false;
        }

        if (!raw.IsEmpty)
        {
            Defer(message, raw, out value, ref pending);
        }

        return true;
    }

    /// <summary>A value of the message to look up later: hashed now, its cache entry already on its way. Without a
    /// cache the string is made at once.</summary>
    private void Defer(ReadOnlySpan<byte> message, ReadOnlySpan<byte> raw, out string? value, ref Pending pending)
    {
        if (_strings is not { } strings)
        {
            value = Encoding.UTF8.GetString(raw);
            return;
        }

        value = null;
        pending.Offset = (int)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(message), ref MemoryMarshal.GetReference(raw));
        pending.Length = raw.Length;
        pending.Hash = strings.Prefetch(raw);
        pending.Set = true;
    }

    private void Resolve(ReadOnlySpan<byte> message, in Pending pending, ref string? value)
    {
        if (pending.Set)
        {
            value = _strings!.Get(message.Slice(pending.Offset, pending.Length), pending.Hash);
        }
    }

    /// <summary>Where a deferred value lies in the message, and its hash.</summary>
    private struct Pending
    {
        public bool Set;
        public int Offset;
        public int Length;
        public ulong Hash;
    }

    /// <summary>A string value as text of at most <paramref name="maxLength"/> characters, "" as null.</summary>
    private bool TryFastStringValue(ReadOnlySpan<byte> raw, bool escaped, int maxLength, bool cache, out string? value)
    {
        if (escaped)
        {
            return TryFastEscapedValue(raw, maxLength, cache, out value);
        }

        // Unescaped: the bytes are the text, and a character takes at least one byte, so within the limit in bytes
        // is within it in characters; longer non-ASCII text that may still fit is left to the slow path.
        value = null;
        if (raw.Length > maxLength)
        {
            return false;
        }

        value = raw.IsEmpty ? null : Materialise(raw, cache);
        return true;
    }

    private bool TryFastEscapedValue(ReadOnlySpan<byte> raw, int maxLength, bool cache, out string? value)
    {
        value = null;
        // No escape decodes to more bytes than it is written with, so the buffer needs the raw length; longer escaped
        // values are rare enough to leave to the careful path.
        if (raw.Length > MaxFastEscapedBytes)
        {
            return false;
        }

        Span<byte> text = stackalloc byte[MaxFastEscapedBytes];
        text = text[..FlatJsonScanner.Unescape(raw, text)];
        if (text.Length > maxLength)
        {
            return false;
        }

        value = text.IsEmpty ? null : Materialise(text, cache);
        return true;
    }

    private string Materialise(ReadOnlySpan<byte> utf8, bool cache) =>
        cache && _strings is { } strings ? strings.Get(utf8) : Encoding.UTF8.GetString(utf8);

    private bool TryFastType(ref FlatJsonScanner json, out EventType type, out bool hasType, out string? rawType)
    {
        type = default;
        hasType = false;
        rawType = null;
        var kind = json.ReadValue(out var name, out bool escaped);
        if (kind == FlatValue.Null)
        {
            return true;
        }

        // Escaped or long type names are for the careful path; valid ones are short ASCII words.
        if (kind != FlatValue.String || escaped || name.Length > MaxTypeLength)
        {
            return false;
        }

        if (name.IsEmpty)
        {
            return true;
        }

        type = EventTypeNames.Resolve(name);
        rawType = type == EventType.Other ? Materialise(name, cache: true) : null;
        hasType = true;
        return true;
    }

    private bool TryFastTimestamp(ref FlatJsonScanner json, out long epochMs, out bool present)
    {
        epochMs = 0;
        present = false;
        switch (json.ReadValue(out var raw, out bool escaped))
        {
            case FlatValue.Null:
                return true;
            case FlatValue.Number:
                // Plain non-negative integers only; fractions, exponents, signs and overflow are for the careful path.
                present = TryParseEpochDigits(raw, out long whole) && JsonDecoding.FromEpoch(whole, out epochMs) == TimestampStatus.Ok;
                return present;
            case FlatValue.String when !escaped:
                if (raw.IsEmpty)
                {
                    return true;
                }

                if (_isoHour.TryParse(raw, out epochMs))
                {
                    present = true;
                    return true;
                }

                // A time the memo could not answer: the full parser reads it, and the memo keeps its hour.
                present = Timestamps.TryParse(raw, out epochMs) == TimestampStatus.Ok;
                if (present)
                {
                    _isoHour.Remember(raw, epochMs);
                }
                return present;
            default:
                return false;
        }
    }

    /// <summary>At most 18 decimal digits (no sign, fraction or exponent), which cannot overflow a long.</summary>
    private static bool TryParseEpochDigits(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.Length > 18)
        {
            return false;
        }

        foreach (byte b in digits)
        {
            uint digit = b - (uint)'0';
            if (digit > 9)
            {
                return false;
            }

            value = (value * 10) + digit;
        }

        return true;
    }

    private bool TryFastIp(ref FlatJsonScanner json, ReadOnlySpan<byte> message, out string? value, ref Pending pending)
    {
        value = null;
        var kind = json.ReadValue(out var text, out bool escaped);
        if (kind == FlatValue.Null)
        {
            return true;
        }

        if (kind != FlatValue.String || escaped || text.Length > 64)
        {
            return false;
        }

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

            Defer(message, text, out value, ref pending);
            return true;
        }

        return IpText.TryNormalize(text, out value);
    }

    private bool TryFastProperties(ref FlatJsonScanner json, out PropertyMap? properties)
    {
        properties = null;
        var kind = json.ReadValue(out _, out _);
        if (kind == FlatValue.Null)
        {
            return true;
        }

        if (kind != FlatValue.ObjectStart)
        {
            return false;
        }

        // The first two entries, nearly every event's all, stay in locals; a third moves them to the scratch array.
        int max = _options.MaxProperties;
        string? key0 = null, value0 = null, key1 = null, value1 = null;
        string[]? scratch = null;
        int count = 0;
        for (bool first = true; ; first = false)
        {
            var member = json.ReadMember(first, out var rawKey, out bool keyEscaped);
            if (member == FlatMember.End)
            {
                break;
            }

            if (member != FlatMember.Name)
            {
                return false;
            }

            // An unescaped key is its bytes: hashed once, for the cache and for the key's admission slot.
            string? key;
            ulong keyHash = 0;
            if (keyEscaped || _strings is null)
            {
                if (!TryFastStringValue(rawKey, keyEscaped, MaxPropertyKeyLength, cache: true, out key))
                {
                    return false;
                }
            }
            else
            {
                if (rawKey.Length > MaxPropertyKeyLength)
                {
                    return false;
                }

                keyHash = Utf8StringCache.HashOf(rawKey);
                key = rawKey.IsEmpty ? null : _strings.Get(rawKey, keyHash);
            }

            key ??= string.Empty;
            var valueKind = json.ReadValue(out var rawValue, out bool valueEscaped);
            if (valueKind == FlatValue.Null)
            {
                // As on the careful path: an absent value is skipped, and does not count as the key's first sighting.
                continue;
            }

            if (valueKind != FlatValue.String
                || !TryFastPropertyValue(rawValue, valueEscaped, key, keyHash, out string? value)
                || count >= max
                || IsDuplicateKey(key, count, key0, key1, scratch))
            {
                return false;
            }

            value ??= string.Empty;
            switch (count)
            {
                case 0:
                    key0 = key;
                    value0 = value;
                    break;
                case 1:
                    key1 = key;
                    value1 = value;
                    break;
                default:
                    if (scratch is null)
                    {
                        scratch = t_propertyScratch ??= new string[16];
                        scratch[0] = key0!;
                        scratch[1] = value0!;
                        scratch[2] = key1!;
                        scratch[3] = value1!;
                    }

                    if (count * 2 == scratch.Length)
                    {
                        Array.Resize(ref scratch, scratch.Length * 2);
                        t_propertyScratch = scratch;
                    }

                    scratch[count * 2] = key;
                    scratch[(count * 2) + 1] = value;
                    break;
            }

            count++;
        }

        switch (count)
        {
            case 0:
                break;
            case 1:
                properties = PropertyMap.Create(key0!, value0!);
                break;
            case 2:
                properties = PropertyMap.Create(key0!, value0!, key1!, value1!);
                break;
            default:
                properties = PropertyMap.Create(scratch.AsSpan(0, count * 2));
                // The scratch outlives the call: do not let it keep this event's strings alive.
                Array.Clear(scratch!, 0, count * 2);
                break;
        }

        return true;
    }

    /// <summary>A property's value as <see cref="TryFastStringValue"/> reads it; an unescaped one is looked up in the
    /// value cache only while its key's values are found there often enough (<see cref="ValueAdmission"/>).</summary>
    private bool TryFastPropertyValue(ReadOnlySpan<byte> raw, bool escaped, string key, ulong keyHash, out string? value)
    {
        if (escaped || _strings is not { } strings)
        {
            return TryFastStringValue(raw, escaped, MaxPropertyValueLength, cache: true, out value);
        }

        value = null;
        if (raw.Length > MaxPropertyValueLength)
        {
            return false;
        }

        if (raw.IsEmpty)
        {
            return true;
        }

        if (_admission.ShouldLookUp(key, keyHash, out int slot))
        {
            value = strings.Get(raw, Utf8StringCache.HashOf(raw), out bool hit);
            _admission.Record(slot, hit);
        }
        else
        {
            value = Encoding.UTF8.GetString(raw);
        }

        return true;
    }

    private static bool IsDuplicateKey(string key, int count, string? key0, string? key1, string[]? scratch)
    {
        if (count == 0)
        {
            return false;
        }

        if (string.Equals(key0, key, StringComparison.Ordinal) || (count > 1 && string.Equals(key1, key, StringComparison.Ordinal)))
        {
            return true;
        }

        for (int i = 4; i < count * 2; i += 2)
        {
            if (string.Equals(scratch![i], key, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
