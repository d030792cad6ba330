using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Vigil.Core.Alerts;

namespace Vigil.Core.Ml;

/// <summary>One record of the <c>analytics-insights</c> topic (DESIGN §3): { insightId, kind, userId?, timestamp, payload }.</summary>
public sealed record Insight
{
    /// <summary>Deterministic, from the kind, the subject and the trigger (<see cref="MakeId"/>), so sinks can de-duplicate.</summary>
    public required string InsightId { get; init; }

    /// <summary>One of <see cref="InsightKinds"/>.</summary>
    public required string Kind { get; init; }

    public string? UserId { get; init; }

    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Kind-specific values (JSON-serialisable).</summary>
    public required IReadOnlyDictionary<string, object?> Payload { get; init; }

    /// <summary>The key on the topic: the user id, else the kind.</summary>
    public string Key => UserId ?? Kind;

    /// <summary>A stable id for (kind, subject, trigger), in UUID form.</summary>
    public static string MakeId(string kind, string subject, string trigger) => Alert.MakeId(kind, subject, trigger);
}

/// <summary>The kinds of insight Vigil emits.</summary>
public static class InsightKinds
{
    /// <summary>A user got a segment for the first time.</summary>
    public const string SegmentAssigned = "SEGMENT_ASSIGNED";

    /// <summary>A user moved to a segment with another name.</summary>
    public const string SegmentChanged = "SEGMENT_CHANGED";

    /// <summary>A model was trained and put into service.</summary>
    public const string ModelTrained = "MODEL_TRAINED";

    /// <summary>BEHAVIOR_ANOMALY's forest scored a user at or above the threshold (payload: anomalyScore, attribution, alertId).</summary>
    public const string BehaviorAnomaly = "BEHAVIOR_ANOMALY";
}

/// <summary>
/// Where insights go; the host wires it to the <c>analytics-insights</c> topic (and to user_behavior_patterns).
/// Called on the per-event path: an implementation must not block (queue and return).
/// </summary>
public interface IInsightSink
{
    void Publish(Insight insight);
}

/// <summary>The JSON form of an insight.</summary>
public static class InsightJson
{
    /// <summary>Writes the insight as one JSON object; payload keys in ordinal order so the bytes are stable.</summary>
    public static void Write(Utf8JsonWriter writer, Insight insight)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(insight);
        writer.WriteStartObject();
        writer.WriteString("insightId", insight.InsightId);
        writer.WriteString("kind", insight.Kind);
        if (insight.UserId is null)
        {
            writer.WriteNull("userId");
        }
        else
        {
            writer.WriteString("userId", insight.UserId);
        }
        writer.WriteString("timestamp", insight.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        writer.WritePropertyName("payload");
        AlertJson.WriteEvidence(writer, insight.Payload);
        writer.WriteEndObject();
    }

    /// <summary>The insight as UTF-8 JSON bytes.</summary>
    public static byte[] ToUtf8Bytes(Insight insight)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, insight);
        }
        return buffer.WrittenSpan.ToArray();
    }
}
