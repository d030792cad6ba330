using Vigil.Core.Engine;

namespace Vigil.Storage.Tests;

/// <summary>The contract both checkpoint stores meet, run against each.</summary>
public abstract class CheckpointStoreTests
{
    /// <summary>A store that keeps <paramref name="keep"/> checkpoints per partition.</summary>
    protected abstract Task<ICheckpointStore> CreateAsync(int keep);

    /// <summary>Replaces the stored bytes of one checkpoint, as a torn write or a bad disk would.</summary>
    protected abstract Task CorruptAsync(string jobId, int partition, long id, Func<byte[], byte[]> change);

    protected static byte[] Checkpoint(long id, byte payload)
    {
        using var writer = new CheckpointWriter(id, [new SourceOffset(0, id * 100)]);
        writer.WriteWatermarks(new WatermarkTracker(new WatermarkOptions(), TimeProvider.System));
        writer.WriteTimers(w => w.Write(payload));
        return writer.ToArray();
    }

    [Fact]
    public async Task LoadLatestAsync_AfterSaves_ReturnsNewest()
    {
        var store = await CreateAsync(3);
        await store.SaveAsync("job", 0, 1, Checkpoint(1, 1), CancellationToken.None);
        await store.SaveAsync("job", 0, 2, Checkpoint(2, 2), CancellationToken.None);
        await store.SaveAsync("job", 1, 9, Checkpoint(9, 9), CancellationToken.None);

        var latest = await store.LoadLatestAsync("job", 0, CancellationToken.None);

        Assert.NotNull(latest);
        Assert.Equal(2, latest.CheckpointId);
        Assert.Equal(Checkpoint(2, 2), latest.Data.ToArray());
        Assert.Null(await store.LoadLatestAsync("job", 5, CancellationToken.None));
        Assert.Null(await store.LoadLatestAsync("other", 0, CancellationToken.None));
    }

    [Fact]
    public async Task SaveAsync_MoreThanKeep_OldestPrunedAndNoTempFilesLeft()
    {
        var store = await CreateAsync(3);
        for (var id = 1; id <= 6; id++)
        {
            await store.SaveAsync("job", 0, id, Checkpoint(id, (byte)id), CancellationToken.None);
        }

        Assert.Equal([4L, 5L, 6L], await store.ListAsync("job", 0, CancellationToken.None));
        Assert.Equal(2, await store.PruneAsync("job", 0, 1, CancellationToken.None));
        Assert.Equal([6L], await store.ListAsync("job", 0, CancellationToken.None));
    }

    [Fact]
    public async Task LoadLatestAsync_NewestTornOrCorrupt_FallsBackToPrevious()
    {
        var store = await CreateAsync(5);
        await store.SaveAsync("job", 0, 1, Checkpoint(1, 1), CancellationToken.None);
        await store.SaveAsync("job", 0, 2, Checkpoint(2, 2), CancellationToken.None);
        await store.SaveAsync("job", 0, 3, Checkpoint(3, 3), CancellationToken.None);
        await CorruptAsync("job", 0, 3, torn => torn.AsSpan(0, torn.Length - 7).ToArray());
        await CorruptAsync("job", 0, 2, bytes =>
        {
            bytes[20] ^= 1;
            return bytes;
        });

        var latest = await store.LoadLatestAsync("job", 0, CancellationToken.None);

        Assert.NotNull(latest);
        Assert.Equal(1, latest.CheckpointId);
        Assert.Equal(Checkpoint(1, 1), latest.Data.ToArray());
    }

    [Fact]
    public async Task LoadAsync_ById_ReturnsThatCheckpointOrNull()
    {
        var store = await CreateAsync(3);
        await store.SaveAsync("job", 0, 1, Checkpoint(1, 1), CancellationToken.None);
        await store.SaveAsync("job", 0, 2, Checkpoint(2, 2), CancellationToken.None);
        await CorruptAsync("job", 0, 2, bytes => bytes.AsSpan(0, 10).ToArray());

        var first = await store.LoadAsync("job", 0, 1, CancellationToken.None);

        Assert.Equal(Checkpoint(1, 1), first!.Data.ToArray());
        Assert.Null(await store.LoadAsync("job", 0, 2, CancellationToken.None));
        Assert.Null(await store.LoadAsync("job", 0, 99, CancellationToken.None));
        Assert.Null(await store.LoadAsync("nojob", 3, 1, CancellationToken.None));
    }

