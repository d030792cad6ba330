using System.Diagnostics;
using Vigil.Core.Alerts;

namespace Vigil.Server.Pipeline;

/// <summary>
/// Counters of the running pipeline, written by the pipeline threads with interlocked operations and read
/// by the API. Rates are measured over a sliding window of one-second buckets.
/// </summary>
public sealed class PipelineMetrics
{
    private const int RateSeconds = 10;
    private readonly long[] _buckets = new long[RateSeconds];
    private readonly long[] _bucketSecond = new long[RateSeconds];
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly Lock _rateLock = new();
    private long _eventsIn;
    private long _notifications;
    private long _deadLetters;
    private long _alertsLow;
    private long _alertsMedium;
    private long _alertsHigh;
    private long _alertsCritical;
    private long _alertsStored;
    private long _maxEventTimeMs;
    private long _trackedKeys;

    /// <summary>From the producer's timestamp on the Kafka record to the end of processing the event.</summary>
    public LatencyHistogram ProcessingLatency { get; } = new();

    /// <summary>Consumer lag per partition, supplied by the running source.</summary>
    public Func<IReadOnlyDictionary<(string Topic, int Partition), long>>? LagProvider { get; set; }

    public IReadOnlyDictionary<(string Topic, int Partition), long> Lag =>
        LagProvider?.Invoke() ?? new Dictionary<(string Topic, int Partition), long>();

    public long EventsIn => Interlocked.Read(ref _eventsIn);

    /// <summary>The partitions this instance owns, refreshed by the pipeline every second.</summary>
    public IReadOnlyList<PartitionStatus> Partitions { get; set; } = [];

    /// <summary>Records waiting between the consumer and the pipeline: the back-pressure gauge.</summary>
    public Func<int>? InputQueueDepth { get; set; }

    private long _checkpoints;
    private long _lastCheckpointBytes;
    private double _lastCheckpointMs = double.NaN;

    /// <summary>Checkpoints taken since start (all partitions of one round count once).</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    public long LastCheckpointBytes => Interlocked.Read(ref _lastCheckpointBytes);

    /// <summary>Duration of the last checkpoint round, including the wait for the sinks; NaN before the first.</summary>
    public double LastCheckpointMs => Volatile.Read(ref _lastCheckpointMs);

    public DateTimeOffset? LastCheckpointAt { get; private set; }

    private long _checkpointFailures;

    /// <summary>Checkpoint rounds that failed (the store was down) and were retried at the next interval.</summary>
    public long CheckpointFailures => Interlocked.Read(ref _checkpointFailures);

    public void CountCheckpointFailure() => Interlocked.Increment(ref _checkpointFailures);

    private long _logTruncations;

    /// <summary>Times a partition's offsets went backwards (the broker's log was truncated or replaced) and the
    /// partition carried on from the broker's log instead.</summary>
    public long LogTruncations => Interlocked.Read(ref _logTruncations);

    public void CountLogTruncation() => Interlocked.Increment(ref _logTruncations);

    public void RecordCheckpoint(double ms, long bytes, DateTimeOffset at)
    {
        Interlocked.Increment(ref _checkpoints);
        Interlocked.Exchange(ref _lastCheckpointBytes, bytes);
        Volatile.Write(ref _lastCheckpointMs, ms);
        LastCheckpointAt = at;
    }

    public long Notifications => Interlocked.Read(ref _notifications);

    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    public long AlertsStored => Interlocked.Read(ref _alertsStored);

    public long UnknownTypes { get; set; }

    /// <summary>Forwarded events the shared stage on this instance holds for reordering (0 where it does not run).</summary>
    public long SharedBuffered { get; set; }

    /// <summary>Forwarded events the shared stage took behind what it had released (run out of order), since it started here.</summary>
    public long SharedBehind { get; set; }

    public long MaxEventTimeMs => Interlocked.Read(ref _maxEventTimeMs);

    public long TrackedKeys => Interlocked.Read(ref _trackedKeys);

    public TimeSpan Uptime => _uptime.Elapsed;

    /// <summary>Messages consumed, whatever became of them; the input rate is measured on these.</summary>
    public void CountMessage() => CountMessages(1);

    /// <summary><paramref name="count"/> messages consumed (see <see cref="CountMessage"/>).</summary>
    public void CountMessages(long count)
    {
        if (count <= 0)
        {
            return;
        }
        var second = (long)_uptime.Elapsed.TotalSeconds;
        lock (_rateLock)
        {
            var slot = (int)(second % RateSeconds);
            if (_bucketSecond[slot] != second)
            {
                _bucketSecond[slot] = second;
                _buckets[slot] = 0;
            }
            _buckets[slot] += count;
        }
    }

    public void CountEvent(long eventTimeMs) => CountEvents(1, eventTimeMs);

    /// <summary><paramref name="count"/> events processed, the newest event time among them <paramref name="eventTimeMs"/>.</summary>
    public void CountEvents(long count, long eventTimeMs)
    {
        if (count <= 0)
        {
            return;
        }
        Interlocked.Add(ref _eventsIn, count);
        long seen;
        while (eventTimeMs > (seen = Interlocked.Read(ref _maxEventTimeMs))
            && Interlocked.CompareExchange(ref _maxEventTimeMs, eventTimeMs, seen) != seen)
        {
        }
    }

    public void CountNotification() => Interlocked.Increment(ref _notifications);

    public void CountDeadLetter() => Interlocked.Increment(ref _deadLetters);

    public void SetTrackedKeys(long keys) => Interlocked.Exchange(ref _trackedKeys, keys);

    public void CountAlert(Severity severity)
    {
        switch (severity)
        {
            case Severity.Low: Interlocked.Increment(ref _alertsLow); break;
            case Severity.Medium: Interlocked.Increment(ref _alertsMedium); break;
            case Severity.High: Interlocked.Increment(ref _alertsHigh); break;
            case Severity.Critical: Interlocked.Increment(ref _alertsCritical); break;
            default: break;
        }
    }

    public void CountStored(int alerts) => Interlocked.Add(ref _alertsStored, alerts);

    /// <summary>Alerts raised since start, by severity.</summary>
    public (long Low, long Medium, long High, long Critical) AlertsRaised =>
        (Interlocked.Read(ref _alertsLow), Interlocked.Read(ref _alertsMedium), Interlocked.Read(ref _alertsHigh), Interlocked.Read(ref _alertsCritical));

    /// <summary>Messages per second over the last complete seconds of the window.</summary>
    public double MessagesPerSecond
    {
        get
        {
            var now = (long)_uptime.Elapsed.TotalSeconds;
            long sum = 0;
            var seconds = 0;
            lock (_rateLock)
            {
                // The current second is still filling; average the complete ones before it.
                for (var s = now - RateSeconds + 1; s < now; s++)
                {
                    if (s < 0)
                    {
                        continue;
                    }
                    seconds++;
                    var slot = (int)(s % RateSeconds);
                    if (_bucketSecond[slot] == s)
                    {
                        sum += _buckets[slot];
                    }
                }
            }
            return seconds == 0 ? 0 : (double)sum / seconds;
        }
    }
}

/// <summary>One owned partition, as the pipeline page shows it.</summary>
public sealed record PartitionStatus(string Topic, int Partition, long LastOffset, long CheckpointedOffset, long Lag,
    string? Watermark, long Events, long LateEvents, long DeadLetters, int TrackedKeys, long StateBytes,
    long LastCheckpointId, int LastCheckpointBytes, double LastCheckpointMs);
