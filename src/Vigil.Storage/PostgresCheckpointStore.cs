using Npgsql;
using Vigil.Core.Engine;

namespace Vigil.Storage;

/// <summary>
/// Checkpoints in PostgreSQL, the store for a cluster: every instance reads and writes the same table, so a partition's
/// state follows the partition to whichever instance the consumer group gives it.
/// </summary>
/// <remarks>
/// A save is one upsert, atomic by itself; a load walks from the newest row down and returns the first that verifies
/// (CRC), as the local store does, so a corrupt row costs one interval, not the job. Rows are pruned to the newest
/// <c>keep</c> per partition after each save.
/// </remarks>
public sealed class PostgresCheckpointStore : ICheckpointStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly int _keep;
    private readonly SemaphoreSlim _schema = new(1, 1);
    private bool _schemaReady;

    public PostgresCheckpointStore(string connectionString, int keep = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 2);
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _keep = keep;
    }

    /// <summary>Rows passed over by loads because they failed verification.</summary>
    public long CorruptRowsSkipped { get; private set; }

    public async Task SaveAsync(string jobId, int partition, long checkpointId, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        await EnsureSchemaAsync(ct);
        await using (var command = _dataSource.CreateCommand("""
            INSERT INTO checkpoints (job_id, partition_id, checkpoint_id, data, size_bytes, created_at)
            VALUES (@job, @partition, @id, @data, @size, now())
            ON CONFLICT (job_id, partition_id, checkpoint_id) DO UPDATE SET data = EXCLUDED.data, size_bytes = EXCLUDED.size_bytes, created_at = now();
            """))
        {
            command.Parameters.AddWithValue("job", jobId);
            command.Parameters.AddWithValue("partition", partition);
            command.Parameters.AddWithValue("id", checkpointId);
            command.Parameters.AddWithValue("data", data.ToArray());
            command.Parameters.AddWithValue("size", data.Length);
            await command.ExecuteNonQueryAsync(ct);
        }
        await PruneAsync(jobId, partition, _keep, ct);
    }

    public async Task<StoredCheckpoint?> LoadLatestAsync(string jobId, int partition, CancellationToken ct)
    {
        await EnsureSchemaAsync(ct);
        await using var command = _dataSource.CreateCommand(
            "SELECT checkpoint_id, data FROM checkpoints WHERE job_id = @job AND partition_id = @partition ORDER BY checkpoint_id DESC;");
        command.Parameters.AddWithValue("job", jobId);
        command.Parameters.AddWithValue("partition", partition);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetInt64(0);
            var data = (byte[])reader.GetValue(1);
            if (CheckpointReader.Verify(data) == CheckpointReadStatus.Ok)
            {
                return new StoredCheckpoint(jobId, partition, id, data);
            }
            CorruptRowsSkipped++;
        }
        return null;
    }

    public async Task<StoredCheckpoint?> LoadAsync(string jobId, int partition, long checkpointId, CancellationToken ct)
    {
        await EnsureSchemaAsync(ct);
        await using var command = _dataSource.CreateCommand(
            "SELECT data FROM checkpoints WHERE job_id = @job AND partition_id = @partition AND checkpoint_id = @id;");
        command.Parameters.AddWithValue("job", jobId);
        command.Parameters.AddWithValue("partition", partition);
        command.Parameters.AddWithValue("id", checkpointId);
        if (await command.ExecuteScalarAsync(ct) is not byte[] data)
        {
            return null;
        }
        if (CheckpointReader.Verify(data) != CheckpointReadStatus.Ok)
        {
            CorruptRowsSkipped++;
            return null;
        }
        return new StoredCheckpoint(jobId, partition, checkpointId, data);
    }

    public async Task<IReadOnlyList<long>> ListAsync(string jobId, int partition, CancellationToken ct)
    {
        await EnsureSchemaAsync(ct);
        await using var command = _dataSource.CreateCommand(
            "SELECT checkpoint_id FROM checkpoints WHERE job_id = @job AND partition_id = @partition ORDER BY checkpoint_id;");
        command.Parameters.AddWithValue("job", jobId);
        command.Parameters.AddWithValue("partition", partition);
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            ids.Add(reader.GetInt64(0));
        }
        return ids;
    }

    public async Task<int> PruneAsync(string jobId, int partition, int keep, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        await EnsureSchemaAsync(ct);
        await using var command = _dataSource.CreateCommand("""
            DELETE FROM checkpoints WHERE job_id = @job AND partition_id = @partition AND checkpoint_id NOT IN (
                SELECT checkpoint_id FROM checkpoints WHERE job_id = @job AND partition_id = @partition
                ORDER BY checkpoint_id DESC LIMIT @keep);
            """);
        command.Parameters.AddWithValue("job", jobId);
        command.Parameters.AddWithValue("partition", partition);
        command.Parameters.AddWithValue("keep", keep);
        return await command.ExecuteNonQueryAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        _schema.Dispose();
    }

    private async Task EnsureSchemaAsync(CancellationToken ct)
    {
        if (_schemaReady)
        {
            return;
        }
        await _schema.WaitAsync(ct);
        try
        {
            if (!_schemaReady)
            {
                // Its own table, created on first use: the checkpoint store can live in a database of its own.
                await using var command = _dataSource.CreateCommand("""
                    SELECT pg_advisory_lock(7231105);
                    CREATE TABLE IF NOT EXISTS checkpoints (
                        job_id        TEXT NOT NULL,
                        partition_id  INTEGER NOT NULL,
                        checkpoint_id BIGINT NOT NULL,
                        data          BYTEA NOT NULL,
                        size_bytes    INTEGER NOT NULL,
                        created_at    TIMESTAMPTZ NOT NULL,
                        PRIMARY KEY (job_id, partition_id, checkpoint_id)
                    );
                    SELECT pg_advisory_unlock(7231105);
                    """);
                await command.ExecuteNonQueryAsync(ct);
                _schemaReady = true;
            }
        }
        finally
        {
            _schema.Release();
        }
    }
}
