using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vigil.Core.Alerts;

/// <summary>
/// The one JSON shape of an alert (DESIGN §3), shared by the <c>security-alerts</c> topic, the API, the
/// stores' evidence column and replay output, so they cannot drift apart.
/// </summary>
public sealed class AlertJsonConverter : JsonConverter<Alert>
{
    /// <summary>A shared instance.</summary>
    public static AlertJsonConverter Instance { get; } = new();

    public override Alert Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var doc = JsonDocument.ParseValue(ref reader);
        return AlertJson.FromElement(doc.RootElement);
    }

    public override void Write(Utf8JsonWriter writer, Alert value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        AlertJson.Write(writer, value);
    }
}

/// <summary>Reads and writes alerts as JSON.</summary>
public static class AlertJson
{
    private static readonly JsonSerializerOptions s_evidenceOptions = new(JsonSerializerDefaults.Web);

    /// <summary>Writes <paramref name="alert"/> as one JSON object.</summary>
    public static void Write(Utf8JsonWriter writer, Alert alert)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(alert);
        writer.WriteStartObject();
        writer.WriteString("alertId", alert.AlertId);
        writer.WriteString("rule", alert.Rule);
        writer.WriteString("severity", alert.Severity.ToWireName());
        WriteNullable(writer, "userId", alert.UserId);
        WriteNullable(writer, "ipAddress", alert.IpAddress);
        writer.WriteString("eventTime", Format(alert.EventTime));
        writer.WriteString("detectedAt", Format(alert.DetectedAt));
        WriteNullable(writer, "windowStart", alert.WindowStart is { } ws ? Format(ws) : null);
        WriteNullable(writer, "windowEnd", alert.WindowEnd is { } we ? Format(we) : null);
        writer.WriteNumber("score", Math.Round(alert.Score, 4));
        writer.WriteString("summary", alert.Summary);
        writer.WritePropertyName("evidence");
        WriteEvidence(writer, alert.Evidence);
        writer.WriteString("status", alert.Status.ToWireName());
        if (alert.StatusBy is not null)
        {
            writer.WriteString("statusBy", alert.StatusBy);
        }
        if (alert.StatusAt is { } at)
        {
            writer.WriteString("statusAt", Format(at));
        }
        if (alert.StatusNote is not null)
        {
            writer.WriteString("statusNote", alert.StatusNote);
        }
        writer.WriteEndObject();
    }

    /// <summary>The alert as UTF-8 JSON bytes.</summary>
    public static byte[] ToUtf8Bytes(Alert alert)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, alert);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the evidence object alone, as stored in the evidence column.</summary>
    public static void WriteEvidence(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?> evidence)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(evidence);
        writer.WriteStartObject();
        // Sorted keys keep the bytes stable across runs, whatever dictionary produced them.
        var keys = new string[evidence.Count];
        var i = 0;
        foreach (var key in evidence.Keys)
        {
            keys[i++] = key;
        }
        Array.Sort(keys, StringComparer.Ordinal);
        foreach (var key in keys)
        {
            writer.WritePropertyName(key);
            var value = evidence[key];
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                JsonSerializer.Serialize(writer, value, value.GetType(), s_evidenceOptions);
            }
        }
        writer.WriteEndObject();
    }

    /// <summary>The evidence object alone, as JSON text.</summary>
    public static string EvidenceToJson(IReadOnlyDictionary<string, object?> evidence)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteEvidence(writer, evidence);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Parses evidence JSON back into a dictionary whose values are <see cref="JsonElement"/>s.</summary>
    public static IReadOnlyDictionary<string, object?> EvidenceFromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return EvidenceFromElement(doc.RootElement);
    }

    /// <summary>Parses one alert from its JSON bytes.</summary>
    public static Alert Parse(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        using var doc = JsonDocument.ParseValue(ref reader);
        return FromElement(doc.RootElement);
    }

    internal static Alert FromElement(JsonElement e)
    {
        if (!AlertNames.TryParseSeverity(e.GetProperty("severity").GetString(), out var severity))
        {
            throw new JsonException("Unknown alert severity.");
        }
        var status = AlertStatus.Open;
        if (e.TryGetProperty("status", out var s) && !AlertNames.TryParseStatus(s.GetString(), out status))
        {
            throw new JsonException("Unknown alert status.");
        }
        return new Alert
        {
            AlertId = e.GetProperty("alertId").GetString() ?? throw new JsonException("alertId is null."),
            Rule = e.GetProperty("rule").GetString() ?? throw new JsonException("rule is null."),
            Severity = severity,
            UserId = OptionalString(e, "userId"),
            IpAddress = OptionalString(e, "ipAddress"),
            EventTime = e.GetProperty("eventTime").GetDateTimeOffset(),
            DetectedAt = e.GetProperty("detectedAt").GetDateTimeOffset(),
            WindowStart = OptionalTime(e, "windowStart"),
            WindowEnd = OptionalTime(e, "windowEnd"),
            Score = e.TryGetProperty("score", out var score) ? score.GetDouble() : 0,
            Summary = e.GetProperty("summary").GetString() ?? string.Empty,
            Evidence = e.TryGetProperty("evidence", out var ev) ? EvidenceFromElement(ev) : new Dictionary<string, object?>(),
            Status = status,
            StatusBy = OptionalString(e, "statusBy"),
            StatusAt = OptionalTime(e, "statusAt"),
            StatusNote = OptionalString(e, "statusNote"),
        };
    }

    private static Dictionary<string, object?> EvidenceFromElement(JsonElement element)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (element.ValueKind != JsonValueKind.Object)
        {
            return result;
        }
        foreach (var property in element.EnumerateObject())
        {
            result[property.Name] = property.Value.Clone();
        }
        return result;
    }

    /// <summary>Formats a time the way every Vigil output does: UTC, ISO-8601, milliseconds, 'Z'.</summary>
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    private static string? OptionalString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static DateTimeOffset? OptionalTime(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetDateTimeOffset() : null;
}
