using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Vigil.Kafka;

/// <summary>
/// Writes records to Kafka with an idempotent producer (<c>enable.idempotence=true</c>, <c>acks=all</c>): retries
/// never duplicate or reorder a partition's records. Thread-safe.
/// </summary>
public sealed class KafkaProducer : IRecordProducer, IDisposable
{
    // How long Produce keeps retrying while librdkafka's local queue is full before it gives up.
    private static readonly TimeSpan s_queueFullPatience = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_queueFullBackoff = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan s_disposeFlushTimeout = TimeSpan.FromSeconds(10);

    private readonly IProducer<string, byte[]> _producer;
    private readonly ILogger<KafkaProducer> _logger;
    private readonly Action<DeliveryReport<string, byte[]>> _onDelivery;
    private long _deliveryErrors;

    /// <summary>Creates the producer.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public KafkaProducer(KafkaOptions options, ILogger<KafkaProducer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _onDelivery = OnDelivery; // one delegate for all messages, not a closure each

        var config = options.Apply(new ProducerConfig
        {
            ClientId = KafkaLogging.ClientId("producer"),
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
        });
        // Sinks rely on it for exactly-once appends per partition; a pass-through setting must not turn it off.
        config.EnableIdempotence = true;

        try
        {
            _producer = new ProducerBuilder<string, byte[]>(config)
                .SetLogHandler((_, message) => KafkaLogging.Forward(_logger, message))
                .SetErrorHandler((_, error) => _logger.Log(
                    error.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka producer error: {Code} {Reason}", error.Code, error.Reason))
                .Build();
        }
        catch (Exception e) when (e is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new ArgumentException("Invalid Kafka producer setting: " + e.Message, nameof(options), e);
        }
    }

    /// <summary>Messages that could not be delivered (after librdkafka's own retries) or were refused locally.</summary>
    public long DeliveryErrors => Interlocked.Read(ref _deliveryErrors);

    /// <summary>
    /// Queues a record and returns at once; a failed delivery is logged and counted in <see cref="DeliveryErrors"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The local queue stayed full for a while: Kafka is unreachable or too slow.</exception>
    public void Produce(string topic, string? key, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(value);
        Send(new TopicPartition(topic, Partition.Any), new Message<string, byte[]> { Key = key!, Value = value });
    }

    private void Send(TopicPartition target, Message<string, byte[]> message)
    {
        var topic = target.Topic;
        long started = 0;
        while (true)
        {
            try
            {
                _producer.Produce(target, message, _onDelivery);
                return;
            }
            catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                started = started == 0 ? Stopwatch.GetTimestamp() : started;
                if (Stopwatch.GetElapsedTime(started) > s_queueFullPatience)
                {
                    throw new InvalidOperationException(
                        $"The Kafka producer's local queue stayed full for {s_queueFullPatience.TotalSeconds:0} s: the cluster is unreachable or slower than the input.", e);
                }

                // The background poll thread drains delivery reports meanwhile.
                Thread.Sleep(s_queueFullBackoff);
            }
            catch (ProduceException<string, byte[]> e)
            {
                // Refused locally (too large, unknown partition): the record's problem, not the pipeline's.
                CountFailure(topic, e.Error);
                return;
            }
        }
    }

    /// <summary>As <see cref="Produce(string, string?, byte[])"/>, to one partition and with headers.</summary>
    /// <exception cref="InvalidOperationException">The local queue stayed full for a while: Kafka is unreachable or too slow.</exception>
    public void Produce(string topic, int partition, string? key, byte[] value, Headers? headers)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(value);
        Send(new TopicPartition(topic, new Partition(partition)), new Message<string, byte[]> { Key = key!, Value = value, Headers = headers });
    }

    /// <summary>Produces a record and completes when the cluster has acknowledged it.</summary>
    /// <exception cref="ProduceException{TKey, TValue}">The record could not be delivered (also counted).</exception>
    public async Task ProduceAsync(string topic, string? key, byte[] value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(value);
        var message = new Message<string, byte[]> { Key = key!, Value = value };
        long started = 0;
        while (true)
        {
            try
            {
                await _producer.ProduceAsync(topic, message, ct);
                return;
            }
            catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                started = started == 0 ? Stopwatch.GetTimestamp() : started;
                if (Stopwatch.GetElapsedTime(started) > s_queueFullPatience)
                {
                    CountFailure(topic, e.Error);
                    throw;
                }

                await Task.Delay(s_queueFullBackoff, ct);
            }
            catch (ProduceException<string, byte[]> e)
            {
                CountFailure(topic, e.Error);
                throw;
            }
        }
    }

    /// <summary>Waits until every queued record is delivered or <paramref name="timeout"/> passes.</summary>
    /// <returns>The number of records still undelivered (0 when all were delivered).</returns>
    public int Flush(TimeSpan timeout)
    {
        var remaining = _producer.Flush(timeout);
        if (remaining > 0)
        {
            _logger.LogWarning("Kafka producer flush timed out after {Timeout} with {Remaining} records undelivered", timeout, remaining);
        }

        return remaining;
    }

    /// <summary>
    /// Waits, off the caller's thread, until every queued record is delivered, <paramref name="timeout"/> passes or
    /// <paramref name="ct"/> is cancelled: librdkafka's flush runs in short slices, so a stopping host is never held
    /// for the whole timeout.
    /// </summary>
    /// <returns>The number of records still undelivered (0 when all were delivered).</returns>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled first.</exception>
    public Task<int> FlushAsync(TimeSpan timeout, CancellationToken ct) => Task.Run(() =>
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var left = Stopwatch.GetElapsedTime(started);
            var slice = timeout - left < s_flushSlice ? timeout - left : s_flushSlice;
            var remaining = _producer.Flush(slice < TimeSpan.Zero ? TimeSpan.Zero : slice);
            if (remaining == 0)
            {
                return 0;
            }
            if (Stopwatch.GetElapsedTime(started) >= timeout)
            {
                _logger.LogWarning("Kafka producer flush timed out after {Timeout} with {Remaining} records undelivered", timeout, remaining);
                return remaining;
            }
        }
    }, ct);

    private static readonly TimeSpan s_flushSlice = TimeSpan.FromMilliseconds(100);

    /// <summary>Flushes for up to 10 s, then frees the producer; records still queued after that are lost (and logged).</summary>
    public void Dispose()
    {
        // Idempotent: the host may own this producer under two service registrations.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Flush(s_disposeFlushTimeout);
        _producer.Dispose();
    }

    private int _disposed;

    private void OnDelivery(DeliveryReport<string, byte[]> report)
    {
        if (report.Error.IsError)
        {
            CountFailure(report.Topic, report.Error);
        }
    }

    private void CountFailure(string topic, Error error)
    {
        var count = Interlocked.Increment(ref _deliveryErrors);
        // The first failures say what is wrong; after that a sample keeps a broken cluster from flooding the log.
        if (count <= 10 || count % 1000 == 0)
        {
            _logger.LogError("Kafka delivery to {Topic} failed ({Count} so far): {Code} {Reason}", topic, count, error.Code, error.Reason);
        }
    }
}
