using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Vigil.Core.Events;

/// <summary>Reads the fields of one JSON object for a decoder.</summary>
internal interface IFieldReader
{
    /// <summary>
    /// Called with the reader on a property name of the object; consumes the property's value, leaving the reader on
    /// the value's last token. Unknown properties are skipped.
    /// </summary>
    bool TryReadProperty(ref Utf8JsonReader reader, out DecodeError error);
}

/// <summary>
/// The decoding steps shared by <see cref="EventDecoder"/> and <see cref="NotificationDecoder"/>.
/// </summary>
/// <remarks>
/// Decoding is two forward-only passes over the bytes. <see cref="TryScan"/> proves the message is one well-formed,
/// not too deeply nested JSON object and finds its shape (flat event or CloudEvents envelope, whose <c>data</c> may
/// come before <c>specversion</c>). The second pass reads the fields, and can rely on the first: the same reader over
/// the same bytes cannot fail, so syntax errors always win over field errors, whatever their order in the message.
/// </remarks>
internal static class JsonDecoding
{
    /// <summary>9999-12-31T23:59:59.999Z, the last instant <see cref="DateTimeOffset"/> can hold.</summary>
    public const long MaxEpochMs = 253_402_300_799_999;

    /// <summary>Epoch values below this are seconds, above it milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.</summary>
    private const long SecondsCutoff = 100_000_000_000;

    // Longest timestamp text worth parsing: "2024-01-01T00:00:00.123456789+00:00" is 35 bytes.
    private const int MaxTimestampBytes = 64;

    // Longest IP text: a full IPv6 address with an embedded IPv4 tail is 45 characters.
    private const int MaxIpBytes = 64;

    private static ReadOnlySpan<byte> Whitespace => " \t\r\n"u8;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// The reader allows one level more than <paramref name="maxDepth"/> so that our own check in <see cref="TryScan"/>
    /// sees the offending token first and reports it as <see cref="DeadLetterReason.NestingTooDeep"/>, rather than the
    /// reader throwing a <see cref="JsonException"/> indistinguishable from malformed JSON.
    /// </summary>
    public static JsonReaderOptions ReaderOptions(int maxDepth) => new()
    {
        MaxDepth = maxDepth + 1,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>
    /// Checks size, encoding and JSON structure. On success <paramref name="start"/> is where the JSON begins (after
    /// a UTF-8 byte order mark) and <paramref name="isEnvelope"/> tells whether the top level has a <c>specversion</c>.
    /// </summary>
    public static bool TryScan(ReadOnlySpan<byte> message, int maxMessageBytes, int maxDepth, JsonReaderOptions readerOptions,
        out int start, out bool isEnvelope, out DecodeError error)
    {
        start = 0;
        isEnvelope = false;
        if (message.IsEmpty)
        {
            error = new(DeadLetterReason.EmptyMessage, "message has no bytes");
            return false;
        }

        if (message.Length > maxMessageBytes)
        {
            error = new(DeadLetterReason.MessageTooLarge, $"message is {message.Length} bytes, the limit is {maxMessageBytes}");
            return false;
        }

        // The reader validates UTF-8 only inside strings; checking up front also covers garbage between tokens and
        // lets the later passes decode strings without a failure path.
        if (!Utf8.IsValid(message))
        {
            error = new(DeadLetterReason.InvalidUtf8, $"message is not valid UTF-8 (first invalid byte at offset {FirstInvalidUtf8(message)})");
            return false;
        }

        // Some producers write a byte order mark; the reader rejects it, but it is harmless.
        if (message.StartsWith(Utf8Bom))
        {
            start = Utf8Bom.Length;
        }

        var body = message[start..];
        if (body.TrimStart(Whitespace).IsEmpty)
        {
            error = new(DeadLetterReason.EmptyMessage, "message is only white space");
            return false;
        }

        var reader = new Utf8JsonReader(body, readerOptions);
        long lastEnd = 0;
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                error = new(DeadLetterReason.NotAnObject, $"the top-level JSON value is {Describe(reader.TokenType)}, not an object");
                return false;
            }

            lastEnd = reader.BytesConsumed;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    // CurrentDepth of a start token is the depth outside it, so the nesting it opens is one more.
                    case JsonTokenType.StartObject or JsonTokenType.StartArray when reader.CurrentDepth >= maxDepth:
                        error = new(DeadLetterReason.NestingTooDeep,
                            $"objects and arrays nest deeper than {maxDepth} levels at byte {start + reader.TokenStartIndex}");
                        return false;
                    case JsonTokenType.PropertyName or JsonTokenType.String:
                        if (reader.ValueIsEscaped && !SurrogateEscapesArePaired(reader.ValueSpan))
                        {
                            error = new(DeadLetterReason.MalformedJson,
                                $"a string at byte {start + reader.TokenStartIndex} escapes an unpaired UTF-16 surrogate");
                            return false;
                        }

                        if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1
                            && reader.ValueTextEquals("specversion"u8))
                        {
                            isEnvelope = true;
                        }

