namespace Vigil.Kafka;

/// <summary>One Kafka record as the pipeline sees it: where it came from, and its raw bytes.</summary>
/// <param name="Topic">The topic it was read from.</param>
/// <param name="Partition">The partition it was read from.</param>
/// <param name="Offset">Its offset in that partition.</param>
/// <param name="Key">The raw key, or null when it had none.</param>
/// <param name="Value">The raw value; empty for a tombstone. A record taken out of a <see cref="SourceBatch"/> may view
/// the batch's buffer: read it before <see cref="SourceBatch.Release"/>, or copy it.</param>
/// <param name="TimestampMs">The record's Kafka timestamp in Unix milliseconds (create or log-append time).</param>
public readonly record struct SourceRecord(string Topic, int Partition, long Offset, byte[]? Key, ReadOnlyMemory<byte> Value, long TimestampMs)
{
    /// <summary>The record's headers; null when it has none.</summary>
    public Confluent.Kafka.Headers? Headers { get; init; }
}

/// <summary>A topic partition, as reported by rebalance notifications.</summary>
public readonly record struct KafkaPartition(string Topic, int Partition)
{
    /// <inheritdoc />
    public override string ToString() => $"{Topic}[{Partition}]";
}

/// <summary>
/// Records one consumer read in one go, in the order it read them (so in order per partition): a source writes its
/// records to a channel of these, so the channel's lock and wake-ups are paid per batch rather than per record.
/// </summary>
/// <remarks>Batches are reused: the reader calls <see cref="Release"/> once it has taken the records out, and must
/// not touch the batch after that. A batch never released is simply collected.</remarks>
public sealed class SourceBatch
{
    // A value larger than this gets an array of its own rather than a place in the buffer.
    private const int LargestBuffered = 64 * 1024;
    private const int FirstBufferBytes = 16 * 1024;
    private const int LargestBuffer = 4 * 1024 * 1024;

    private readonly SourceRecord[] _records;
    private readonly System.Collections.Concurrent.ConcurrentQueue<SourceBatch>? _pool;
    // The values of the records, back to back (see CopyIn); reused with the batch, so a consumer that reads records in
    // batches allocates nothing per value once the buffer has grown to what a batch holds.
    private byte[] _buffer = [];
    private int _buffered;
    // Since the last release: the values copied in, and their bytes.
    private int _copies;
    private long _copiedBytes;

    internal SourceBatch(int capacity, System.Collections.Concurrent.ConcurrentQueue<SourceBatch>? pool)
    {
        _records = new SourceRecord[capacity];
        _pool = pool;
    }

    /// <summary>How many records the batch holds.</summary>
    public int Count { get; private set; }

    /// <summary>The record at <paramref name="index"/>, 0 ≤ index &lt; <see cref="Count"/>.</summary>
    public SourceRecord this[int index] =>
        (uint)index < (uint)Count ? _records[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Gives the batch back to its source for reuse; the caller must not use it, nor the values of the
    /// records taken out of it, afterwards.</summary>
    public void Release()
    {
        Array.Clear(_records, 0, Count);
        Count = 0;
        _buffered = 0;
        _copies = 0;
        _copiedBytes = 0;
        // Bounded: a reader slower than the source for a while does not leave a large pool behind.
        if (_pool is { Count: < 64 } pool)
        {
            pool.Enqueue(this);
        }
    }

    internal bool IsFull => Count == _records.Length;

    /// <summary>
    /// A copy of <paramref name="value"/> in the batch's buffer, valid until <see cref="Release"/>. When the buffer is
    /// full a larger one replaces it (the records already in keep the old one alive until they go), sized for a full
    /// batch of values of the average size so far: after the first full batch, one buffer holds a batch's values.
    /// </summary>
    internal ReadOnlyMemory<byte> CopyIn(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        if (value.Length > LargestBuffered)
        {
            return value.ToArray();
        }
        _copies++;
        _copiedBytes += value.Length;
        if (value.Length > _buffer.Length - _buffered)
        {
            var wanted = Math.Max(_copiedBytes, _copiedBytes * _records.Length / _copies);
            var size = Math.Max(FirstBufferBytes, _buffer.Length);
            while (size < wanted && size < LargestBuffer)
            {
                size *= 2;
            }
            // The values already in stay where they are (their records point there); the new buffer starts empty.
            _buffer = new byte[size];
            _buffered = 0;
        }
        var copy = new Memory<byte>(_buffer, _buffered, value.Length);
        value.CopyTo(copy.Span);
        _buffered += value.Length;
        return copy;
    }

    internal void Add(in SourceRecord record) => _records[Count++] = record;

    /// <summary>Drops the records of <paramref name="partitions"/> from index <paramref name="from"/> on, keeping the
    /// others in order.</summary>
    internal void RemovePartitions(IReadOnlyList<KafkaPartition> partitions, int from = 0)
    {
        var kept = from;
        for (var i = from; i < Count; i++)
        {
            var record = _records[i];
            if (!partitions.Contains(new KafkaPartition(record.Topic, record.Partition)))
            {
                _records[kept++] = record;
            }
        }
        Array.Clear(_records, kept, Count - kept);
        Count = kept;
    }
}
