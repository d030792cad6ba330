using System.Data.Common;
using Microsoft.Data.Sqlite;
using Vigil.Core.Alerts;
using Vigil.Core.Events;
using Vigil.Core.Ml;

namespace Vigil.Storage;

/// <summary>
/// The embedded default store: one SQLite file in WAL mode. Times are stored as Unix milliseconds so that
/// range queries use the indexes.
/// </summary>
/// <remarks>SQLite takes one writer at a time. Writers here queue on <see cref="_writes"/> rather than on the file's
/// lock: a writer that finds the file locked gets SQLITE_BUSY, and Microsoft.Data.Sqlite retries it in 150 ms sleeps,
/// so an alert batch behind a batch of user segments waited 150–450 ms for a lock held for a fraction of that. Large
/// writes (segments, anomaly scores) commit in chunks of <see cref="WriteChunk"/> rows, so an alert batch waits for one
/// chunk at most. Readers are not gated: in WAL mode they never wait for the writer.</remarks>
public sealed class SqliteVigilStore : IVigilStore
{
    /// <summary>Rows per transaction of the large writes.</summary>
    internal const int WriteChunk = 256;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writes = new(1, 1);

    /// <summary>Opens (creating when missing) the database file at <paramref name="path"/>.</summary>
    public SqliteVigilStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Kind => "sqlite";

