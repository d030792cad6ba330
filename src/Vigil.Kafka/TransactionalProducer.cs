using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Vigil.Kafka;

/// <summary>Where the sinks send their records: a plain idempotent producer, or a transactional one.</summary>
public interface IRecordProducer
{
    void Produce(string topic, string? key, byte[] value);

    /// <summary>Produces a record to one partition of <paramref name="topic"/>, with headers.</summary>
    void Produce(string topic, int partition, string? key, byte[] value, Headers? headers);
}

/// <summary>
/// The exactly-once output producer: every record is produced inside a Kafka transaction, and a checkpoint commits the
/// transaction together with the consumed offsets (consume-transform-produce, KIP-447 fencing by the consumer group's
/// metadata). A read_committed consumer of the output topics sees each record of a committed transaction once, and
/// nothing of a transaction a crash aborted; the restored pipeline produces those again in a new one.
/// </summary>
/// <remarks>Produce may be called from any thread; <c>Commit</c> must not overlap with produces it should cover
/// (the caller's checkpoint barrier guarantees that).</remarks>
public sealed class TransactionalProducer : IRecordProducer, IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly IProducer<string, byte[]> _producer;
    private readonly ILogger _logger;
    // Also orders every call against Dispose: librdkafka aborts the process when its handle is destroyed under a call.
    private readonly Lock _gate = new();
    private long _uncommitted;
    private bool _disposed;

    /// <param name="options">The cluster and pass-through settings (which may override <c>transaction.timeout.ms</c>).</param>
    /// <param name="transactionalId">Stable per instance: a restarted instance with the same id fences its previous
    /// incarnation and aborts its open transaction at once, instead of leaving it to hold back read_committed consumers
    /// until <paramref name="transactionTimeout"/> passes. Two live instances must never share one.</param>
    /// <param name="transactionTimeout">How long the broker lets a transaction stay open; it must exceed the time between
    /// commits (the checkpoint interval) with room to spare.</param>
    /// <param name="logger">Where errors go.</param>
    public TransactionalProducer(KafkaOptions options, string transactionalId, TimeSpan transactionTimeout, ILogger<TransactionalProducer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(transactionalId);
        _logger = logger;
        var config = options.Apply(new ProducerConfig
        {
            ClientId = KafkaLogging.ClientId("tx-producer"),
            Acks = Acks.All,
            LingerMs = 5,
            TransactionalId = transactionalId,
            TransactionTimeoutMs = (int)Math.Clamp(transactionTimeout.TotalMilliseconds, 1000, int.MaxValue),
        });
        config.EnableIdempotence = true;
        _producer = new ProducerBuilder<string, byte[]>(config)
            .SetLogHandler((_, message) => KafkaLogging.Forward(_logger, message))
            .Build();
        // Fences an earlier producer with this id and aborts whatever it left open.
        _producer.InitTransactions(s_timeout);
        _logger.LogInformation("Transactional producer {Id} ready (transaction.timeout.ms={Timeout})", transactionalId, config.TransactionTimeoutMs);
        _producer.BeginTransaction();
    }

    /// <summary>Records produced since the last commit.</summary>
    public long Uncommitted => Interlocked.Read(ref _uncommitted);

    /// <exception cref="ObjectDisposedException">The producer is disposed.</exception>
    public void Produce(string topic, string? key, byte[] value)
    {
        lock (_gate)
        {
            ThrowIfDisposed(topic);
            _producer.Produce(topic, new Message<string, byte[]> { Key = key!, Value = value });
            _uncommitted++;
        }
    }

    /// <exception cref="ObjectDisposedException">The producer is disposed.</exception>
    public void Produce(string topic, int partition, string? key, byte[] value, Headers? headers)
    {
        lock (_gate)
        {
            ThrowIfDisposed(topic);
            _producer.Produce(new TopicPartition(topic, new Partition(partition)), new Message<string, byte[]> { Key = key!, Value = value, Headers = headers });
            _uncommitted++;
        }
    }

    /// <summary>
    /// Commits the open transaction with the consumed offsets (the next offset to read, per partition), and opens the
    /// next one. On failure the transaction is aborted and the exception rethrown: the caller must restore from its
    /// last committed checkpoint, since the aborted outputs will never be seen.
    /// </summary>
    public void Commit(IReadOnlyList<TopicPartitionOffset> offsets, IConsumerGroupMetadata group)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(group);
        Commit([(offsets, group)]);
    }

    /// <summary>
    /// As <see cref="Commit(IReadOnlyList{TopicPartitionOffset}, IConsumerGroupMetadata)"/>, for several consumers of one
    /// group (one per input topic): each one's offsets go with its own group metadata (member id and generation), so
    /// the broker fences each against the member that owned the partitions, all in the one transaction.
    /// </summary>
    public void Commit(IReadOnlyList<(IReadOnlyList<TopicPartitionOffset> Offsets, IConsumerGroupMetadata Group)> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        lock (_gate)
        {
            ThrowIfDisposed(null);
            try
            {
                foreach (var (offsets, group) in batches)
                {
                    if (offsets.Count > 0)
                    {
                        _producer.SendOffsetsToTransaction(offsets, group, s_timeout);
                    }
                }
                _producer.CommitTransaction(s_timeout);
                _uncommitted = 0;
            }
            catch (KafkaException ex)
            {
                _logger.LogError("Committing the transaction failed, aborting it: {Error}", ex.Error.Reason);
                try
                {
                    _producer.AbortTransaction(s_timeout);
                }
                catch (KafkaException abort)
                {
                    _logger.LogError("Aborting the transaction failed too: {Error}", abort.Error.Reason);
                }
                _producer.BeginTransaction();
                throw;
            }
            _producer.BeginTransaction();
        }
    }

    /// <summary>Waits for a produce or commit in progress, then frees the producer; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            // An open transaction is aborted by the broker when this producer goes; nothing partial is ever visible.
            _producer.Dispose();
        }
    }

    private void ThrowIfDisposed(string? topic)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(TransactionalProducer), topic is null
                ? "The transactional producer is closed: the service is stopping."
                : $"The transactional producer is closed: the record for {topic} was not queued (the service is stopping).");
        }
    }
}
