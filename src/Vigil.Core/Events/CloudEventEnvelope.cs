using System.Text.Json;

namespace Vigil.Core.Events;

/// <summary>The attributes of a CloudEvents 1.0 structured-mode envelope that can stand in for missing data fields.</summary>
internal struct CloudEventEnvelope
{
    private const int SpecVersionBit = 0;
    private const int IdBit = 1;
    private const int TypeBit = 2;
    private const int TimeBit = 3;
    private const int DataBit = 4;
    private const int ContentTypeBit = 5;

    /// <summary>The envelope's <c>id</c>: the fallback event or notification id.</summary>
    public string? Id;

    /// <summary>The envelope's <c>type</c>, for example <c>com.example.user.LOGIN_FAILED</c>.</summary>
    public string? Type;

    /// <summary>The envelope's <c>time</c>, when <see cref="HasTime"/>.</summary>
    public long TimeMs;

    public bool HasTime;

    /// <summary>
    /// Reads the envelope the reader is on, handing the members of <c>data</c> to <paramref name="data"/>. The
    /// attributes may come in any order, <c>data</c> first included, so fallbacks are applied by the caller afterwards.
    /// </summary>
    public static bool TryRead<T>(ref Utf8JsonReader reader, ref T data, out CloudEventEnvelope envelope, out DecodeError error)
        where T : struct, IFieldReader
    {
        envelope = default;
        uint seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("specversion"u8))
            {
                if (!JsonDecoding.MarkSeen(ref seen, SpecVersionBit, "specversion", out error))
                {
                    return false;
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals("1.0"u8))
                {
                    error = new(DeadLetterReason.UnsupportedEnvelope, "specversion must be the string \"1.0\" (CloudEvents 1.0)");
                    return false;
                }
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                if (!JsonDecoding.MarkSeen(ref seen, IdBit, "id", out error)
                    || !JsonDecoding.TryReadString(ref reader, "id", EventDecoder.MaxIdLength, out envelope.Id, out error))
                {
                    return false;
                }
            }
            else if (reader.ValueTextEquals("type"u8))
            {
                if (!JsonDecoding.MarkSeen(ref seen, TypeBit, "type", out error)
                    || !JsonDecoding.TryReadString(ref reader, "type", EventDecoder.MaxTypeLength, out envelope.Type, out error))
                {
                    return false;
                }
            }
            else if (reader.ValueTextEquals("time"u8))
            {
                if (!JsonDecoding.MarkSeen(ref seen, TimeBit, "time", out error)
                    || !JsonDecoding.TryReadTimestamp(ref reader, "time", out envelope.TimeMs, out envelope.HasTime, out error))
                {
                    return false;
                }
            }
            else if (reader.ValueTextEquals("datacontenttype"u8))
            {
                if (!JsonDecoding.MarkSeen(ref seen, ContentTypeBit, "datacontenttype", out error)
                    || !JsonDecoding.TryReadString(ref reader, "datacontenttype", 256, out string? contentType, out error))
                {
                    return false;
                }

                if (contentType is not null && !IsJson(contentType))
                {
                    error = new(DeadLetterReason.UnsupportedEnvelope, $"datacontenttype '{contentType}' is not JSON");
                    return false;
                }
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                if (!JsonDecoding.MarkSeen(ref seen, DataBit, "data", out error))
                {
                    return false;
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    error = new(DeadLetterReason.UnsupportedEnvelope,
                        $"data must be a JSON object, not {JsonDecoding.Describe(reader.TokenType)}");
                    return false;
                }

                if (!JsonDecoding.TryReadObject(ref reader, ref data, out error))
                {
                    return false;
                }
            }
            else if (reader.ValueTextEquals("data_base64"u8))
            {
                error = new(DeadLetterReason.UnsupportedEnvelope, "data_base64 (binary data) is not supported; send data as a JSON object");
                return false;
            }
            else
            {
                // source, subject, dataschema and extensions carry nothing the event needs.
                reader.Skip();
            }
        }

        if ((seen & (1u << DataBit)) == 0)
        {
            error = new(DeadLetterReason.UnsupportedEnvelope, "the CloudEvents envelope has no data");
            return false;
        }

        error = default;
        return true;
    }

    private static bool IsJson(string contentType) =>
        contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
        || contentType.StartsWith("text/json", StringComparison.OrdinalIgnoreCase)
        || contentType.Contains("+json", StringComparison.OrdinalIgnoreCase);
}
