using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Vigil.Kafka;

/// <summary>
/// Reads what a downstream read_committed consumer of a topic can see from given offsets to the end, without joining a
/// group or committing anything, and tells where the topic ends. The exactly-once sinks use it to learn which outputs
/// a previous owner of a partition already made visible after that partition's checkpoint.
/// </summary>
/// <remarks>
/// A read ends when every partition has reported the end of what it may read: with <c>isolation.level=read_committed</c>
/// librdkafka reports the end at the last stable offset, so records of a transaction that is still open (a crashed
/// producer's, until it is aborted) are not waited for. Not thread-safe; one caller at a time.
/// </remarks>
public sealed class CommittedTopicReader : IDisposable
{
    private readonly string _topic;
    private readonly ILogger _logger;
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly IAdminClient _admin;

    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public CommittedTopicReader(KafkaOptions options, string topic, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(logger);
        _topic = topic;
        _logger = logger;
        var config = options.Apply(new ConsumerConfig
        {
            // Never used to join or commit (partitions are assigned by hand); librdkafka wants one all the same.
            GroupId = options.GroupId + ".read-back",
            ClientId = KafkaLogging.ClientId("read-back"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            FetchWaitMaxMs = 25,
        });
        // What this reader reports must be exactly what downstream consumers see.
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        config.EnablePartitionEof = true;
        config.EnableAutoOffsetStore = false;
        _consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, message) => KafkaLogging.Forward(_logger, message))
            .Build();
        _admin = new DependentAdminClientBuilder(_consumer.Handle).Build();
    }

    /// <summary>The topic's end (high watermark) per partition, from the broker.</summary>
    /// <exception cref="KafkaException">The broker did not answer in <paramref name="timeout"/>.</exception>
    public IReadOnlyDictionary<int, long> EndOffsets(TimeSpan timeout)
    {
        var ends = new Dictionary<int, long>();
        foreach (var partition in Partitions(timeout))
        {
            ends[partition] = _consumer.QueryWatermarkOffsets(new TopicPartition(_topic, partition), timeout).High.Value;
        }

        return ends;
    }

    /// <summary>
    /// Passes the value of every visible record from <paramref name="from"/> (per partition; partitions missing there,
    /// or all when it is null, from their beginning) up to the end, to <paramref name="onValue"/>.
    /// </summary>
    /// <returns>The number of records read.</returns>
    /// <exception cref="TimeoutException">The end was not reached in <paramref name="timeout"/>.</exception>
    public int Read(IReadOnlyDictionary<int, long>? from, Action<byte[]> onValue, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(onValue);
        var started = Stopwatch.GetTimestamp();
        var assignment = new List<TopicPartitionOffset>();
        var pending = new HashSet<int>();
        foreach (var partition in Partitions(timeout))
        {
            var offset = from is not null && from.TryGetValue(partition, out var o) && o >= 0 ? new Offset(o) : Offset.Beginning;
            assignment.Add(new TopicPartitionOffset(_topic, partition, offset));
            pending.Add(partition);
        }

        var count = 0;
        _consumer.Assign(assignment);
        try
        {
            while (pending.Count > 0)
            {
                var left = timeout - Stopwatch.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"Reading {_topic} back did not reach its end in {timeout.TotalSeconds:0} s; partitions {string.Join(",", pending)} are behind.");
                }

                ConsumeResult<byte[], byte[]>? result;
                try
                {
                    result = _consumer.Consume(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    _logger.LogWarning("Reading {Topic} back: {Reason}", _topic, e.Error.Reason);
                    continue;
                }

                if (result is null)
                {
                    continue;
                }

                if (result.IsPartitionEOF)
                {
                    pending.Remove(result.Partition.Value);
                    continue;
                }

                onValue(result.Message.Value ?? []);
                count++;
            }
        }
        finally
        {
            _consumer.Unassign();
        }

        return count;
    }

    /// <summary>Frees the clients.</summary>
    public void Dispose()
    {
        _admin.Dispose();
        _consumer.Close();
        _consumer.Dispose();
    }

    private List<int> Partitions(TimeSpan timeout)
    {
        var metadata = _admin.GetMetadata(_topic, timeout);
        var partitions = new List<int>();
        foreach (var topic in metadata.Topics)
        {
            if (topic.Topic == _topic && !topic.Error.IsError)
            {
                foreach (var partition in topic.Partitions)
                {
                    partitions.Add(partition.PartitionId);
                }
            }
        }

        partitions.Sort();
        return partitions;
    }
}