                        break;
                }

                lastEnd = reader.BytesConsumed;
            }

            error = default;
            return true;
        }
        catch (JsonException ex)
        {
            // The one place an exception is part of the design: the reader reports malformed input by throwing.
            error = ClassifySyntaxError(body, start, lastEnd, readerOptions, ex);
            return false;
        }
    }

    private static DecodeError ClassifySyntaxError(ReadOnlySpan<byte> body, int start, long lastEnd,
        JsonReaderOptions readerOptions, JsonException ex)
    {
        // The reader stops at the token it could not read, which starts after the separators that follow the last
        // good token. If that is NaN or Infinity, say so: a producer serialising doubles naively writes these.
        var rest = body[(int)lastEnd..];
        int skipped = 0;
        while (skipped < rest.Length && rest[skipped] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)':' or (byte)',')
        {
            skipped++;
        }

        if (IsNonFiniteLiteral(rest[skipped..]))
        {
            return new(DeadLetterReason.InvalidNumber,
                $"NaN and Infinity are not JSON numbers (at byte {start + lastEnd + skipped})");
        }

        // A reader told that more data may follow returns false instead of throwing only when what it has seen so far
        // is a valid prefix of a document: that is exactly a message cut short.
        var probe = new Utf8JsonReader(body, isFinalBlock: false, new JsonReaderState(readerOptions));
        try
        {
            while (probe.Read())
            {
            }

            return new(DeadLetterReason.TruncatedJson, $"the JSON ends in the middle of a value after {start + body.Length} bytes");
        }
        catch (JsonException)
        {
            return new(DeadLetterReason.MalformedJson, $"not valid JSON: {ex.Message}");
        }
    }

    private static bool IsNonFiniteLiteral(ReadOnlySpan<byte> text)
    {
        if (!text.IsEmpty && text[0] is (byte)'-' or (byte)'+')
        {
            text = text[1..];
        }

        int letters = 0;
        while (letters < text.Length && char.IsAsciiLetter((char)text[letters]))
        {
            letters++;
        }

        var word = text[..letters];
        return System.Text.Ascii.EqualsIgnoreCase(word, "nan"u8)
            || System.Text.Ascii.EqualsIgnoreCase(word, "inf"u8)
            || System.Text.Ascii.EqualsIgnoreCase(word, "infinity"u8);
    }

    /// <summary>
    /// The reader checks the grammar of <c>\u</c> escapes but not that surrogates pair up, and a lone one makes
    /// <see cref="Utf8JsonReader.GetString"/> throw; this finds them first.
    /// </summary>
    internal static bool SurrogateEscapesArePaired(ReadOnlySpan<byte> raw)
    {
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] != (byte)'\\')
            {
                continue;
            }

            i++;
            if (raw[i] != (byte)'u')
            {
                continue;
            }

            int unit = Hex4(raw.Slice(i + 1, 4));
            i += 4;
            if (unit is >= 0xDC00 and <= 0xDFFF)
            {
                return false;
            }

            if (unit is >= 0xD800 and <= 0xDBFF)
            {
                if (i + 6 >= raw.Length || raw[i + 1] != (byte)'\\' || raw[i + 2] != (byte)'u')
                {
                    return false;
                }

                int low = Hex4(raw.Slice(i + 3, 4));
                if (low is < 0xDC00 or > 0xDFFF)
                {
                    return false;
                }

                i += 6;
            }
        }

        return true;
    }

    private static int Hex4(ReadOnlySpan<byte> hex)
    {
        int value = 0;
        foreach (byte b in hex)
        {
            value = (value << 4) | HexValue(b);
        }

        return value;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => 0,
    };

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> message)
    {
        int offset = 0;
        while (offset < message.Length)
        {
            if (Rune.DecodeFromUtf8(message[offset..], out _, out int consumed) != OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return offset;
    }

    /// <summary>Reads the members of the object the reader is on, handing each property to <paramref name="fields"/>.</summary>
    public static bool TryReadObject<T>(ref Utf8JsonReader reader, ref T fields, out DecodeError error)
        where T : struct, IFieldReader
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!fields.TryReadProperty(ref reader, out error))
            {
                return false;
            }
        }

        error = default;
        return true;
    }

    /// <summary>Records that a field was seen; a second sighting, under any of its aliases, is a duplicate key.</summary>
    public static bool MarkSeen(ref uint seen, int bit, string field, out DecodeError error)
    {
        uint mask = 1u << bit;
        if ((seen & mask) != 0)
        {
            error = new(DeadLetterReason.DuplicateKey, $"{field} appears more than once (counting its aliases)");
            return false;
        }

        seen |= mask;
        error = default;
        return true;
    }

    /// <summary>Moves to the value of the current property and reads it as an optional string (null and "" are absent).</summary>
    public static bool TryReadString(ref Utf8JsonReader reader, string field, int maxLength, out string? value, out DecodeError error)
    {
        reader.Read();
        value = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                error = default;
                return true;
            case JsonTokenType.String:
                return TryGetBoundedString(ref reader, field, maxLength, out value, out error);
            default:
                error = WrongType(field, "a string", reader.TokenType);
                return false;
        }
    }

    /// <summary>Like <see cref="TryReadString"/>, but a JSON number is accepted too and kept as its text (numeric user ids).</summary>
    public static bool TryReadStringOrNumber(ref Utf8JsonReader reader, string field, int maxLength, out string? value, out DecodeError error)
    {
        reader.Read();
        value = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                error = default;
                return true;
            case JsonTokenType.String:
                return TryGetBoundedString(ref reader, field, maxLength, out value, out error);
            case JsonTokenType.Number:
                // Numbers are never escaped and are ASCII, so bytes are characters.
                if (reader.ValueSpan.Length > maxLength)
                {
                    error = TooLong(field, reader.ValueSpan.Length, maxLength);
                    return false;
                }

                value = Encoding.UTF8.GetString(reader.ValueSpan);
                error = default;
                return true;
            default:
                error = WrongType(field, "a string or a number", reader.TokenType);
                return false;
        }
    }

    /// <summary>Reads the current string token, at most <paramref name="maxLength"/> UTF-16 characters; "" becomes null.</summary>
    public static bool TryGetBoundedString(ref Utf8JsonReader reader, string field, int maxLength, out string? value, out DecodeError error)
    {
        value = null;
        int rawLength = reader.ValueSpan.Length;

        // Every character takes one to six bytes (a \uXXXX escape), so this bound is exact enough to refuse a huge
        // value without allocating it.
        if (rawLength > maxLength * 6)
        {
            error = new(DeadLetterReason.FieldTooLong, $"{field} is longer than {maxLength} characters");
            return false;
        }

        var text = reader.GetString()!;
        if (text.Length > maxLength)
        {
            error = TooLong(field, text.Length, maxLength);
            return false;
        }

        value = text.Length == 0 ? null : text;
        error = default;
        return true;
    }

    /// <summary>Moves to the value of the current property and reads it as an optional IP address, normalised.</summary>
    public static bool TryReadIpAddress(ref Utf8JsonReader reader, string field, out string? value, out DecodeError error)
    {
        reader.Read();
        value = null;
        error = default;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                if (reader.ValueSpan.Length > MaxIpBytes)
                {
                    error = new(DeadLetterReason.InvalidIpAddress, $"{field} is {reader.ValueSpan.Length} bytes, too long for an IP address");
                    return false;
                }

                Span<byte> scratch = stackalloc byte[MaxIpBytes];
                var text = reader.ValueIsEscaped ? scratch[..reader.CopyString(scratch)] : reader.ValueSpan;
                if (text.IsEmpty)
                {
                    return true;
                }

                if (!IpText.TryNormalize(text, out value))
                {
                    error = new(DeadLetterReason.InvalidIpAddress,
                        $"{field} '{Encoding.UTF8.GetString(text)}' is neither a dotted-quad IPv4 nor an IPv6 address");
                    return false;
                }

                return true;
            default:
                error = WrongType(field, "a string", reader.TokenType);
                return false;
        }
    }

    /// <summary>
    /// Moves to the value of the current property and reads it as an optional timestamp: epoch seconds or
    /// milliseconds (a number or numeric text), or ISO-8601 text with an offset.
    /// </summary>
    public static bool TryReadTimestamp(ref Utf8JsonReader reader, string field, out long epochMs, out bool present, out DecodeError error)
    {
        reader.Read();
        epochMs = 0;
        present = false;
        TimestampStatus status;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                error = default;
                return true;
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out long whole))
                {
                    status = FromEpoch(whole, out epochMs);
                }
                else
                {
                    // TryGetDouble is false for a value beyond double's range rather than infinite.
                    status = reader.TryGetDouble(out double real) ? FromEpoch(real, out epochMs) : TimestampStatus.OutOfRange;
                }

                if (status != TimestampStatus.Ok)
                {
                    error = TimestampError(status, field, reader.ValueSpan, isText: false);
                    return false;
                }

                break;
            case JsonTokenType.String:
                if (reader.ValueSpan.Length > MaxTimestampBytes)
                {
                    error = new(DeadLetterReason.InvalidTimestamp, $"{field} is {reader.ValueSpan.Length} bytes, too long for a timestamp");
                    return false;
                }

                Span<byte> scratch = stackalloc byte[MaxTimestampBytes];
                var text = reader.ValueIsEscaped ? scratch[..reader.CopyString(scratch)] : reader.ValueSpan;
                if (text.IsEmpty)
                {
                    error = default;
                    return true;
                }

                status = Timestamps.TryParse(text, out epochMs);
                if (status != TimestampStatus.Ok)
                {
                    error = TimestampError(status, field, text, isText: true);
                    return false;
                }

                break;
            default:
                error = WrongType(field, "an ISO-8601 string or an epoch number", reader.TokenType);
                return false;
        }

        present = true;
        error = default;
        return true;
    }

    /// <summary>Epoch seconds or milliseconds, told apart by magnitude; negative or past the year 9999 is out of range.</summary>
    public static TimestampStatus FromEpoch(long value, out long epochMs)
    {
        epochMs = 0;
        if (value < 0)
        {
            return TimestampStatus.OutOfRange;
        }

        long ms = value < SecondsCutoff ? value * 1000 : value;
        if (ms > MaxEpochMs)
        {
            return TimestampStatus.OutOfRange;
        }

        epochMs = ms;
        return TimestampStatus.Ok;
    }

    /// <summary>As <see cref="FromEpoch(long, out long)"/>, for fractional seconds or milliseconds.</summary>
    public static TimestampStatus FromEpoch(double value, out long epochMs)
    {
        epochMs = 0;
        if (!double.IsFinite(value) || value < 0)
        {
            return TimestampStatus.OutOfRange;
        }

        // Rounding, not truncating, keeps 1700000000.123 s at ...123 ms despite binary fractions.
        double ms = value < SecondsCutoff ? Math.Round(value * 1000) : Math.Floor(value);
        if (ms > MaxEpochMs)
        {
            return TimestampStatus.OutOfRange;
        }

        epochMs = (long)ms;
        return TimestampStatus.Ok;
    }

    private static DecodeError TimestampError(TimestampStatus status, string field, ReadOnlySpan<byte> text, bool isText)
    {
        string shown = isText ? $"'{Encoding.UTF8.GetString(text)}'" : Encoding.UTF8.GetString(text);
        return status switch
        {
            TimestampStatus.OutOfRange => new(DeadLetterReason.TimestampOutOfRange,
                $"{field} {shown} is outside 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z"),
            TimestampStatus.MissingOffset => new(DeadLetterReason.TimestampMissingOffset,
                $"{field} {shown} has no UTC offset or Z, so the instant is unknown"),
            _ => new(DeadLetterReason.InvalidTimestamp,
                $"{field} {shown} is neither ISO-8601 with an offset nor epoch seconds or milliseconds"),
        };
    }

    /// <summary>A wrong-type error naming the field, what it should be and what it was.</summary>
    public static DecodeError WrongType(string field, string expected, JsonTokenType actual) =>
        new(DeadLetterReason.WrongType, $"{field} must be {expected}, not {Describe(actual)}");

    /// <summary>A too-long error naming the field, its length and the limit.</summary>
    public static DecodeError TooLong(string field, int length, int maxLength) =>
        new(DeadLetterReason.FieldTooLong, $"{field} is {length} characters long, the limit is {maxLength}");

    /// <summary>A missing-field error naming the field.</summary>
    public static DecodeError Missing(string field) =>
        new(DeadLetterReason.MissingField, $"{field} is required but absent, null or empty");

    /// <summary>Checks the event time against the wall clock plus the allowed skew.</summary>
    public static bool TryCheckNotInFuture(long epochMs, TimeProvider time, TimeSpan maxFutureSkew, out DecodeError error)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        long limit = now + (long)maxFutureSkew.TotalMilliseconds;
        if (epochMs > limit)
        {
            error = new(DeadLetterReason.TimestampInFuture,
                $"timestamp {DateTimeOffset.FromUnixTimeMilliseconds(epochMs):O} is {TimeSpan.FromMilliseconds(epochMs - now)} ahead of the clock, the limit is {maxFutureSkew}");
            return false;
        }

        error = default;
        return true;
    }

    /// <summary>The part of a CloudEvents type after its last dot: <c>com.example.user.LOGIN_FAILED</c> → <c>LOGIN_FAILED</c>.</summary>
    public static ReadOnlySpan<char> LastSegment(string type)
    {
        int dot = type.LastIndexOf('.');
        return dot < 0 ? type : type.AsSpan(dot + 1);
    }

    /// <summary>A JSON token type in words, for error details.</summary>
    public static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };
}
