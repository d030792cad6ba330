using System.Buffers.Binary;
using Confluent.Kafka;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Kafka;

namespace Vigil.Server.Pipeline;

/// <summary>
/// The records of the shared topic: a decoded user event in its binary checkpoint form (<see cref="UserEventSerializer"/>),
/// with the partition and offset it had in <c>user-events</c> and that partition's clock in headers; or, with an empty
/// value, a progress record (the partition got that far, with events the shared rules do not read). The shared stage
/// runs an event under its source partition and offset, so its per-input offsets skip the events a new owner of a
/// source partition forwards a second time.
/// </summary>
public static class SharedRecord
{
    /// <summary>Header present (empty value) on the first event forwarded after the source log was truncated or replaced.</summary>
    public const string RebaseHeader = "vigil-source-rebase";

    /// <summary>The value: the event's binary form. <paramref name="buffer"/> is reused between calls.</summary>
    public static byte[] Encode(MemoryStream buffer, UserEvent evt)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        buffer.SetLength(0);
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            UserEventSerializer.Instance.Write(writer, evt);
        }
        return buffer.ToArray();
    }

    /// <summary>The headers naming where the event came from, without a source clock (the event's time stands for it).</summary>
    public static Headers Headers(int sourcePartition, long sourceOffset, bool rebase) => Headers(sourcePartition, sourceOffset, null, rebase);

    /// <summary>The headers naming where the event came from and its partition's clock at that point.</summary>
    public static Headers Headers(int sourcePartition, long sourceOffset, long? sourceClockMs, bool rebase)
    {
        var partition = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(partition, sourcePartition);
        var offset = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(offset, sourceOffset);
        var headers = new Headers
        {
            { VigilTopics.SourcePartitionHeader, partition },
            { VigilTopics.SourceOffsetHeader, offset },
        };
        if (sourceClockMs is { } clockMs)
        {
            var clock = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(clock, clockMs);
            headers.Add(VigilTopics.SourceClockHeader, clock);
        }
        if (rebase)
        {
            headers.Add(RebaseHeader, []);
        }
        return headers;
    }

    /// <summary>Reads a forwarded event back; false (never an exception) when the record is not one.</summary>
    public static bool TryRead(in SourceRecord record, out int sourcePartition, out long sourceOffset, out bool rebase, out UserEvent evt)
    {
        var ok = TryRead(record, out sourcePartition, out sourceOffset, out _, out rebase, out var read);
        evt = read!;
        return ok && read is not null;
    }

    /// <summary>
    /// Reads a forwarded event, or a progress record (<paramref name="evt"/> null), back; false (never an exception)
    /// when the record is neither. <paramref name="sourceClockMs"/> is long.MinValue when the record carries none.
    /// </summary>
    public static bool TryRead(in SourceRecord record, out int sourcePartition, out long sourceOffset, out long sourceClockMs,
        out bool rebase, out UserEvent? evt)
    {
        sourcePartition = -1;
        sourceOffset = -1;
        sourceClockMs = long.MinValue;
        rebase = false;
        evt = null;
        var hasPartition = false;
        var hasOffset = false;
        if (record.Headers is { } headers)
        {
            foreach (var header in headers)
            {
                var bytes = header.GetValueBytes();
                if (header.Key == VigilTopics.SourcePartitionHeader && bytes is { Length: 4 })
                {
                    sourcePartition = BinaryPrimitives.ReadInt32BigEndian(bytes);
                    hasPartition = sourcePartition >= 0;
                }
                else if (header.Key == VigilTopics.SourceOffsetHeader && bytes is { Length: 8 })
                {
                    sourceOffset = BinaryPrimitives.ReadInt64BigEndian(bytes);
                    hasOffset = sourceOffset >= 0;
                }
                else if (header.Key == VigilTopics.SourceClockHeader && bytes is { Length: 8 })
                {
                    sourceClockMs = BinaryPrimitives.ReadInt64BigEndian(bytes);
                }
                else if (header.Key == RebaseHeader)
                {
                    rebase = true;
                }
            }
        }
        if (!hasPartition || !hasOffset)
        {
            return false;
        }
        if (record.Value.Length == 0)
        {
            // Progress: meaningful only with the clock it reports.
            return sourceClockMs != long.MinValue;
        }
        try
        {
            // A record from a batch views the batch's buffer: read it in place.
            var bytes = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(record.Value, out var segment)
                ? segment : new ArraySegment<byte>(record.Value.ToArray());
            using var reader = new BinaryReader(new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false));
            evt = UserEventSerializer.Instance.Read(reader);
            if (reader.BaseStream.Position == record.Value.Length)
            {
                return true;
            }
            evt = null;
            return false;
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ArgumentException or FormatException or InvalidDataException)
        {
            // Only instances write this topic, so this is a foreign or corrupt record, not an input to validate.
            evt = null;
            return false;
        }
    }
}