    public async Task MigrateAsync(CancellationToken ct)
    {
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: true, ct);
        await using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            await wal.ExecuteNonQueryAsync(ct);
        }
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);";
            await create.ExecuteNonQueryAsync(ct);
        }
        var current = 0L;
        await using (var read = connection.CreateCommand())
        {
            read.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version;";
            current = (long)(await read.ExecuteScalarAsync(ct))!;
        }
        foreach (var (version, sql) in Migrations.Sqlite)
        {
            if (version <= current)
            {
                continue;
            }
            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
            await using (var apply = connection.CreateCommand())
            {
                apply.Transaction = tx;
                apply.CommandText = sql;
                await apply.ExecuteNonQueryAsync(ct);
            }
            await using (var record = connection.CreateCommand())
            {
                record.Transaction = tx;
                record.CommandText = "INSERT INTO schema_version (version, applied_at) VALUES (@v, @t);";
                record.Parameters.AddWithValue("@v", version);
                record.Parameters.AddWithValue("@t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                await record.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
        }
    }

    public async Task<int> InsertAlertsAsync(IReadOnlyList<Alert> alerts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        if (alerts.Count == 0)
        {
            return 0;
        }
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: false, ct);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
        await using var insert = connection.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText = $"""
            INSERT INTO security_alerts ({AlertRows.InsertColumns})
            VALUES (@id, @rule, @severity, @user, @ip, @eventTime, @detectedAt, @windowStart, @windowEnd, @score, @summary, @evidence, @status)
            ON CONFLICT (alert_id) DO UPDATE SET evidence = excluded.evidence, window_end = excluded.window_end,
                score = excluded.score, summary = excluded.summary
            WHERE COALESCE(json_extract(excluded.evidence, '$.occurrences'), 1) > COALESCE(json_extract(security_alerts.evidence, '$.occurrences'), 1);
            """;
        var id = insert.Parameters.Add("@id", SqliteType.Text);
        var rule = insert.Parameters.Add("@rule", SqliteType.Text);
        var severity = insert.Parameters.Add("@severity", SqliteType.Integer);
        var user = insert.Parameters.Add("@user", SqliteType.Text);
        var ip = insert.Parameters.Add("@ip", SqliteType.Text);
        var eventTime = insert.Parameters.Add("@eventTime", SqliteType.Integer);
        var detectedAt = insert.Parameters.Add("@detectedAt", SqliteType.Integer);
        var windowStart = insert.Parameters.Add("@windowStart", SqliteType.Integer);
        var windowEnd = insert.Parameters.Add("@windowEnd", SqliteType.Integer);
        var score = insert.Parameters.Add("@score", SqliteType.Real);
        var summary = insert.Parameters.Add("@summary", SqliteType.Text);
        var evidence = insert.Parameters.Add("@evidence", SqliteType.Text);
        var status = insert.Parameters.Add("@status", SqliteType.Integer);
        await insert.PrepareAsync(ct);
        var inserted = 0;
        foreach (var alert in alerts)
        {
            id.Value = alert.AlertId;
            rule.Value = alert.Rule;
            severity.Value = (int)alert.Severity;
            user.Value = (object?)alert.UserId ?? DBNull.Value;
            ip.Value = (object?)alert.IpAddress ?? DBNull.Value;
            eventTime.Value = alert.EventTime.ToUnixTimeMilliseconds();
            detectedAt.Value = alert.DetectedAt.ToUnixTimeMilliseconds();
            windowStart.Value = alert.WindowStart is { } ws ? ws.ToUnixTimeMilliseconds() : DBNull.Value;
            windowEnd.Value = alert.WindowEnd is { } we ? we.ToUnixTimeMilliseconds() : DBNull.Value;
            score.Value = alert.Score;
            summary.Value = alert.Summary;
            evidence.Value = AlertJson.EvidenceToJson(alert.Evidence);
            status.Value = (int)alert.Status;
            inserted += await insert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return inserted;
    }

    public async Task<IReadOnlyList<Alert>> QueryAlertsAsync(AlertQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        var filter = AlertRows.BuildFilter(query, command, t => t.ToUnixTimeMilliseconds());
        command.CommandText = $"SELECT {AlertRows.Columns} FROM security_alerts{filter};";
        return await ReadAlertsAsync(command, ct);
    }

    public async Task<Alert?> GetAlertAsync(string alertId, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {AlertRows.Columns} FROM security_alerts WHERE alert_id = @id;";
        command.Parameters.AddWithValue("@id", alertId);
        var alerts = await ReadAlertsAsync(command, ct);
        return alerts.Count == 0 ? null : alerts[0];
    }

    public async Task<SeverityCounts> CountAlertsBySeverityAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT severity, COUNT(*) FROM security_alerts GROUP BY severity;";
        var counts = new long[5];
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var s = reader.GetInt32(0);
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
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: true, ct);
        return await StatusWorkflow.ChangeAsync(connection, alertId, to, actor, note, at, ToMs, FromMs, ct);
    }

    public async Task<long> DeleteExpiredAsync(DateTimeOffset alertsBefore, bool includeOpen, DateTimeOffset deadLettersBefore,
        DateTimeOffset auditBefore, CancellationToken ct)
    {
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: false, ct);
        return await StatusWorkflow.DeleteExpiredAsync(connection, alertsBefore, includeOpen, deadLettersBefore, auditBefore, ToMs, ct);
    }

    public async Task AppendAuditAsync(AuditEntry entry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entry);
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: true, ct);
        await StatusWorkflow.AppendAuditAsync(connection, entry, ToMs, ct);
    }

    public async Task<IReadOnlyList<AuditEntry>> RecentAuditAsync(int limit, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await StatusWorkflow.RecentAuditAsync(connection, limit, FromMs, ct);
    }

    public async Task<int> InsertDeadLettersAsync(IReadOnlyList<DeadLetter> letters, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(letters);
        if (letters.Count == 0)
        {
            return 0;
        }
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: false, ct);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
        await using var insert = connection.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText = $"""
            INSERT INTO dead_letters ({AlertRows.DeadLetterColumns})
            VALUES (@topic, @partition, @offset, @reason, @detail, @key, @raw, @rawLength, @receivedAt)
            ON CONFLICT (source_topic, partition_id, offset_value) WHERE offset_value >= 0 DO NOTHING;
            """;
        var topic = insert.Parameters.Add("@topic", SqliteType.Text);
        var partition = insert.Parameters.Add("@partition", SqliteType.Integer);
        var offset = insert.Parameters.Add("@offset", SqliteType.Integer);
        var reason = insert.Parameters.Add("@reason", SqliteType.Text);
        var detail = insert.Parameters.Add("@detail", SqliteType.Text);
        var key = insert.Parameters.Add("@key", SqliteType.Text);
        var raw = insert.Parameters.Add("@raw", SqliteType.Blob);
        var rawLength = insert.Parameters.Add("@rawLength", SqliteType.Integer);
        var receivedAt = insert.Parameters.Add("@receivedAt", SqliteType.Integer);
        var inserted = 0;
        foreach (var letter in letters)
        {
            topic.Value = letter.SourceTopic;
            partition.Value = letter.Partition;
            offset.Value = letter.Offset;
            reason.Value = letter.Reason;
            detail.Value = letter.Detail;
            key.Value = (object?)letter.Key ?? DBNull.Value;
            raw.Value = letter.Raw.ToArray();
            rawLength.Value = letter.RawLength;
            receivedAt.Value = letter.ReceivedAt.ToUnixTimeMilliseconds();
            inserted += await insert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return inserted;
    }

    public async Task<long> CountDeadLettersAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM dead_letters;";
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task<IReadOnlyList<DeadLetter>> RecentDeadLettersAsync(int limit, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {AlertRows.DeadLetterColumns} FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT @limit;";
        command.Parameters.AddWithValue("@limit", Math.Clamp(limit, 0, 10_000));
        var result = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(AlertRows.ReadDeadLetter(reader, FromMs));
        }
        return result;
    }

    public async Task<int> UpsertUserBehaviorPatternsAsync(IReadOnlyList<UserBehaviorPattern> patterns, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        return await InChunksAsync(patterns.Count, (start, count) => UpsertPatternsAsync(patterns, start, count, ct));
    }

    private async Task<int> UpsertPatternsAsync(IReadOnlyList<UserBehaviorPattern> patterns, int start, int count, CancellationToken ct)
    {
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: false, ct);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
        await using var upsert = connection.CreateCommand();
        upsert.Transaction = tx;
        upsert.CommandText = $"""
            INSERT INTO user_behavior_patterns ({MlRows.PatternColumns})
            VALUES (@user, @segment, @index, @version, @features, @score, @updatedAt)
            ON CONFLICT (user_id) DO UPDATE SET
                segment = excluded.segment, segment_index = excluded.segment_index, model_version = excluded.model_version,
                features = excluded.features, anomaly_score = COALESCE(excluded.anomaly_score, user_behavior_patterns.anomaly_score),
                updated_at = excluded.updated_at
            WHERE excluded.updated_at >= user_behavior_patterns.updated_at;
            """;
        var user = upsert.Parameters.Add("@user", SqliteType.Text);
        var segment = upsert.Parameters.Add("@segment", SqliteType.Text);
        var index = upsert.Parameters.Add("@index", SqliteType.Integer);
        var version = upsert.Parameters.Add("@version", SqliteType.Integer);
        var features = upsert.Parameters.Add("@features", SqliteType.Text);
        var score = upsert.Parameters.Add("@score", SqliteType.Real);
        var updatedAt = upsert.Parameters.Add("@updatedAt", SqliteType.Integer);
        await upsert.PrepareAsync(ct);
        var written = 0;
        for (var i = start; i < start + count; i++)
        {
            var p = patterns[i];
            user.Value = p.UserId;
            segment.Value = p.Segment;
            index.Value = p.SegmentIndex;
            version.Value = p.ModelVersion;
            features.Value = MlRows.ToJson(p.Features);
            score.Value = p.AnomalyScore is { } s ? s : DBNull.Value;
            updatedAt.Value = p.UpdatedAt.ToUnixTimeMilliseconds();
            written += await upsert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return written;
    }

    public async Task<int> SetAnomalyScoresAsync(IReadOnlyList<UserAnomalyScore> scores, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var latest = LatestScores(scores).Values.ToList();
        return await InChunksAsync(latest.Count, (start, count) => SetScoresAsync(latest, start, count, ct));
    }

    /// <summary>Runs <paramref name="write"/> over rows [start, start + count) of <paramref name="rows"/> rows, at most
    /// <see cref="WriteChunk"/> at a time, each in its own writer turn; the rows written, summed.</summary>
    private static async Task<int> InChunksAsync(int rows, Func<int, int, Task<int>> write)
    {
        var written = 0;
        for (var start = 0; start < rows; start += WriteChunk)
        {
            written += await write(start, Math.Min(WriteChunk, rows - start));
        }
        return written;
    }

    private async Task<int> SetScoresAsync(List<UserAnomalyScore> latest, int start, int count, CancellationToken ct)
    {
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: false, ct);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
        await using var update = connection.CreateCommand();
        update.Transaction = tx;
        update.CommandText = "UPDATE user_behavior_patterns SET anomaly_score = @score WHERE user_id = @user;";
        var user = update.Parameters.Add("@user", SqliteType.Text);
        var score = update.Parameters.Add("@score", SqliteType.Real);
        await update.PrepareAsync(ct);
        var written = 0;
        for (var i = start; i < start + count; i++)
        {
            var s = latest[i];
            user.Value = s.UserId;
            score.Value = s.Score;
            written += await update.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return written;
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
        await using var connection = await OpenAsync(ct);
        return await MlRows.GetPatternAsync(connection, userId, FromMs, ct);
    }

    public async Task<IReadOnlyList<SegmentCount>> CountUsersBySegmentAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await MlRows.CountBySegmentAsync(connection, ct);
    }

    public async Task<IReadOnlyList<UserBehaviorPattern>> ListUsersInSegmentAsync(string segment, int limit, int offset, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await MlRows.ListInSegmentAsync(connection, segment, limit, offset, FromMs, ct);
    }

    public async Task<bool> InsertModelMetricsAsync(ModelInfo model, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: true, ct);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO ml_model_metrics ({MlRows.MetricsColumns})
            VALUES (@kind, @version, @trainedAt, @samples, @ms, @parameters, @metrics)
            ON CONFLICT (model_kind, model_version) DO NOTHING;
            """;
        command.Parameters.AddWithValue("@kind", model.Kind);
        command.Parameters.AddWithValue("@version", model.Version);
        command.Parameters.AddWithValue("@trainedAt", model.TrainedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("@samples", model.SampleCount);
        command.Parameters.AddWithValue("@ms", model.TrainingMs);
        command.Parameters.AddWithValue("@parameters", MlRows.ToJson(model.Parameters));
        command.Parameters.AddWithValue("@metrics", MlRows.ToJson(model.Metrics));
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<IReadOnlyList<ModelInfo>> RecentModelMetricsAsync(string? modelKind, int limit, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await MlRows.RecentMetricsAsync(connection, modelKind, limit, FromMs, ct);
    }

    /// <summary>
    /// Commits one small write with <c>synchronous = FULL</c>: its fsync of the write-ahead log takes every frame
    /// before it to the disk, so every commit made so far, at any level, is durable when this returns.
    /// </summary>
    public async Task SyncAsync(CancellationToken ct)
    {
        using var turn = await WriteTurnAsync(ct);
        await using var connection = await OpenWriterAsync(durable: true, ct);
        await using var mark = connection.CreateCommand();
        mark.CommandText = "INSERT INTO sync_mark (id, at) VALUES (1, @at) ON CONFLICT (id) DO UPDATE SET at = excluded.at;";
        mark.Parameters.AddWithValue("@at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await mark.ExecuteNonQueryAsync(ct);
    }

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = await OpenAsync(ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1;";
            return Equals(await command.ExecuteScalarAsync(ct), 1L);
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open; release them so the file can be deleted or moved.
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits for this store's writer turn; dispose the result to give it up.</summary>
    private async Task<WriteTurn> WriteTurnAsync(CancellationToken ct)
    {
        await _writes.WaitAsync(ct);
        return new WriteTurn(_writes);
    }

    private readonly struct WriteTurn(SemaphoreSlim writes) : IDisposable
    {
        public void Dispose() => writes.Release();
    }

    /// <summary>
    /// A connection for a write, in the writer's turn. <paramref name="durable"/>: its commits wait for the disk
    /// (<c>synchronous = FULL</c>), for what no checkpoint syncs later (status changes, audit, model records,
    /// migrations). Otherwise a commit reaches the operating system but not necessarily the disk
    /// (<c>NORMAL</c>: in WAL mode it survives a crash of the process, and the database stays consistent whatever
    /// happens), and <see cref="SyncAsync"/> makes it durable; for the sinks' batches, so a busy sink does not
    /// wait for an fsync per batch.
    /// </summary>
    private async Task<SqliteConnection> OpenWriterAsync(bool durable, CancellationToken ct)
    {
        var connection = await OpenAsync(ct);
        try
        {
            await using var mode = connection.CreateCommand();
            // Per connection, and pooled connections keep it: set for every use.
            mode.CommandText = durable ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
            await mode.ExecuteNonQueryAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct);
        return connection;
    }

    private static async Task<IReadOnlyList<Alert>> ReadAlertsAsync(DbCommand command, CancellationToken ct)
    {
        var result = new List<Alert>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(AlertRows.Read(reader, FromMs));
        }
        return result;
    }

    private static object ToMs(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(DbDataReader reader, int ordinal) =>
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));
}