    [Fact]
    public async Task SaveAsync_SameIdTwice_KeepsTheLastWrite()
    {
        var store = await CreateAsync(3);
        await store.SaveAsync("job", 2, 7, Checkpoint(7, 1), CancellationToken.None);
        await store.SaveAsync("job", 2, 7, Checkpoint(7, 2), CancellationToken.None);

        var latest = await store.LoadLatestAsync("job", 2, CancellationToken.None);

        Assert.Equal(Checkpoint(7, 2), latest!.Data.ToArray());
        Assert.Equal([7L], await store.ListAsync("job", 2, CancellationToken.None));
    }
}

public sealed class LocalDirectoryCheckpointStoreTests : CheckpointStoreTests, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vigil-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    protected override Task<ICheckpointStore> CreateAsync(int keep) =>
        Task.FromResult<ICheckpointStore>(new LocalDirectoryCheckpointStore(_root, keep));

    protected override async Task CorruptAsync(string jobId, int partition, long id, Func<byte[], byte[]> change)
    {
        var file = Path.Combine(_root, jobId, "p" + partition, id.ToString("D19", System.Globalization.CultureInfo.InvariantCulture) + ".vgck");
        await File.WriteAllBytesAsync(file, change(await File.ReadAllBytesAsync(file)));
    }

    [Fact]
    public async Task SaveAsync_Atomically_LeavesNoTempFiles()
    {
        var store = new LocalDirectoryCheckpointStore(_root, keep: 2);
        for (var id = 1; id <= 4; id++)
        {
            await store.SaveAsync("job", 0, id, Checkpoint(id, (byte)id), CancellationToken.None);
        }

        Assert.Empty(Directory.EnumerateFiles(_root, "*.tmp", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/b")]
    [InlineData("..")]
    public async Task SaveAsync_JobIdWithPathCharacters_Rejected(string jobId)
    {
        var store = new LocalDirectoryCheckpointStore(_root);
        await Assert.ThrowsAsync<ArgumentException>(() => store.SaveAsync(jobId, 0, 1, Checkpoint(1, 1), CancellationToken.None));
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresCheckpointStoreTests(PostgresServer server) : CheckpointStoreTests, IAsyncLifetime
{
    private readonly List<PostgresCheckpointStore> _stores = [];
    private string _connectionString = "";

    public async Task InitializeAsync() => _connectionString = await server.CreateDatabaseAsync();

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    protected override Task<ICheckpointStore> CreateAsync(int keep)
    {
        var store = new PostgresCheckpointStore(_connectionString, keep);
        _stores.Add(store);
        return Task.FromResult<ICheckpointStore>(store);
    }

    protected override async Task CorruptAsync(string jobId, int partition, long id, Func<byte[], byte[]> change)
    {
        await using var connection = new Npgsql.NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        byte[] bytes;
        await using (var read = new Npgsql.NpgsqlCommand("SELECT data FROM checkpoints WHERE job_id = @j AND partition_id = @p AND checkpoint_id = @i", connection))
        {
            read.Parameters.AddWithValue("j", jobId);
            read.Parameters.AddWithValue("p", partition);
            read.Parameters.AddWithValue("i", id);
            bytes = (byte[])(await read.ExecuteScalarAsync())!;
        }
        await using var write = new Npgsql.NpgsqlCommand("UPDATE checkpoints SET data = @d WHERE job_id = @j AND partition_id = @p AND checkpoint_id = @i", connection);
        write.Parameters.AddWithValue("d", change(bytes));
        write.Parameters.AddWithValue("j", jobId);
        write.Parameters.AddWithValue("p", partition);
        write.Parameters.AddWithValue("i", id);
        await write.ExecuteNonQueryAsync();
    }
}
