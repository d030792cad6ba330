using Vigil.Core.Engine;

namespace Vigil.Storage.Tests;

public sealed class LocalDirectoryCheckpointStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vigil-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static byte[] Checkpoint(long id, byte payload)
    {
        using var writer = new CheckpointWriter(id, [new SourceOffset(0, id * 100)]);
        writer.WriteWatermarks(new WatermarkTracker(new WatermarkOptions(), TimeProvider.System));
        writer.WriteTimers(w => w.Write(payload));
        return writer.ToArray();
    }

    [Fact]
    public async Task LoadLatestAsync_AfterSaves_ReturnsNewest()
    {
        var store = new LocalDirectoryCheckpointStore(_root);
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
        var store = new LocalDirectoryCheckpointStore(_root, keep: 3);
        for (var id = 1; id <= 6; id++)
        {
            await store.SaveAsync("job", 0, id, Checkpoint(id, (byte)id), CancellationToken.None);
        }

        Assert.Equal([4L, 5L, 6L], await store.ListAsync("job", 0, CancellationToken.None));
        Assert.Empty(Directory.EnumerateFiles(_root, "*.tmp", SearchOption.AllDirectories));
        Assert.Equal(2, await store.PruneAsync("job", 0, 1, CancellationToken.None));
        Assert.Equal([6L], await store.ListAsync("job", 0, CancellationToken.None));
    }

    [Fact]
    public async Task LoadLatestAsync_NewestTornOrCorrupt_FallsBackToPrevious()
    {
        var store = new LocalDirectoryCheckpointStore(_root, keep: 5);
        await store.SaveAsync("job", 0, 1, Checkpoint(1, 1), CancellationToken.None);
        await store.SaveAsync("job", 0, 2, Checkpoint(2, 2), CancellationToken.None);
        await store.SaveAsync("job", 0, 3, Checkpoint(3, 3), CancellationToken.None);
        var dir = Path.Combine(_root, "job", "p0");
        var newest = Path.Combine(dir, "0000000000000000003.vgck");
        var torn = await File.ReadAllBytesAsync(newest);
        await File.WriteAllBytesAsync(newest, torn.AsSpan(0, torn.Length - 7).ToArray());
        var second = Path.Combine(dir, "0000000000000000002.vgck");
        var flipped = await File.ReadAllBytesAsync(second);
        flipped[20] ^= 1;
        await File.WriteAllBytesAsync(second, flipped);

        var latest = await store.LoadLatestAsync("job", 0, CancellationToken.None);

        Assert.NotNull(latest);
        Assert.Equal(1, latest.CheckpointId);
        Assert.Equal(2, store.CorruptFilesSkipped);
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
