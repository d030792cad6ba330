using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Vigil.Kafka;

/// <summary>
/// Writes records to Kafka with an idempotent producer (<c>enable.idempotence=true</c>, <c>acks=all</c>): retries
/// never duplicate or reorder a partition's records. Thread-safe, disposal included: <see cref="Dispose"/> waits for the
/// calls already inside the client and refuses later ones with <see cref="ObjectDisposedException"/>.
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
    // For the records sent to a named partition, which are counted (QueuedTo, SettledIn).
    private readonly Action<DeliveryReport<string, byte[]>> _onCountedDelivery;
    private long _deliveryErrors;
    // Records queued to, and settled in (delivered, or failed for good), each partition named explicitly in Produce.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Topic, int Partition), PartitionCounts> _counts = new();
    // The number of calls inside the native client; the sign bit is set once Dispose has begun. librdkafka aborts the
    // whole process (SIGABRT, exit 134) when its handle is destroyed under a running produce or flush, so Dispose closes
    // this gate and waits for the count to drain before it frees the client. A lock would serialise the produce path.
    private int _gate;

    /// <summary>Creates the producer.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public KafkaProducer(KafkaOptions options, ILogger<KafkaProducer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _onDelivery = OnDelivery; // one delegate for all messages, not a closure each
        _onCountedDelivery = OnCountedDelivery;

        var config = options.Apply(new ProducerConfig
        {
            ClientId = KafkaLogging.ClientId("producer"),
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
            // The delivery handlers read the topic, the partition and the error, which are always there. By default
            // Confluent.Kafka also copies every record's key, value, headers and timestamp back into managed objects
            // for its report. (The report itself stays: bench e2e's producer spends 8 % of its time in it either way.)
            DeliveryReportFields = "none",
        });
        // Sinks rely on it for exactly-once appends per partition; a pass-through setting must not turn it off.
        config.EnableIdempotence = true;

        try
        {
            _producer = new ProducerBuilder<string, byte[]>(config)
                .SetLogHandler((_, message) => KafkaLogging.Forward(_logger, message))
                .SetErrorHandler((_, error) => KafkaLogging.Guard(_logger, error, static (logger, e) => logger.Log(
                    e.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka producer error: {Code} {Reason}", e.Code, e.Reason)))
                .Build();
        }
        catch (Exception e) when (e is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new ArgumentException("Invalid Kafka producer setting: " + e.Message, nameof(options), e);
        }
    }

    /// <summary>Messages that could not be delivered (after librdkafka's own retries) or were refused locally.</summary>
    public long DeliveryErrors => Interlocked.Read(ref _deliveryErrors);

    /// <summary>Records queued with <see cref="Produce(string, int, string?, byte[], Headers?)"/> to this partition.</summary>
    public long QueuedTo(string topic, int partition) =>
        _counts.TryGetValue((topic, partition), out var counts) ? Interlocked.Read(ref counts.Queued) : 0;

    /// <summary>Of those, the records whose delivery report has come back (delivered, or failed after librdkafka's
    /// retries). One partition's reports come back in the order its records were queued (the producer is idempotent),
    /// so once this reaches a value <see cref="QueuedTo"/> returned, every record queued before that has settled: a
    /// barrier that, unlike <see cref="Flush"/>, does not wait for the records queued after it.</summary>
    public long SettledIn(string topic, int partition) =>
        _counts.TryGetValue((topic, partition), out var counts) ? Interlocked.Read(ref counts.Settled) : 0;

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

    /// <returns>Whether the record was queued (false: refused locally, counted and logged).</returns>
    private bool Send(TopicPartition target, Message<string, byte[]> message, bool counted = false)
    {
        var topic = target.Topic;
        long started = 0;
        while (true)
        {
            var refused = ProduceOnce(target, message, counted ? _onCountedDelivery : _onDelivery);
            if (refused is null)
            {
                return true;
            }
            if (refused.Code != ErrorCode.Local_QueueFull)
            {
                // Refused locally (too large, unknown partition): the record's problem, not the pipeline's.
                CountFailure(topic, refused);
                return false;
            }

            started = started == 0 ? Stopwatch.GetTimestamp() : started;
            if (Stopwatch.GetElapsedTime(started) > s_queueFullPatience)
            {
                throw new InvalidOperationException(
                    $"The Kafka producer's local queue stayed full for {s_queueFullPatience.TotalSeconds:0} s: the cluster is unreachable or slower than the input.",
                    new KafkaException(refused));
            }

            // The background poll thread drains delivery reports meanwhile. Outside the gate, so that a Dispose waits
            // for one native call at most, not for the back-off.
            Thread.Sleep(s_queueFullBackoff);
        }
    }

    /// <returns>Null when the record is queued, else why librdkafka refused it.</returns>
    private Error? ProduceOnce(TopicPartition target, Message<string, byte[]> message, Action<DeliveryReport<string, byte[]>> onDelivery)
    {
        Enter(target.Topic);
        try
        {
            _producer.Produce(target, message, onDelivery);
            return null;
        }
        catch (ProduceException<string, byte[]> e)
        {
            return e.Error;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>As <see cref="Produce(string, string?, byte[])"/>, to one partition and with headers.</summary>
    /// <exception cref="InvalidOperationException">The local queue stayed full for a while: Kafka is unreachable or too slow.</exception>
    public void Produce(string topic, int partition, string? key, byte[] value, Headers? headers)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(value);
        var counts = _counts.GetOrAdd((topic, partition), static _ => new PartitionCounts());
        // Counted before it is queued, so a report that comes back first never makes settled pass queued; a record
        // refused locally gets no report, so it is settled here.
        Interlocked.Increment(ref counts.Queued);
        var queued = false;
        try
        {
            queued = Send(new TopicPartition(topic, new Partition(partition)), new Message<string, byte[]> { Key = key!, Value = value, Headers = headers }, counted: true);
        }
        finally
        {
            if (!queued)
            {
                Interlocked.Increment(ref counts.Settled);
            }
        }
    }

    private sealed class PartitionCounts
    {
        public long Queued;
        public long Settled;
    }

    /// <summary>Produces a record and completes when the cluster has acknowledged it.</summary>
    /// <exception cref="ProduceException{TKey, TValue}">The record could not be delivered (also counted).</exception>
    /// <exception cref="ObjectDisposedException">The producer is disposed.</exception>
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
                Task delivered;
                // Only the queueing is inside the gate: the wait for the acknowledgement touches no native memory.
                Enter(topic);
                try
                {
                    delivered = _producer.ProduceAsync(topic, message, ct);
                }
                finally
                {
                    Exit();
                }
                await delivered;
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
    /// <exception cref="ObjectDisposedException">The producer is disposed.</exception>
    public int Flush(TimeSpan timeout)
    {
        Enter(null);
        int remaining;
        try
        {
            remaining = _producer.Flush(timeout);
        }
        finally
        {
            Exit();
        }
        if (remaining > 0)
        {
            _logger.LogWarning("Kafka producer flush timed out after {Timeout} with {Remaining} records undelivered", timeout, remaining);
        }

        return remaining;
    }

    /// <summary>
    /// Waits, off the caller's thread, until every queued record is delivered, <paramref name="timeout"/> passes or
    /// <paramref name="ct"/> is cancelled: librdkafka's flush runs in short slices, so a stopping host is never held
    /// for the whole timeout, and a <see cref="Dispose"/> waits for one slice at most.
    /// </summary>
    /// <returns>The number of records still undelivered (0 when all were delivered).</returns>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled first.</exception>
    /// <exception cref="ObjectDisposedException">The producer was disposed before the records were delivered.</exception>
    public Task<int> FlushAsync(TimeSpan timeout, CancellationToken ct) => Task.Run(() =>
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var left = Stopwatch.GetElapsedTime(started);
            var slice = timeout - left < s_flushSlice ? timeout - left : s_flushSlice;
            int remaining;
            Enter(null);
            try
            {
                remaining = _producer.Flush(slice < TimeSpan.Zero ? TimeSpan.Zero : slice);
            }
            finally
            {
                Exit();
            }
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

    /// <summary>
    /// Refuses new calls, waits for those already inside the client (one produce or flush slice each; a
    /// <see cref="Flush"/> for its timeout), flushes for up to 10 s, then frees the producer; records still queued after
    /// that are lost (and logged). Safe to call while other threads use the producer, and more than once.
    /// </summary>
    public void Dispose()
    {
        // Idempotent: the host may own this producer under two service registrations.
        if ((Interlocked.Or(ref _gate, int.MinValue) & int.MinValue) != 0)
        {
            return;
        }
        var spin = new SpinWait();
        while ((Volatile.Read(ref _gate) & int.MaxValue) != 0)
        {
            spin.SpinOnce(sleep1Threshold: 20);
        }
        // Nobody else can be inside now: this thread owns the client.
        var remaining = _producer.Flush(s_disposeFlushTimeout);
        if (remaining > 0)
        {
            _logger.LogWarning("Kafka producer closed with {Remaining} records undelivered after {Timeout}", remaining, s_disposeFlushTimeout);
        }
        _producer.Dispose();
    }

    /// <summary>Counts a call into the native client, or refuses it once <see cref="Dispose"/> has begun.</summary>
    /// <exception cref="ObjectDisposedException">The producer is disposed or being disposed.</exception>
    private void Enter(string? topic)
    {
        var state = Volatile.Read(ref _gate);
        while (state >= 0)
        {
            var seen = Interlocked.CompareExchange(ref _gate, state + 1, state);
            if (seen == state)
            {
                return;
            }
            state = seen;
        }
        throw new ObjectDisposedException(nameof(KafkaProducer), topic is null
            ? "The Kafka producer is closed: the service is stopping."
            : $"The Kafka producer is closed: the record for {topic} was not queued (the service is stopping).");
    }

    private void Exit() => Interlocked.Decrement(ref _gate);

    private void OnCountedDelivery(DeliveryReport<string, byte[]> report)
    {
        if (_counts.TryGetValue((report.Topic, report.Partition.Value), out var counts))
        {
            Interlocked.Increment(ref counts.Settled);
        }
        OnDelivery(report);
    }

    private void OnDelivery(DeliveryReport<string, byte[]> report)
    {
        if (report.Error.IsError)
        {
            // Runs inside librdkafka's poll: an exception must not unwind into native code, which aborts the process.
            try
            {
                CountFailure(report.Topic, report.Error);
            }
            catch (Exception)
            {
                // The count is already taken; only the log line is lost.
            }
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
