using System.Globalization;
using Vigil.Core.Engine;

namespace Vigil.Storage;

/// <summary>
/// Checkpoints as files under a directory: <c>{root}/{jobId}/p{partition}/{checkpointId:D19}.vgck</c>, the
/// single-machine checkpoint store.
/// </summary>
/// <remarks>
/// A save writes a temporary file in the same directory, flushes it to the disk, then renames it over the final name,
/// so a reader sees a whole checkpoint or none; then it prunes to the newest <c>keep</c>. A load walks from the newest
/// file down and returns the first whose CRC verifies, so a torn or corrupted file (a crash mid-write on a file
/// system that reorders, a bad disk) costs one checkpoint interval, not the job. The directory entry itself is not
/// fsynced (.NET has no portable way); after a power cut the newest rename may be lost, and the previous
/// checkpoint is used.
/// </remarks>
public sealed class LocalDirectoryCheckpointStore : ICheckpointStore
{
    private const string Extension = ".vgck";
    private readonly string _root;
    private readonly int _keep;

    /// <param name="root">The directory; created when missing.</param>
    /// <param name="keep">Checkpoints kept per partition after each save (at least 2, so a corrupt newest one has a fallback).</param>
    public LocalDirectoryCheckpointStore(string root, int keep = 3)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 2);
        _root = Path.GetFullPath(root);
        _keep = keep;
        Directory.CreateDirectory(_root);
    }

    /// <summary>Files passed over by loads because they failed verification.</summary>
    public long CorruptFilesSkipped { get; private set; }

    public async Task SaveAsync(string jobId, int partition, long checkpointId, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(checkpointId);
        var directory = PartitionDirectory(jobId, partition);
        Directory.CreateDirectory(directory);
        var final = Path.Combine(directory, FileName(checkpointId));
        var temp = Path.Combine(directory, "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(data, ct).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        await PruneAsync(jobId, partition, _keep, ct).ConfigureAwait(false);
    }

    public async Task<StoredCheckpoint?> LoadLatestAsync(string jobId, int partition, CancellationToken ct)
    {
        var ids = await ListAsync(jobId, partition, ct).ConfigureAwait(false);
        var directory = PartitionDirectory(jobId, partition);
        for (var i = ids.Count - 1; i >= 0; i--)
        {
            byte[] data;
            try
            {
                data = await File.ReadAllBytesAsync(Path.Combine(directory, FileName(ids[i])), ct).ConfigureAwait(false);
            }
            catch (FileNotFoundException)
            {
                continue; // pruned by a concurrent save
            }
            if (CheckpointReader.Verify(data) == CheckpointReadStatus.Ok)
            {
                return new StoredCheckpoint(jobId, partition, ids[i], data);
            }
            CorruptFilesSkipped++;
        }
        return null;
    }

    public async Task<StoredCheckpoint?> LoadAsync(string jobId, int partition, long checkpointId, CancellationToken ct)
    {
        var path = Path.Combine(PartitionDirectory(jobId, partition), FileName(checkpointId));
        byte[] data;
        try
        {
            data = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        if (CheckpointReader.Verify(data) != CheckpointReadStatus.Ok)
        {
            CorruptFilesSkipped++;
            return null;
        }
        return new StoredCheckpoint(jobId, partition, checkpointId, data);
    }

    public Task<IReadOnlyList<long>> ListAsync(string jobId, int partition, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var directory = PartitionDirectory(jobId, partition);
        var ids = new List<long>();
        if (Directory.Exists(directory))
        {
            foreach (var path in Directory.EnumerateFiles(directory, "*" + Extension))
            {
                if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                {
                    ids.Add(id);
                }
            }
        }
        ids.Sort();
        return Task.FromResult<IReadOnlyList<long>>(ids);
    }

    public async Task<int> PruneAsync(string jobId, int partition, int keep, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var ids = await ListAsync(jobId, partition, ct).ConfigureAwait(false);
        var directory = PartitionDirectory(jobId, partition);
        var deleted = 0;
        for (var i = 0; i < ids.Count - keep; i++)
        {
            if (TryDelete(Path.Combine(directory, FileName(ids[i]))))
            {
                deleted++;
            }
        }
        return deleted;
    }

    private string PartitionDirectory(string jobId, int partition)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        foreach (var c in jobId)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || jobId is "." or "..")
            {
                throw new ArgumentException($"The job id '{jobId}' may hold only ASCII letters, digits, '-', '_' and '.'.", nameof(jobId));
            }
        }
        return Path.Combine(_root, jobId, "p" + partition.ToString(CultureInfo.InvariantCulture));
    }

    private static string FileName(long checkpointId) => checkpointId.ToString("D19", CultureInfo.InvariantCulture) + Extension;

    private static bool TryDelete(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
