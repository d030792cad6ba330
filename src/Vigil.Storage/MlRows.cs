using System.Data.Common;
using System.Text.Json;
using Vigil.Core.Ml;

namespace Vigil.Storage;

/// <summary>Column lists and JSON conversions of user_behavior_patterns and ml_model_metrics, shared by both stores.</summary>
internal static class MlRows
{
    public const string PatternColumns = "user_id, segment, segment_index, model_version, features, anomaly_score, updated_at";

    public const string MetricsColumns = "model_kind, model_version, trained_at, sample_count, training_ms, parameters, metrics";

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, s_json);

    public static UserBehaviorPattern ReadPattern(DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> readTime) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetInt32(2),
        reader.GetInt32(3),
        JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(4), s_json) ?? [],
        reader.IsDBNull(5) ? null : reader.GetDouble(5),
        readTime(reader, 6));

    public static ModelInfo ReadMetrics(DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> readTime) => new(
        reader.GetString(0),
        reader.GetInt32(1),
        readTime(reader, 2),
        reader.GetInt32(3),
        reader.GetDouble(4),
        JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(5), s_json) ?? [],
        JsonSerializer.Deserialize<Dictionary<string, double?>>(reader.GetString(6), s_json) ?? []);

    /// <summary>Orders segment counts as the interface promises, whatever order the database returned.</summary>
    public static IReadOnlyList<SegmentCount> Sort(List<SegmentCount> counts)
    {
        counts.Sort((a, b) => a.Users != b.Users ? b.Users.CompareTo(a.Users) : string.CompareOrdinal(a.Segment, b.Segment));
        return counts;
    }
}
