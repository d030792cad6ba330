using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using Vigil.Core.Alerts;
using Vigil.Core.Events;
using Vigil.Core.Ml;

namespace Vigil.Storage;

/// <summary>
/// The PostgreSQL store. Small batches go in as arrays through one <c>INSERT … SELECT FROM unnest(…)</c> statement;
/// large ones (<see cref="CopyThreshold"/> rows or more) are streamed with binary <c>COPY</c> into a session-local
/// staging table and merged from there with one <c>INSERT … SELECT … ON CONFLICT</c>, in one transaction. Either
/// way <c>ON CONFLICT</c> makes replays idempotent and a suppression update wins only with a higher occurrence count.
/// </summary>
/// <param name="connectionString">An Npgsql connection string.</param>
/// <param name="copyThreshold">Batches of at least this many rows go through COPY; <see cref="int.MaxValue"/> never.</param>
public sealed class PostgresVigilStore(string connectionString, int copyThreshold = PostgresVigilStore.CopyThreshold) : IVigilStore
{
    /// <summary>The default batch size from which rows go through binary COPY and a staging table.</summary>
    /// <remarks>Measured (StoreBenchmarks, alerts into the indexed table): COPY plus the staging merge costs 2.2× the
    /// unnest statement at 100 rows and 1.3× at 1,000 (the alert sink's largest batch), and breaks even around 10,000.
    /// Its gain is on bulk writes such as a retrain's pattern upsert for every user.</remarks>
    public const int CopyThreshold = 5000;

    private const string AlertMerge = """
        ON CONFLICT (alert_id) DO UPDATE SET evidence = EXCLUDED.evidence, window_end = EXCLUDED.window_end,
            score = EXCLUDED.score, summary = EXCLUDED.summary
        WHERE COALESCE((EXCLUDED.evidence->>'occurrences')::int, 1) > COALESCE((security_alerts.evidence->>'occurrences')::int, 1)
        """;

    private const string PatternMerge = """
        ON CONFLICT (user_id) DO UPDATE SET
            segment = excluded.segment, segment_index = excluded.segment_index, model_version = excluded.model_version,
            features = excluded.features, anomaly_score = COALESCE(excluded.anomaly_score, user_behavior_patterns.anomaly_score),
            updated_at = excluded.updated_at
        WHERE excluded.updated_at >= user_behavior_patterns.updated_at
        """;

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public string Kind => "postgresql";

