using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Vigil.Core.Engine;

/// <summary>How far an input has been consumed: the last source offset whose effects a checkpoint holds.</summary>
public readonly record struct SourceOffset(int Input, long Offset);

/// <summary>One named operator section of a checkpoint.</summary>
public readonly record struct CheckpointSection(string Name, ReadOnlyMemory<byte> Data);

/// <summary>Why checkpoint bytes could not be read.</summary>
public enum CheckpointReadStatus : byte
{
    Ok,

    /// <summary>Shorter than a header and checksum: a torn write.</summary>
    Truncated,

    /// <summary>Not a Vigil checkpoint.</summary>
    BadMagic,

    /// <summary>Written by a newer format this build cannot read.</summary>
    UnsupportedVersion,

    /// <summary>The CRC-32 does not match: torn or corrupted.</summary>
    ChecksumMismatch,

    /// <summary>The checksum matched but the layout is inconsistent.</summary>
    Malformed,
}

/// <summary>
/// The layout of a checkpoint (little-endian), format version 3. Versions 1 and 2 had the same layout, but the rules'
/// states in them differ (version 2 kept compact values where version 1 kept strings; version 3 keeps BEHAVIOR_ANOMALY's
/// and USER_FEATURES' states compact, the former without a format byte before), so an older checkpoint is refused
/// rather than misread:
/// <code>
/// "VGCK"  u16 version  u16 flags(0)  i64 checkpoint id
/// i32 n   n × (i32 input, i64 last offset)
/// i32 len watermark state      i32 len timers
/// i32 m   m × (u16 name length, UTF-8 name, i32 len, operator state)
/// u32 CRC-32 of everything before it
/// </code>
/// Every section is length-prefixed, so a reader skips the sections of operators it no longer has, and an operator
/// reads only its own bytes.
/// </summary>
public static class CheckpointFormat
{
    public const uint Magic = 0x4B434756; // "VGCK" read as little-endian

    public const ushort CurrentVersion = 4;

    /// <summary>The oldest version this build reads.</summary>
    public const ushort OldestReadableVersion = 4;

    internal const int HeaderSize = 4 + 2 + 2 + 8;
}

/// <summary>Builds checkpoint bytes in memory, section by section, in the order of <see cref="CheckpointFormat"/>:
/// the constructor writes the header and offsets, then <see cref="WriteWatermarks"/>, <see cref="WriteTimers"/>,
/// any number of <see cref="WriteOperator"/>, and <see cref="ToArray"/> seals it with the CRC.</summary>
public sealed class CheckpointWriter : IDisposable
{
    private readonly MemoryStream _stream;
    private readonly BinaryWriter _writer;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private long _operatorCountAt = -1;
    private int _operators;
    private int _stage;

    /// <param name="checkpointId">Increasing per partition; the store orders by it.</param>
    /// <param name="offsets">The last offset processed per input.</param>
    /// <param name="capacityHint">Expected size in bytes (the previous checkpoint's), to spare the buffer regrowing.</param>
    public CheckpointWriter(long checkpointId, ReadOnlySpan<SourceOffset> offsets, int capacityHint = 4096)
    {
        _stream = new MemoryStream(Math.Max(256, capacityHint));
        _writer = new BinaryWriter(_stream, Encoding.UTF8, leaveOpen: true);
        _writer.Write(CheckpointFormat.Magic);
        _writer.Write(CheckpointFormat.CurrentVersion);
        _writer.Write((ushort)0);
        _writer.Write(checkpointId);
        _writer.Write(offsets.Length);
        foreach (var offset in offsets)
        {
            _writer.Write(offset.Input);
            _writer.Write(offset.Offset);
        }
    }

    public void WriteWatermarks(ICheckpointable watermarks)
    {
        ArgumentNullException.ThrowIfNull(watermarks);
        Expect(0);
        WriteBlock(watermarks.Snapshot);
        _stage = 1;
    }

    public void WriteTimers(Action<BinaryWriter> writeTimers)
    {
        ArgumentNullException.ThrowIfNull(writeTimers);
        Expect(1);
        WriteBlock(writeTimers);
        _stage = 2;
        _operatorCountAt = _stream.Position;
        _writer.Write(0);
    }

