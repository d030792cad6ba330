using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Vigil.Core.Events;

/// <summary>
/// Decodes and validates <c>user-events</c> messages (DESIGN §2) straight from their UTF-8 bytes: flat JSON events with
/// the usual field aliases, or CloudEvents 1.0 structured envelopes. Bad input is never thrown: it comes back as a
/// <see cref="DecodeError"/> for the dead-letter topic.
/// </summary>
/// <remarks>Thread-safe: a decoder holds its options, a counter, a lock-free value cache and a cached clock limit, and
/// may be shared by partitions.</remarks>
public sealed partial class EventDecoder(EventDecoderOptions options, TimeProvider time)
{
    /// <summary>Longest <c>eventId</c>, <c>userId</c> and <c>sessionId</c>, in UTF-16 characters.</summary>
    public const int MaxIdLength = 128;

    /// <summary>Longest event type text.</summary>
    public const int MaxTypeLength = 128;

    /// <summary>Longest <c>username</c>.</summary>
    public const int MaxUsernameLength = 256;

    /// <summary>Longest <c>userAgent</c>.</summary>
    public const int MaxUserAgentLength = 1024;

    /// <summary>Longest key in <c>properties</c>.</summary>
    public const int MaxPropertyKeyLength = 128;

    /// <summary>Longest value in <c>properties</c>.</summary>
    public const int MaxPropertyValueLength = 1024;

    private readonly EventDecoderOptions _options = Validated(options);
    private readonly TimeProvider _time = time ?? throw new ArgumentNullException(nameof(time));
    private readonly JsonReaderOptions _readerOptions = JsonDecoding.ReaderOptions(options.MaxDepth);
    private readonly Utf8StringCache? _strings = options.StringCacheForDecoder();
    private long _unknownTypeCount;

    /// <summary>Events decoded with an unknown type, kept as <see cref="EventType.Other"/>.</summary>
    public long UnknownTypeCount => Interlocked.Read(ref _unknownTypeCount);

    /// <summary>Decodes one message. Never throws for any input bytes.</summary>
    /// <param name="utf8">The raw message value.</param>
    /// <param name="evt">The event, when the message is valid.</param>
    /// <param name="error">Why the message is not valid, when it is not; the message then belongs in the dead-letter topic.</param>
    public bool TryDecode(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out UserEvent? evt, out DecodeError error)
    {
        if (TryDecodeFast(utf8, out evt))
        {
            if (evt.Type == EventType.Other)
            {
                Interlocked.Increment(ref _unknownTypeCount);
            }

            error = default;
            return true;
        }

        // Not a plain, valid flat event: the two passes below decide, and name what is wrong.
        evt = null;
        if (!JsonDecoding.TryScan(utf8, _options.MaxMessageBytes, _options.MaxDepth, _readerOptions,
                out int start, out bool isEnvelope, out error))
        {
            return false;
        }

        var reader = new Utf8JsonReader(utf8[start..], _readerOptions);
        reader.Read();
        var fields = new EventFields(_options.MaxProperties);
        if (isEnvelope)
        {
            if (!CloudEventEnvelope.TryRead(ref reader, ref fields, out var envelope, out error))
            {
                return false;
            }

            fields.ApplyEnvelope(in envelope);
        }
        else if (!JsonDecoding.TryReadObject(ref reader, ref fields, out error))
        {
            return false;
        }

        if (fields.EventId is null)
        {
            error = JsonDecoding.Missing("eventId");
            return false;
        }

        if (!fields.HasType)
        {
            error = JsonDecoding.Missing("eventType");
            return false;
        }

        if (!fields.HasTimestamp)
        {
            error = JsonDecoding.Missing("timestamp");
            return false;
        }

        // A failed login against an account that does not exist has no user id, only the name that was tried.
        if (fields.UserId is null && !(fields.Type == EventType.LoginFailed && fields.Username is not null))
        {
            error = fields.Type == EventType.LoginFailed
                ? new(DeadLetterReason.MissingField, "userId is required, or username for LOGIN_FAILED")
                : JsonDecoding.Missing("userId");
            return false;
        }

        if (!JsonDecoding.TryCheckNotInFuture(fields.TimestampMs, _time, _options.MaxFutureSkew, out error))
        {
            return false;
        }

        evt = new UserEvent
        {
            EventId = fields.EventId,
            Type = fields.Type,
            RawType = fields.RawType,
            TimestampMs = fields.TimestampMs,
            UserId = fields.UserId,
            Username = fields.Username,
            SessionId = fields.SessionId,
            IpAddress = fields.IpAddress,
            UserAgent = fields.UserAgent,
            Properties = fields.Properties,
        };
        if (fields.Type == EventType.Other)
        {
            Interlocked.Increment(ref _unknownTypeCount);
        }

        return true;
    }