    public async Task MigrateAsync(CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // One migrator at a time across instances: the advisory lock is released with the transaction.
        await Execute(connection, tx, "SELECT pg_advisory_xact_lock(7231104);", ct);
        await Execute(connection, tx,
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());", ct);
        int current;
        await using (var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_version;", connection, tx))
        {
            current = (int)(await read.ExecuteScalarAsync(ct))!;
        }
        foreach (var (version, sql) in Migrations.Postgres)
        {
            if (version <= current)
            {
                continue;
            }
            await Execute(connection, tx, sql, ct);
            await using var record = new NpgsqlCommand("INSERT INTO schema_version (version) VALUES (@v);", connection, tx);
            record.Parameters.AddWithValue("v", version);
            await record.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    public async Task<int> InsertAlertsAsync(IReadOnlyList<Alert> alerts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        if (alerts.Count == 0)
        {
            return 0;
        }
        // One statement cannot touch a row twice, and a batch may hold an alert and its suppression updates: keep the
        // last of each id, which carries the highest count.
        var latest = new Dictionary<string, Alert>(alerts.Count, StringComparer.Ordinal);
        var order = new List<string>(alerts.Count);
        foreach (var alert in alerts)
        {
            if (!latest.ContainsKey(alert.AlertId))
            {
                order.Add(alert.AlertId);
            }
            latest[alert.AlertId] = alert;
        }
        if (order.Count != alerts.Count)
        {
            var unique = new List<Alert>(order.Count);
            foreach (var id in order)
            {
                unique.Add(latest[id]);
            }
            alerts = unique;
        }
        if (alerts.Count >= copyThreshold)
        {
            return await CopyAlertsAsync(alerts, ct);
        }
        var n = alerts.Count;
        var ids = new string[n];
        var rules = new string[n];
        var severities = new short[n];
        var users = new string?[n];
        var ips = new string?[n];
        var eventTimes = new DateTime[n];
        var detectedAts = new DateTime[n];
        var windowStarts = new DateTime?[n];
        var windowEnds = new DateTime?[n];
        var scores = new double[n];
        var summaries = new string[n];
        var evidence = new string[n];
        var statuses = new short[n];
        for (var i = 0; i < n; i++)
        {
            var a = alerts[i];
            ids[i] = a.AlertId;
            rules[i] = a.Rule;
            severities[i] = (short)a.Severity;
            users[i] = a.UserId;
            ips[i] = a.IpAddress;
            eventTimes[i] = a.EventTime.UtcDateTime;
            detectedAts[i] = a.DetectedAt.UtcDateTime;
            windowStarts[i] = a.WindowStart?.UtcDateTime;
            windowEnds[i] = a.WindowEnd?.UtcDateTime;
            scores[i] = a.Score;
            summaries[i] = a.Summary;
            evidence[i] = AlertJson.EvidenceToJson(a.Evidence);
            statuses[i] = (short)a.Status;
        }
        await using var command = _dataSource.CreateCommand($"""
            INSERT INTO security_alerts ({AlertRows.InsertColumns})
            SELECT id, rule, sev, usr, ip, et, da, ws, we, score, summary, ev::jsonb, st
            FROM unnest(@ids, @rules, @sev, @users, @ips, @et, @da, @ws, @we, @scores, @summaries, @ev, @st)
                AS t(id, rule, sev, usr, ip, et, da, ws, we, score, summary, ev, st)
            {AlertMerge};
            """);
        command.Parameters.Add(new NpgsqlParameter<string[]>("ids", ids));
        command.Parameters.Add(new NpgsqlParameter<string[]>("rules", rules));
        command.Parameters.Add(new NpgsqlParameter<short[]>("sev", severities));
        command.Parameters.Add(new NpgsqlParameter("users", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = users });
        command.Parameters.Add(new NpgsqlParameter("ips", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = ips });
        command.Parameters.Add(new NpgsqlParameter("et", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = eventTimes });
        command.Parameters.Add(new NpgsqlParameter("da", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = detectedAts });
        command.Parameters.Add(new NpgsqlParameter("ws", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = windowStarts });
        command.Parameters.Add(new NpgsqlParameter("we", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = windowEnds });
        command.Parameters.Add(new NpgsqlParameter<double[]>("scores", scores));
        command.Parameters.Add(new NpgsqlParameter<string[]>("summaries", summaries));
        command.Parameters.Add(new NpgsqlParameter<string[]>("ev", evidence));
        command.Parameters.Add(new NpgsqlParameter<short[]>("st", statuses));
        return await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<Alert>> QueryAlertsAsync(AlertQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = _dataSource.CreateCommand();
        var filter = AlertRows.BuildFilter(query, command, t => t.UtcDateTime);
        command.CommandText = $"SELECT {SelectColumns} FROM security_alerts{filter};";
        return await ReadAlertsAsync(command, ct);
    }

    public async Task<Alert?> GetAlertAsync(string alertId, CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand($"SELECT {SelectColumns} FROM security_alerts WHERE alert_id = @id;");
        command.Parameters.AddWithValue("id", alertId);
        var alerts = await ReadAlertsAsync(command, ct);
        return alerts.Count == 0 ? null : alerts[0];
    }

    public async Task<SeverityCounts> CountAlertsBySeverityAsync(CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand("SELECT severity, COUNT(*) FROM security_alerts GROUP BY severity;");
        var counts = new long[5];
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var s = reader.GetInt16(0);
            if (s is >= 1 and <= 4)
            {
                counts[s] = reader.GetInt64(1);
            }
        }
        return new SeverityCounts(counts[1], counts[2], counts[3], counts[4]);
    }

    public async Task<(StatusChangeOutcome Outcome, Alert? Alert)> ChangeAlertStatusAsync(string alertId, AlertStatus to, string actor,
        string? note, DateTimeOffset at, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await StatusWorkflow.ChangeAsync(connection, alertId, to, actor, note, at, ToTimestamp, FromTimestamp, ct);
    }

    public async Task<long> DeleteExpiredAsync(DateTimeOffset alertsBefore, bool includeOpen, DateTimeOffset deadLettersBefore,
        DateTimeOffset auditBefore, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await StatusWorkflow.DeleteExpiredAsync(connection, alertsBefore, includeOpen, deadLettersBefore, auditBefore, ToTimestamp, ct);
    }

    public async Task AppendAuditAsync(AuditEntry entry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await StatusWorkflow.AppendAuditAsync(connection, entry, ToTimestamp, ct);
    }

    public async Task<IReadOnlyList<AuditEntry>> RecentAuditAsync(int limit, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await StatusWorkflow.RecentAuditAsync(connection, limit, FromTimestamp, ct);
    }

    public async Task<int> InsertDeadLettersAsync(IReadOnlyList<DeadLetter> letters, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(letters);
        if (letters.Count == 0)
        {
            return 0;
        }
        var inserted = 0;
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(connection);
        foreach (var letter in letters)
        {
            var command = new NpgsqlBatchCommand($"""
                INSERT INTO dead_letters ({AlertRows.DeadLetterColumns})
                VALUES (@topic, @partition, @offset, @reason, @detail, @key, @raw, @rawLength, @receivedAt)
                ON CONFLICT (source_topic, partition_id, offset_value) WHERE offset_value >= 0 DO NOTHING;
                """);
            command.Parameters.AddWithValue("topic", letter.SourceTopic);
            command.Parameters.AddWithValue("partition", letter.Partition);
            command.Parameters.AddWithValue("offset", letter.Offset);
            command.Parameters.AddWithValue("reason", letter.Reason);
            command.Parameters.AddWithValue("detail", letter.Detail);
            command.Parameters.Add(new NpgsqlParameter("key", NpgsqlDbType.Text) { Value = (object?)letter.Key ?? DBNull.Value });
            command.Parameters.AddWithValue("raw", letter.Raw.ToArray());
            command.Parameters.AddWithValue("rawLength", letter.RawLength);
            command.Parameters.AddWithValue("receivedAt", letter.ReceivedAt.UtcDateTime);
            batch.BatchCommands.Add(command);
        }
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.CloseAsync();
        foreach (var command in batch.BatchCommands)
        {
            inserted += command.RecordsAffected;
        }
        return inserted;
    }

    public async Task<long> CountDeadLettersAsync(CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand("SELECT COUNT(*) FROM dead_letters;");
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task<IReadOnlyList<DeadLetter>> RecentDeadLettersAsync(int limit, CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand(
            $"SELECT {AlertRows.DeadLetterColumns} FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT @limit;");
        command.Parameters.AddWithValue("limit", Math.Clamp(limit, 0, 10_000));
        var result = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(AlertRows.ReadDeadLetter(reader, FromTimestamp));
        }
        return result;
    }

    public async Task<int> UpsertUserBehaviorPatternsAsync(IReadOnlyList<UserBehaviorPattern> patterns, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        if (patterns.Count == 0)
        {
            return 0;
        }
        // Several updates of one user in a batch: keep the newest, since one statement cannot touch a row twice.
        var newest = new Dictionary<string, UserBehaviorPattern>(StringComparer.Ordinal);
        foreach (var p in patterns)
        {
            if (!newest.TryGetValue(p.UserId, out var seen) || p.UpdatedAt >= seen.UpdatedAt)
            {
                newest[p.UserId] = p;
            }
        }
        if (newest.Count >= copyThreshold)
        {
            return await CopyPatternsAsync(newest.Values, ct);
        }
        var n = newest.Count;
        var users = new string[n];
        var segments = new string[n];
        var indexes = new int[n];
        var versions = new int[n];
        var features = new string[n];
        var scores = new double?[n];
        var times = new DateTime[n];
        var i = 0;
        foreach (var p in newest.Values)
        {
            users[i] = p.UserId;
            segments[i] = p.Segment;
            indexes[i] = p.SegmentIndex;
            versions[i] = p.ModelVersion;
            features[i] = MlRows.ToJson(p.Features);
            scores[i] = p.AnomalyScore;
            times[i] = p.UpdatedAt.UtcDateTime;
            i++;
        }
        await using var command = _dataSource.CreateCommand($"""
            INSERT INTO user_behavior_patterns ({MlRows.PatternColumns})
            SELECT u, s, ix, v, f::jsonb, sc, t
            FROM unnest(@users, @segments, @indexes, @versions, @features, @scores, @times) AS x(u, s, ix, v, f, sc, t)
            {PatternMerge};
            """);
        command.Parameters.Add(new NpgsqlParameter<string[]>("users", users));
        command.Parameters.Add(new NpgsqlParameter<string[]>("segments", segments));
        command.Parameters.Add(new NpgsqlParameter<int[]>("indexes", indexes));
        command.Parameters.Add(new NpgsqlParameter<int[]>("versions", versions));
        command.Parameters.Add(new NpgsqlParameter<string[]>("features", features));
        command.Parameters.Add(new NpgsqlParameter("scores", NpgsqlDbType.Array | NpgsqlDbType.Double) { Value = scores });
        command.Parameters.Add(new NpgsqlParameter("times", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = times });
        return await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<int> SetAnomalyScoresAsync(IReadOnlyList<UserAnomalyScore> scores, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0)
        {
            return 0;
        }
        var latest = LatestScores(scores);
        var users = new string[latest.Count];
        var values = new double[latest.Count];
        var i = 0;
        foreach (var s in latest.Values)
        {
            users[i] = s.UserId;
            values[i] = s.Score;
            i++;
        }
        await using var command = _dataSource.CreateCommand("""
            UPDATE user_behavior_patterns AS p SET anomaly_score = x.sc
            FROM unnest(@users, @scores) AS x(u, sc)
            WHERE p.user_id = x.u;
            """);
        command.Parameters.Add(new NpgsqlParameter<string[]>("users", users));
        command.Parameters.Add(new NpgsqlParameter<double[]>("scores", values));
        return await command.ExecuteNonQueryAsync(ct);
    }

    private static Dictionary<string, UserAnomalyScore> LatestScores(IReadOnlyList<UserAnomalyScore> scores)
    {
        var latest = new Dictionary<string, UserAnomalyScore>(StringComparer.Ordinal);
        foreach (var s in scores)
        {
            if (!latest.TryGetValue(s.UserId, out var seen) || s.At >= seen.At)
            {
                latest[s.UserId] = s;
            }
        }
        return latest;
    }

    public async Task<UserBehaviorPattern?> GetUserBehaviorPatternAsync(string userId, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await MlRows.GetPatternAsync(connection, userId, FromTimestamp, ct);
    }

    public async Task<IReadOnlyList<SegmentCount>> CountUsersBySegmentAsync(CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await MlRows.CountBySegmentAsync(connection, ct);
    }

    public async Task<IReadOnlyList<UserBehaviorPattern>> ListUsersInSegmentAsync(string segment, int limit, int offset, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await MlRows.ListInSegmentAsync(connection, segment, limit, offset, FromTimestamp, ct);
    }

    public async Task<bool> InsertModelMetricsAsync(ModelInfo model, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(model);
        await using var command = _dataSource.CreateCommand($"""
            INSERT INTO ml_model_metrics ({MlRows.MetricsColumns})
            VALUES (@kind, @version, @trainedAt, @samples, @ms, @parameters::jsonb, @metrics::jsonb)
            ON CONFLICT (model_kind, model_version) DO NOTHING;
            """);
        command.Parameters.AddWithValue("kind", model.Kind);
        command.Parameters.AddWithValue("version", model.Version);
        command.Parameters.AddWithValue("trainedAt", model.TrainedAt.UtcDateTime);
        command.Parameters.AddWithValue("samples", model.SampleCount);
        command.Parameters.AddWithValue("ms", model.TrainingMs);
        command.Parameters.AddWithValue("parameters", MlRows.ToJson(model.Parameters));
        command.Parameters.AddWithValue("metrics", MlRows.ToJson(model.Metrics));
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<IReadOnlyList<ModelInfo>> RecentModelMetricsAsync(string? modelKind, int limit, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await MlRows.RecentMetricsAsync(connection, modelKind, limit, FromTimestamp, ct);
    }

    /// <summary>Nothing to do: every commit has waited for the server's write-ahead log to reach the disk
    /// (<c>synchronous_commit</c> on, the server's default).</summary>
    public Task SyncAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        try
        {
            await using var command = _dataSource.CreateCommand("SELECT 1;");
            return Equals(await command.ExecuteScalarAsync(ct), 1);
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();


    // evidence is jsonb; read it back as text so both stores map rows the same way.
    private static readonly string SelectColumns = AlertRows.Columns.Replace("evidence", "evidence::text", StringComparison.Ordinal);

    /// <summary>Alerts (one per id) through binary COPY into a staging table, merged with the same rule as the small path.</summary>
    private async Task<int> CopyAlertsAsync(IReadOnlyList<Alert> alerts, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // Temporary and emptied at commit: private to this session, no WAL, nothing left behind for the next batch.
        await Execute(connection, tx, """
            CREATE TEMP TABLE IF NOT EXISTS alerts_staging (
                alert_id TEXT, rule TEXT, severity SMALLINT, user_id TEXT, ip_address TEXT, event_time TIMESTAMPTZ,
                detected_at TIMESTAMPTZ, window_start TIMESTAMPTZ, window_end TIMESTAMPTZ, score DOUBLE PRECISION,
                summary TEXT, evidence JSONB, status SMALLINT) ON COMMIT DELETE ROWS;
            """, ct);
        await using (var copy = await connection.BeginBinaryImportAsync(
            $"COPY alerts_staging ({AlertRows.InsertColumns}) FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var a in alerts)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(a.AlertId, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(a.Rule, NpgsqlDbType.Text, ct);
                await copy.WriteAsync((short)a.Severity, NpgsqlDbType.Smallint, ct);
                await WriteNullableAsync(copy, a.UserId, NpgsqlDbType.Text, ct);
                await WriteNullableAsync(copy, a.IpAddress, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(a.EventTime.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(a.DetectedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await WriteNullableAsync(copy, a.WindowStart?.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await WriteNullableAsync(copy, a.WindowEnd?.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(a.Score, NpgsqlDbType.Double, ct);
                await copy.WriteAsync(a.Summary, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(AlertJson.EvidenceToJson(a.Evidence), NpgsqlDbType.Jsonb, ct);
                await copy.WriteAsync((short)a.Status, NpgsqlDbType.Smallint, ct);
            }
            await copy.CompleteAsync(ct);
        }
        int changed;
        await using (var merge = new NpgsqlCommand($"""
            INSERT INTO security_alerts ({AlertRows.InsertColumns})
            SELECT {AlertRows.InsertColumns} FROM alerts_staging
            {AlertMerge};
            """, connection, tx))
        {
            changed = await merge.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return changed;
    }

    /// <summary>Patterns (one per user) through binary COPY into a staging table, merged with the same rule as the small path.</summary>
    private async Task<int> CopyPatternsAsync(IEnumerable<UserBehaviorPattern> patterns, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await Execute(connection, tx, """
            CREATE TEMP TABLE IF NOT EXISTS patterns_staging (
                user_id TEXT, segment TEXT, segment_index INTEGER, model_version INTEGER, features JSONB,
                anomaly_score DOUBLE PRECISION, updated_at TIMESTAMPTZ) ON COMMIT DELETE ROWS;
            """, ct);
        await using (var copy = await connection.BeginBinaryImportAsync(
            $"COPY patterns_staging ({MlRows.PatternColumns}) FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var p in patterns)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(p.UserId, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(p.Segment, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(p.SegmentIndex, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(p.ModelVersion, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(MlRows.ToJson(p.Features), NpgsqlDbType.Jsonb, ct);
                await WriteNullableAsync(copy, p.AnomalyScore, NpgsqlDbType.Double, ct);
                await copy.WriteAsync(p.UpdatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            }
            await copy.CompleteAsync(ct);
        }
        int changed;
        await using (var merge = new NpgsqlCommand($"""
            INSERT INTO user_behavior_patterns ({MlRows.PatternColumns})
            SELECT {MlRows.PatternColumns} FROM patterns_staging
            {PatternMerge};
            """, connection, tx))
        {
            changed = await merge.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return changed;
    }

    private static async Task WriteNullableAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken ct)
    {
        if (value is null)
        {
            await copy.WriteNullAsync(ct);
        }
        else
        {
            await copy.WriteAsync(value, type, ct);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<IReadOnlyList<Alert>> ReadAlertsAsync(DbCommand command, CancellationToken ct)
    {
        var result = new List<Alert>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(AlertRows.Read(reader, FromTimestamp));
        }
        return result;
    }

    private static object ToTimestamp(DateTimeOffset time) => time.UtcDateTime;

    private static DateTimeOffset FromTimestamp(DbDataReader reader, int ordinal) =>
        new(DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc));
}