    public void WriteOperator(ICheckpointable op)
    {
        ArgumentNullException.ThrowIfNull(op);
        Expect(2);
        if (!_names.Add(op.Name))
        {
            throw new InvalidOperationException($"Two operators are named '{op.Name}'.");
        }
        var name = Encoding.UTF8.GetBytes(op.Name);
        if (name.Length > ushort.MaxValue)
        {
            throw new InvalidOperationException("An operator name is longer than 65535 bytes.");
        }
        _writer.Write((ushort)name.Length);
        _writer.Write(name);
        WriteBlock(op.Snapshot);
        _operators++;
    }

    /// <summary>Seals the checkpoint with its CRC and returns the bytes.</summary>
    public byte[] ToArray()
    {
        Expect(2);
        _writer.Flush();
        var end = _stream.Position;
        _stream.Position = _operatorCountAt;
        _writer.Write(_operators);
        _stream.Position = end;
        _writer.Flush();
        var crc = Crc32.Compute(_stream.GetBuffer().AsSpan(0, (int)end));
        _writer.Write(crc);
        _writer.Flush();
        _stage = 3;
        return _stream.ToArray();
    }

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Dispose();
    }

    private void Expect(int stage)
    {
        if (_stage != stage)
        {
            throw new InvalidOperationException("Checkpoint sections are written in order: watermarks, timers, operators, then ToArray.");
        }
    }

    private void WriteBlock(Action<BinaryWriter> write)
    {
        _writer.Flush();
        var lengthAt = _stream.Position;
        _writer.Write(0);
        write(_writer);
        _writer.Flush();
        var end = _stream.Position;
        var length = end - lengthAt - 4;
        if (length > int.MaxValue)
        {
            throw new InvalidOperationException("A checkpoint section is larger than 2 GiB.");
        }
        _stream.Position = lengthAt;
        _writer.Write((int)length);
        _writer.Flush();
        _stream.Position = end;
    }
}

/// <summary>A parsed checkpoint: the header and offsets, and its sections still as bytes.</summary>
public sealed class Checkpoint
{
    internal Checkpoint(long id, ushort version, SourceOffset[] offsets, ReadOnlyMemory<byte> watermarks,
        ReadOnlyMemory<byte> timers, CheckpointSection[] operators)
    {
        Id = id;
        FormatVersion = version;
        SourceOffsets = offsets;
        Watermarks = watermarks;
        Timers = timers;
        Operators = operators;
    }

    public long Id { get; }

    public ushort FormatVersion { get; }

    public IReadOnlyList<SourceOffset> SourceOffsets { get; }

    public ReadOnlyMemory<byte> Watermarks { get; }

    public ReadOnlyMemory<byte> Timers { get; }

    public IReadOnlyList<CheckpointSection> Operators { get; }

    /// <summary>The section of the operator named <paramref name="name"/>, if the checkpoint has one.</summary>
    public bool TryGetOperator(string name, out ReadOnlyMemory<byte> data)
    {
        foreach (var section in Operators)
        {
            if (string.Equals(section.Name, name, StringComparison.Ordinal))
            {
                data = section.Data;
                return true;
            }
        }
        data = default;
        return false;
    }
}

/// <summary>Parses and verifies checkpoint bytes (see <see cref="CheckpointFormat"/>).</summary>
public static class CheckpointReader
{
    /// <summary>Checks magic, version and CRC without parsing the sections: what a store does to pick a good file.</summary>
    public static CheckpointReadStatus Verify(ReadOnlySpan<byte> data)
    {
        if (data.Length < CheckpointFormat.HeaderSize + 4)
        {
            return CheckpointReadStatus.Truncated;
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(data) != CheckpointFormat.Magic)
        {
            return CheckpointReadStatus.BadMagic;
        }
        if (BinaryPrimitives.ReadUInt16LittleEndian(data[4..]) is > CheckpointFormat.CurrentVersion or < CheckpointFormat.OldestReadableVersion)
        {
            return CheckpointReadStatus.UnsupportedVersion;
        }
        var body = data[..^4];
        return Crc32.Compute(body) == BinaryPrimitives.ReadUInt32LittleEndian(data[^4..])
            ? CheckpointReadStatus.Ok
            : CheckpointReadStatus.ChecksumMismatch;
    }

