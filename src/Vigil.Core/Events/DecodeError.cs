namespace Vigil.Core.Events;

/// <summary>Why a message was dead-lettered. Each value has a stable wire code, see <see cref="DeadLetterReasons.ToCode"/>.</summary>
public enum DeadLetterReason
{
    /// <summary>No error; the value of a default <see cref="DecodeError"/>.</summary>
    None = 0,

    /// <summary>The message has no bytes, or only white space.</summary>
    EmptyMessage,

    /// <summary>The message is larger than <see cref="EventDecoderOptions.MaxMessageBytes"/>; it was not parsed.</summary>
    MessageTooLarge,

    /// <summary>The bytes are not valid UTF-8.</summary>
    InvalidUtf8,

    /// <summary>The bytes are not JSON, or the JSON is malformed.</summary>
    MalformedJson,

    /// <summary>The JSON ends in the middle of a value: the message was cut short.</summary>
    TruncatedJson,

    /// <summary>The top-level JSON value is not an object.</summary>
    NotAnObject,

    /// <summary>Objects or arrays are nested deeper than <see cref="EventDecoderOptions.MaxDepth"/>.</summary>
    NestingTooDeep,

    /// <summary>A field appears twice, possibly under two of its aliases.</summary>
    DuplicateKey,

    /// <summary>A field has the wrong JSON type, for example a number where a string is required.</summary>
    WrongType,

    /// <summary>A required field is absent, null or empty.</summary>
    MissingField,

    /// <summary>A non-JSON number literal such as <c>NaN</c> or <c>Infinity</c>.</summary>
    InvalidNumber,

    /// <summary>A timestamp is negative, before 1970, after 9999 or not representable.</summary>
    TimestampOutOfRange,

    /// <summary>A string field is longer than its limit.</summary>
    FieldTooLong,

    /// <summary>The IP address is not a full dotted-quad IPv4 address or a valid IPv6 address.</summary>
    InvalidIpAddress,

    /// <summary>The timestamp text is neither ISO-8601 nor a number of epoch seconds or milliseconds.</summary>
    InvalidTimestamp,

    /// <summary>An ISO-8601 timestamp without <c>Z</c> or a UTC offset: a local time that cannot be placed.</summary>
    TimestampMissingOffset,

    /// <summary>The event time is further ahead of the wall clock than <see cref="EventDecoderOptions.MaxFutureSkew"/>.</summary>
    TimestampInFuture,

    /// <summary>A value in <c>properties</c> is not a string.</summary>
    PropertyNotString,

    /// <summary><c>properties</c> holds more entries than allowed.</summary>
    TooManyProperties,

    /// <summary>A CloudEvents envelope Vigil does not decode: another spec version, <c>data_base64</c>, no object <c>data</c>, or a non-JSON content type.</summary>
    UnsupportedEnvelope,

    /// <summary>A notification channel other than EMAIL, SMS or PUSH.</summary>
    InvalidChannel,
}

/// <summary>Stable codes of <see cref="DeadLetterReason"/>, as stored in <see cref="DeadLetter.Reason"/>.</summary>
public static class DeadLetterReasons
{
    /// <summary>The stable UPPER_SNAKE code of <paramref name="r"/>, for example <c>MISSING_FIELD</c>.</summary>
    public static string ToCode(this DeadLetterReason r) => r switch
    {
        DeadLetterReason.None => "NONE",
        DeadLetterReason.EmptyMessage => "EMPTY_MESSAGE",
        DeadLetterReason.MessageTooLarge => "MESSAGE_TOO_LARGE",
        DeadLetterReason.InvalidUtf8 => "INVALID_UTF8",
        DeadLetterReason.MalformedJson => "MALFORMED_JSON",
        DeadLetterReason.TruncatedJson => "TRUNCATED_JSON",
        DeadLetterReason.NotAnObject => "NOT_AN_OBJECT",
        DeadLetterReason.NestingTooDeep => "NESTING_TOO_DEEP",
        DeadLetterReason.DuplicateKey => "DUPLICATE_KEY",
        DeadLetterReason.WrongType => "WRONG_TYPE",
        DeadLetterReason.MissingField => "MISSING_FIELD",
        DeadLetterReason.InvalidNumber => "INVALID_NUMBER",
        DeadLetterReason.TimestampOutOfRange => "TIMESTAMP_OUT_OF_RANGE",
        DeadLetterReason.FieldTooLong => "FIELD_TOO_LONG",
        DeadLetterReason.InvalidIpAddress => "INVALID_IP_ADDRESS",
        DeadLetterReason.InvalidTimestamp => "INVALID_TIMESTAMP",
        DeadLetterReason.TimestampMissingOffset => "TIMESTAMP_MISSING_OFFSET",
        DeadLetterReason.TimestampInFuture => "TIMESTAMP_IN_FUTURE",
        DeadLetterReason.PropertyNotString => "PROPERTY_NOT_STRING",
        DeadLetterReason.TooManyProperties => "TOO_MANY_PROPERTIES",
        DeadLetterReason.UnsupportedEnvelope => "UNSUPPORTED_ENVELOPE",
        DeadLetterReason.InvalidChannel => "INVALID_CHANNEL",
        _ => "UNKNOWN",
    };
}

/// <summary>Why a message could not be decoded: the reason and a detail that names the field and what was wrong.</summary>
/// <param name="Reason">The reason; its code goes to <see cref="DeadLetter.Reason"/>.</param>
/// <param name="Detail">Human-readable: the field and the problem, for <see cref="DeadLetter.Detail"/>.</param>
public readonly record struct DecodeError(DeadLetterReason Reason, string Detail)
{
    /// <summary>The stable code of <see cref="Reason"/>.</summary>
    public string Code => Reason.ToCode();

    /// <summary>Builds the dead letter for <paramref name="raw"/> with this error's reason and detail.</summary>
    public DeadLetter ToDeadLetter(string sourceTopic, int partition, long offset, string? key,
        ReadOnlySpan<byte> raw, DateTimeOffset receivedAt) =>
        DeadLetter.Create(sourceTopic, partition, offset, key, raw, Reason.ToCode(), Detail ?? string.Empty, receivedAt);
}