    private static EventDecoderOptions Validated(EventDecoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    /// <summary>The fields of one event object, as read so far.</summary>
    private struct EventFields(int maxProperties) : IFieldReader
    {
        private const int EventIdBit = 0;
        private const int TypeBit = 1;
        private const int TimestampBit = 2;
        private const int UserIdBit = 3;
        private const int UsernameBit = 4;
        private const int SessionIdBit = 5;
        private const int IpAddressBit = 6;
        private const int UserAgentBit = 7;
        private const int PropertiesBit = 8;

        private uint _seen;

        public string? EventId;
        public EventType Type;
        public bool HasType;
        public string? RawType;
        public long TimestampMs;
        public bool HasTimestamp;
        public string? UserId;
        public string? Username;
        public string? SessionId;
        public string? IpAddress;
        public string? UserAgent;
        public Dictionary<string, string>? Properties;

        public bool TryReadProperty(ref Utf8JsonReader reader, out DecodeError error)
        {
            if (reader.ValueTextEquals("eventId"u8) || reader.ValueTextEquals("event_id"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, EventIdBit, "eventId", out error)
                    && JsonDecoding.TryReadString(ref reader, "eventId", MaxIdLength, out EventId, out error);
            }

            if (reader.ValueTextEquals("eventType"u8) || reader.ValueTextEquals("type"u8) || reader.ValueTextEquals("event_type"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, TypeBit, "eventType", out error) && TryReadType(ref reader, out error);
            }

            if (reader.ValueTextEquals("timestamp"u8) || reader.ValueTextEquals("occurredAt"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, TimestampBit, "timestamp", out error)
                    && JsonDecoding.TryReadTimestamp(ref reader, "timestamp", out TimestampMs, out HasTimestamp, out error);
            }

            if (reader.ValueTextEquals("userId"u8) || reader.ValueTextEquals("user_id"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, UserIdBit, "userId", out error)
                    && JsonDecoding.TryReadStringOrNumber(ref reader, "userId", MaxIdLength, out UserId, out error);
            }

            if (reader.ValueTextEquals("username"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, UsernameBit, "username", out error)
                    && JsonDecoding.TryReadString(ref reader, "username", MaxUsernameLength, out Username, out error);
            }

            if (reader.ValueTextEquals("sessionId"u8) || reader.ValueTextEquals("session_id"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, SessionIdBit, "sessionId", out error)
                    && JsonDecoding.TryReadString(ref reader, "sessionId", MaxIdLength, out SessionId, out error);
            }

            if (reader.ValueTextEquals("ipAddress"u8) || reader.ValueTextEquals("ip"u8) || reader.ValueTextEquals("ip_address"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, IpAddressBit, "ipAddress", out error)
                    && JsonDecoding.TryReadIpAddress(ref reader, "ipAddress", out IpAddress, out error);
            }

            if (reader.ValueTextEquals("userAgent"u8) || reader.ValueTextEquals("user_agent"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, UserAgentBit, "userAgent", out error)
                    && JsonDecoding.TryReadString(ref reader, "userAgent", MaxUserAgentLength, out UserAgent, out error);
            }

            if (reader.ValueTextEquals("properties"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, PropertiesBit, "properties", out error)
                    && TryReadProperties(ref reader, out error);
            }

            reader.Skip();
            error = default;
            return true;
        }

        /// <summary>Fills what the data object lacked from the envelope's id, type and time.</summary>
        public void ApplyEnvelope(in CloudEventEnvelope envelope)
        {
            EventId ??= envelope.Id;
            if (!HasType && envelope.Type is not null)
            {
                Type = EventTypeNames.Resolve(JsonDecoding.LastSegment(envelope.Type));
                RawType = Type == EventType.Other ? envelope.Type : null;
                HasType = true;
            }

            if (!HasTimestamp && envelope.HasTime)
            {
                TimestampMs = envelope.TimeMs;
                HasTimestamp = true;
            }
        }

        private bool TryReadType(ref Utf8JsonReader reader, out DecodeError error)
        {
            reader.Read();
            error = default;
            switch (reader.TokenType)
            {
                case JsonTokenType.Null:
                    return true;
                case JsonTokenType.String:
                    if (reader.ValueSpan.Length > MaxTypeLength * 6)
                    {
                        error = new(DeadLetterReason.FieldTooLong, $"eventType is longer than {MaxTypeLength} characters");
                        return false;
                    }

                    Span<byte> scratch = stackalloc byte[MaxTypeLength * 6];
                    var name = reader.ValueIsEscaped ? scratch[..reader.CopyString(scratch)] : reader.ValueSpan;
                    if (name.IsEmpty)
                    {
                        return true;
                    }

                    if (name.Length > MaxTypeLength && Encoding.UTF8.GetCharCount(name) is var chars && chars > MaxTypeLength)
                    {
                        error = JsonDecoding.TooLong("eventType", chars, MaxTypeLength);
                        return false;
                    }

                    // Known names resolve from the bytes; only an unknown type costs a string.
                    Type = EventTypeNames.Resolve(name);
                    RawType = Type == EventType.Other ? Encoding.UTF8.GetString(name) : null;
                    HasType = true;
                    return true;
                default:
                    error = JsonDecoding.WrongType("eventType", "a string", reader.TokenType);
                    return false;
            }
        }

        private bool TryReadProperties(ref Utf8JsonReader reader, out DecodeError error)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null)
            {
                error = default;
                return true;
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                error = JsonDecoding.WrongType("properties", "an object of strings", reader.TokenType);
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!JsonDecoding.TryGetBoundedString(ref reader, "a properties key", MaxPropertyKeyLength, out string? key, out error))
                {
                    return false;
                }

                key ??= string.Empty;
                reader.Read();
                string? value;
                switch (reader.TokenType)
                {
                    case JsonTokenType.String:
                        if (!JsonDecoding.TryGetBoundedString(ref reader, $"properties.{key}", MaxPropertyValueLength, out value, out error))
                        {
                            return false;
                        }

                        break;
                    case JsonTokenType.Null:
                        // Serialisers write absent optional values as null; that is no reason to lose the event.
                        continue;
                    default:
                        error = new(DeadLetterReason.PropertyNotString,
                            $"properties.{key} is {JsonDecoding.Describe(reader.TokenType)}; property values must be strings");
                        return false;
                }

                Properties ??= new Dictionary<string, string>(StringComparer.Ordinal);
                if (Properties.Count >= maxProperties && !Properties.ContainsKey(key))
                {
                    error = new(DeadLetterReason.TooManyProperties, $"properties has more than {maxProperties} entries");
                    return false;
                }

                if (!Properties.TryAdd(key, value ?? string.Empty))
                {
                    error = new(DeadLetterReason.DuplicateKey, $"properties.{key} appears more than once");
                    return false;
                }
            }

            error = default;
            return true;
        }
    }
}