    /// <summary>Verifies and parses; <paramref name="checkpoint"/> is set only when the status is Ok.</summary>
    public static CheckpointReadStatus TryRead(ReadOnlyMemory<byte> data, out Checkpoint? checkpoint)
    {
        checkpoint = null;
        var status = Verify(data.Span);
        if (status != CheckpointReadStatus.Ok)
        {
            return status;
        }
        var span = data.Span;
        var limit = data.Length - 4;
        var version = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
        var id = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
        var pos = CheckpointFormat.HeaderSize;
        if (!TryInt(span, limit, ref pos, out var offsetCount) || offsetCount < 0 || offsetCount > (limit - pos) / 12)
        {
            return CheckpointReadStatus.Malformed;
        }
        var offsets = new SourceOffset[offsetCount];
        for (var i = 0; i < offsetCount; i++)
        {
            offsets[i] = new SourceOffset(BinaryPrimitives.ReadInt32LittleEndian(span[pos..]), BinaryPrimitives.ReadInt64LittleEndian(span[(pos + 4)..]));
            pos += 12;
        }
        if (!TryBlock(data, limit, ref pos, out var watermarks) || !TryBlock(data, limit, ref pos, out var timers)
            || !TryInt(span, limit, ref pos, out var operatorCount) || operatorCount < 0 || operatorCount > limit - pos)
        {
            return CheckpointReadStatus.Malformed;
        }
        var operators = new CheckpointSection[operatorCount];
        for (var i = 0; i < operatorCount; i++)
        {
            if (pos + 2 > limit)
            {
                return CheckpointReadStatus.Malformed;
            }
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]);
            pos += 2;
            if (pos + nameLength > limit)
            {
                return CheckpointReadStatus.Malformed;
            }
            var name = Encoding.UTF8.GetString(span.Slice(pos, nameLength));
            pos += nameLength;
            if (!TryBlock(data, limit, ref pos, out var section))
            {
                return CheckpointReadStatus.Malformed;
            }
            operators[i] = new CheckpointSection(name, section);
        }
        if (pos != limit)
        {
            return CheckpointReadStatus.Malformed;
        }
        checkpoint = new Checkpoint(id, version, offsets, watermarks, timers, operators);
        return CheckpointReadStatus.Ok;
    }

    /// <summary>A reader over one section's bytes.</summary>
    public static BinaryReader OpenSection(ReadOnlyMemory<byte> section)
    {
        var stream = MemoryMarshal.TryGetArray(section, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(section.ToArray(), writable: false);
        return new BinaryReader(stream, Encoding.UTF8, leaveOpen: false);
    }

    private static bool TryInt(ReadOnlySpan<byte> span, int limit, ref int pos, out int value)
    {
        if (pos + 4 > limit)
        {
            value = 0;
            return false;
        }
        value = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
        pos += 4;
        return true;
    }

    private static bool TryBlock(ReadOnlyMemory<byte> data, int limit, ref int pos, out ReadOnlyMemory<byte> block)
    {
        block = default;
        if (!TryInt(data.Span, limit, ref pos, out var length) || length < 0 || length > limit - pos)
        {
            return false;
        }
        block = data.Slice(pos, length);
        pos += length;
        return true;
    }
}

/// <summary>A checkpoint as a store returns it.</summary>
public sealed record StoredCheckpoint(string JobId, int Partition, long CheckpointId, ReadOnlyMemory<byte> Data);

/// <summary>
/// Durable checkpoints per (job, partition). Implementations write atomically (a reader never sees half a
/// checkpoint) and <see cref="LoadLatestAsync"/> returns the newest one that verifies
/// (<see cref="CheckpointReader.Verify"/>), passing over torn or corrupt ones.
/// </summary>
public interface ICheckpointStore
{
    Task SaveAsync(string jobId, int partition, long checkpointId, ReadOnlyMemory<byte> data, CancellationToken ct);

    /// <summary>The newest valid checkpoint, or null when there is none.</summary>
    Task<StoredCheckpoint?> LoadLatestAsync(string jobId, int partition, CancellationToken ct);

    /// <summary>One checkpoint by id, if it is stored and verifies; null otherwise.</summary>
    Task<StoredCheckpoint?> LoadAsync(string jobId, int partition, long checkpointId, CancellationToken ct);

    /// <summary>The checkpoint ids held, oldest first (valid or not: listing does not read them).</summary>
    Task<IReadOnlyList<long>> ListAsync(string jobId, int partition, CancellationToken ct);

    /// <summary>Deletes all but the newest <paramref name="keep"/> checkpoints; returns how many went.</summary>
    Task<int> PruneAsync(string jobId, int partition, int keep, CancellationToken ct);
}
