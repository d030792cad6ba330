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
