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

    // The reads both stores share; jsonb and TEXT columns are read back as text through a portable CAST.
    private static readonly string PatternRead = PatternColumns.Replace("features", "CAST(features AS TEXT)", StringComparison.Ordinal);

    private static readonly string MetricsRead = MetricsColumns
        .Replace("parameters", "CAST(parameters AS TEXT)", StringComparison.Ordinal)
        .Replace("metrics", "CAST(metrics AS TEXT)", StringComparison.Ordinal);

    public static async Task<UserBehaviorPattern?> GetPatternAsync(DbConnection connection, string userId,
        Func<DbDataReader, int, DateTimeOffset> time, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {PatternRead} FROM user_behavior_patterns WHERE user_id = @user;";
        StatusWorkflow.Add(command, "@user", userId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadPattern(reader, time) : null;
    }

    public static async Task<IReadOnlyList<SegmentCount>> CountBySegmentAsync(DbConnection connection, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT segment, COUNT(*) FROM user_behavior_patterns GROUP BY segment;";
        var counts = new List<SegmentCount>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            counts.Add(new SegmentCount(reader.GetString(0), reader.GetInt64(1)));
        }
        return Sort(counts);
    }

    public static async Task<IReadOnlyList<UserBehaviorPattern>> ListInSegmentAsync(DbConnection connection, string segment, int limit,
        int offset, Func<DbDataReader, int, DateTimeOffset> time, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {PatternRead} FROM user_behavior_patterns WHERE segment = @segment ORDER BY user_id LIMIT @limit OFFSET @offset;";
        StatusWorkflow.Add(command, "@segment", segment);
        StatusWorkflow.Add(command, "@limit", Math.Clamp(limit, 0, 10_000));
        StatusWorkflow.Add(command, "@offset", Math.Max(0, offset));
        var result = new List<UserBehaviorPattern>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(ReadPattern(reader, time));
        }
        return result;
    }

    public static async Task<IReadOnlyList<ModelInfo>> RecentMetricsAsync(DbConnection connection, string? modelKind, int limit,
        Func<DbDataReader, int, DateTimeOffset> time, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        var filter = modelKind is null ? "" : " WHERE model_kind = @kind";
        command.CommandText = $"SELECT {MetricsRead} FROM ml_model_metrics{filter} ORDER BY trained_at DESC, id DESC LIMIT @limit;";
        if (modelKind is not null)
        {
            StatusWorkflow.Add(command, "@kind", modelKind);
        }
        StatusWorkflow.Add(command, "@limit", Math.Clamp(limit, 0, 10_000));
        var result = new List<ModelInfo>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(ReadMetrics(reader, time));
        }
        return result;
    }
}
