namespace Vigil.Kafka;

/// <summary>One Kafka record as the pipeline sees it: where it came from, and its raw bytes.</summary>
/// <param name="Topic">The topic it was read from.</param>
/// <param name="Partition">The partition it was read from.</param>
/// <param name="Offset">Its offset in that partition.</param>
/// <param name="Key">The raw key, or null when it had none.</param>
/// <param name="Value">The raw value; empty for a tombstone.</param>
/// <param name="TimestampMs">The record's Kafka timestamp in Unix milliseconds (create or log-append time).</param>
public readonly record struct SourceRecord(string Topic, int Partition, long Offset, byte[]? Key, byte[] Value, long TimestampMs)
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
    private readonly SourceRecord[] _records;
    private readonly System.Collections.Concurrent.ConcurrentQueue<SourceBatch>? _pool;

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

    /// <summary>Gives the batch back to its source for reuse; the caller must not use it afterwards.</summary>
    public void Release()
    {
        Array.Clear(_records, 0, Count);
        Count = 0;
        // Bounded: a reader slower than the source for a while does not leave a large pool behind.
        if (_pool is { Count: < 64 } pool)
        {
            pool.Enqueue(this);
        }
    }

    internal bool IsFull => Count == _records.Length;

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
