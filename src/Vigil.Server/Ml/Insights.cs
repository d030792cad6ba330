using System.Threading.Channels;
using Vigil.Core.Ml;
using Vigil.Kafka;
using Vigil.Server.Hosting;
using Vigil.Storage;

namespace Vigil.Server.Ml;

/// <summary>
/// The <see cref="IInsightSink"/> the stream publishes to: a bounded queue that never blocks the per-event path. When
/// the writer falls that far behind, insights are dropped and counted (they are analytics, not alerts).
/// </summary>
public sealed class InsightQueue : IInsightSink
{
    private readonly Channel<Insight> _channel = Channel.CreateBounded<Insight>(
        new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private long _published;
    private long _dropped;

    /// <summary>Insights queued.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Insights dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    internal ChannelReader<Insight> Reader => _channel.Reader;

    public void Publish(Insight insight)
    {
        ArgumentNullException.ThrowIfNull(insight);
        if (_channel.Writer.TryWrite(insight))
        {
            Interlocked.Increment(ref _published);
        }
        else
        {
            Interlocked.Increment(ref _dropped);
        }
    }
}

/// <summary>An <see cref="IInsightSink"/> resolved at the first publish: the stream's options are built before the host.</summary>
public sealed class DeferredInsightSink(Func<IInsightSink> resolve) : IInsightSink
{
    private IInsightSink? _sink;

    public void Publish(Insight insight) => (_sink ??= resolve()).Publish(insight);
}

/// <summary>
/// Drains the <see cref="InsightQueue"/> in batches: every insight goes to the <c>analytics-insights</c> topic (key =
/// user id, else the kind), each SEGMENT_ASSIGNED or SEGMENT_CHANGED becomes the user's row in
/// user_behavior_patterns (newest event time wins, so replays are harmless), and each BEHAVIOR_ANOMALY sets the
/// anomaly_score of the user's row (or of the row the user's first segment creates later).
/// </summary>
public sealed class InsightWriterService(InsightQueue queue, KafkaProducer producer, VigilOptions options, IVigilStore store,
    ILogger<InsightWriterService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Insight>(512);
        var rows = new List<UserBehaviorPattern>(512);
        var scores = new List<UserAnomalyScore>(64);
        var pending = new Dictionary<string, UserAnomalyScore>(StringComparer.Ordinal);
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                rows.Clear();
                scores.Clear();
                while (batch.Count < 2000 && queue.Reader.TryRead(out var insight))
                {
                    batch.Add(insight);
                    if (ToPattern(insight) is { } row)
                    {
                        rows.Add(row);
                    }
                    else if (ToAnomalyScore(insight) is { } score)
                    {
                        scores.Add(score);
                        Remember(pending, score);
                    }
                }
                foreach (var insight in batch)
                {
                    producer.Produce(options.AnalyticsInsightsTopic, insight.Key, InsightJson.ToUtf8Bytes(insight));
                }
                ApplyPendingScores(rows, pending);
                await StoreAsync(rows, stoppingToken);
                if (scores.Count > 0)
                {
                    // After the rows, so a user whose first segment and first anomaly share a batch gets the score.
                    await StoreAsync(() => store.SetAnomalyScoresAsync(scores, stoppingToken), scores.Count, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private Task StoreAsync(List<UserBehaviorPattern> rows, CancellationToken ct) =>
        rows.Count == 0 ? Task.CompletedTask : StoreAsync(() => store.UpsertUserBehaviorPatternsAsync(rows, ct), rows.Count, ct);

    private async Task StoreAsync(Func<Task<int>> write, int count, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await write();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && attempt < 5)
            {
                logger.LogWarning(ex, "Storing {Count} user segments or anomaly scores failed (attempt {Attempt}); retrying", count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt * attempt), ct);
            }
        }
    }

    /// <summary>Users scored before they had a segment row: their score is written with their first row.</summary>
    private const int MaxPendingScores = 100_000;

    internal static void Remember(Dictionary<string, UserAnomalyScore> pending, UserAnomalyScore score)
    {
        if (pending.Count < MaxPendingScores || pending.ContainsKey(score.UserId))
        {
            pending[score.UserId] = score;
        }
    }

    /// <summary>
    /// Gives each segment row of a user scored earlier that user's latest score, and forgets it: an anomaly can come
    /// before the user's first segment (the segment model trains later, or the user has too few events), and
    /// SetAnomalyScoresAsync only updates existing rows.
    /// </summary>
    internal static void ApplyPendingScores(List<UserBehaviorPattern> rows, Dictionary<string, UserAnomalyScore> pending)
    {
        if (pending.Count == 0)
        {
            return;
        }
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows[i].AnomalyScore is null && pending.Remove(rows[i].UserId, out var score))
            {
                rows[i] = rows[i] with { AnomalyScore = score.Score };
            }
        }
    }

    /// <summary>The anomaly_score update a BEHAVIOR_ANOMALY insight stands for; null for other kinds.</summary>
    internal static UserAnomalyScore? ToAnomalyScore(Insight insight) =>
        insight.UserId is { } user && insight.Kind == InsightKinds.BehaviorAnomaly
            && insight.Payload.GetValueOrDefault("anomalyScore") is double score
            ? new UserAnomalyScore(user, score, insight.Timestamp)
            : null;

    /// <summary>The user_behavior_patterns row a segment insight stands for; null for other kinds.</summary>
    internal static UserBehaviorPattern? ToPattern(Insight insight)
    {
        if (insight.UserId is null || insight.Kind is not (InsightKinds.SegmentAssigned or InsightKinds.SegmentChanged)
            || insight.Payload.GetValueOrDefault("segment") is not string segment)
        {
            return null;
        }
        var features = new Dictionary<string, double>(StringComparer.Ordinal);
        if (insight.Payload.GetValueOrDefault("features") is IReadOnlyDictionary<string, object?> values)
        {
            foreach (var (name, value) in values)
            {
                if (value is double d)
                {
                    features[name] = d;
                }
            }
        }
        var index = insight.Payload.GetValueOrDefault("segmentIndex") is int i ? i : -1;
        var version = insight.Payload.GetValueOrDefault("modelVersion") is int v ? v : 0;
        return new UserBehaviorPattern(insight.UserId, segment, index, version, features, null, insight.Timestamp);
    }
}
