using Vigil.Core.Features;
using Vigil.Core.Ml;
using Vigil.Ml;
using Vigil.Storage;

namespace Vigil.Server.Ml;

/// <summary>The outcome of one training run.</summary>
/// <param name="Trained">True when new models went into service.</param>
/// <param name="Users">Users in the sample.</param>
/// <param name="KMeans">The new k-means record, when trained.</param>
/// <param name="IsolationForest">The new forest's record, when trained.</param>
/// <param name="Reason">Why nothing was trained, or the error.</param>
/// <param name="At">When the run ended.</param>
public sealed record RetrainOutcome(bool Trained, int Users, [property: System.Text.Json.Serialization.JsonPropertyName("kmeans")] ModelInfo? KMeans,
    [property: System.Text.Json.Serialization.JsonPropertyName("iforest")] ModelInfo? IsolationForest, string? Reason, DateTimeOffset At);

/// <summary>
/// Trains both models on the reservoir's sample periodically (<see cref="MlOptions.RetrainInterval"/>; every
/// <see cref="MlOptions.FirstTrainingInterval"/> until the first model exists) and on demand
/// (<see cref="RetrainAsync"/>, POST /api/ml/retrain). A trained pair is swapped into the <see cref="ModelRegistry"/>
/// at once (the stream never pauses), saved to the model directory, recorded in ml_model_metrics and announced as
/// MODEL_TRAINED insights. At start the saved models are loaded and served before anything is trained.
/// </summary>
/// <remarks>One training at a time; it runs on a thread-pool thread, never on a partition's.</remarks>
public sealed class ModelTrainerService(ModelRegistry registry, FeatureReservoir reservoir, MlOptions options, ModelDirectory directory,
    IVigilStore store, IInsightSink insights, KnownAnomalies labels, TimeProvider clock, ILogger<ModelTrainerService> logger)
    : BackgroundService
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private RetrainOutcome? _last;

    /// <summary>The last run's outcome; null before the first.</summary>
    public RetrainOutcome? LastOutcome => Volatile.Read(ref _last);

    /// <summary>True while a training runs.</summary>
    public bool Running => _gate.CurrentCount == 0;

    /// <summary>When the next periodic run is due (wall clock).</summary>
    public DateTimeOffset? NextRunAt { get; private set; }

    /// <summary>Loads the saved models before the host starts serving, so the first events are already scored.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (directory.Load() is { Segments: { } s, SegmentsInfo: { } si, Anomaly: { } a, AnomalyInfo: { } ai })
            {
                registry.Publish(s, si, a.Forest.Threshold == options.AnomalyThreshold ? a : a with { Forest = a.Forest.WithThreshold(options.AnomalyThreshold) }, ai);
                logger.LogInformation("Loaded models from {Directory}: k-means v{KMeans} ({K} segments), isolation forest v{Forest}",
                    directory.Path, s.Version, s.K, a.Version);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(ex, "The saved models in {Directory} cannot be loaded; they will be retrained", directory.Path);
        }
        await base.StartAsync(cancellationToken);
    }

    /// <summary>Trains now (waiting for a run in progress to finish first) and returns what happened.</summary>
    public async Task<RetrainOutcome> RetrainAsync(string reason, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var outcome = await Task.Run(() => TrainOnce(reason, ct), ct);
            Volatile.Write(ref _last, outcome);
            if (outcome.Trained)
            {
                await RecordAsync(outcome, ct);
            }
            return outcome;
        }
        finally
        {
            _gate.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var wait = registry.Current.Segments is null ? options.FirstTrainingInterval : options.RetrainInterval;
                NextRunAt = clock.GetUtcNow() + wait;
                await Task.Delay(wait, clock, stoppingToken);
                try
                {
                    await RetrainAsync("periodic", stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "Periodic training failed");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private RetrainOutcome TrainOnce(string reason, CancellationToken ct)
    {
        var newest = reservoir.NewestUpdateMs;
        var since = newest == long.MinValue ? long.MinValue : newest - (long)options.SampleMaxAge.TotalMilliseconds;
        var sample = reservoir.Snapshot(since);
        var settings = new TrainerSettings
        {
            KMeans = new KMeansSettings { K = options.ClusteringK, Restarts = options.KMeansRestarts, Seed = options.Seed },
            Forest = new IsolationForestOptions
            {
                Trees = options.Trees,
                SampleSize = options.ForestSample,
                Seed = (ulong)options.Seed,
                Threshold = options.AnomalyThreshold,
            },
            MinUsers = options.MinUsers,
        };
        var result = ModelTrainer.Train(sample, settings, registry, clock, labels.Snapshot(), ct);
        if (!result.Trained)
        {
            logger.LogInformation("Training ({Reason}) skipped: {Why}", reason, result.SkippedBecause);
            return new RetrainOutcome(false, sample.Count, null, null, result.SkippedBecause, clock.GetUtcNow());
        }
        // The swap: one reference write; partitions pick the new models up at their next event.
        registry.Publish(result.Segments, result.SegmentsInfo, result.Anomaly, result.AnomalyInfo);
        logger.LogInformation("Trained ({Reason}) on {Users} users: k-means v{KMeans} [{Names}] inertia {Inertia} silhouette {Silhouette}; forest v{Forest} p99 {P99}",
            reason, sample.Count, result.Segments!.Version, string.Join(", ", result.Segments.Names), result.SegmentsInfo!.Metrics["inertia"],
            result.SegmentsInfo.Metrics["silhouette"], result.Anomaly!.Version, result.AnomalyInfo!.Metrics["scoreP99"]);
        try
        {
            directory.Save(result.Segments, result.SegmentsInfo, result.Anomaly, result.AnomalyInfo);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(ex, "Saving the models to {Directory} failed; they serve from memory until the next training", directory.Path);
        }
        return new RetrainOutcome(true, sample.Count, result.SegmentsInfo, result.AnomalyInfo, null, clock.GetUtcNow());
    }

    private async Task RecordAsync(RetrainOutcome outcome, CancellationToken ct)
    {
        foreach (var info in new[] { outcome.KMeans!, outcome.IsolationForest! })
        {
            try
            {
                await store.InsertModelMetricsAsync(info, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Recording {Kind} v{Version} in ml_model_metrics failed", info.Kind, info.Version);
            }
            insights.Publish(ModelTrainedInsight(info));
        }
    }

    /// <summary>The MODEL_TRAINED insight of a model.</summary>
    internal static Insight ModelTrainedInsight(ModelInfo info) => new()
    {
        InsightId = Insight.MakeId(InsightKinds.ModelTrained, info.Kind, info.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Kind = InsightKinds.ModelTrained,
        Timestamp = info.TrainedAt,
        Payload = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["model"] = info.Kind,
            ["version"] = info.Version,
            ["sampleCount"] = info.SampleCount,
            ["trainingMs"] = info.TrainingMs,
            ["parameters"] = info.Parameters,
            ["metrics"] = info.Metrics,
        },
    };

    public override void Dispose()
    {
        _gate.Dispose();
        base.Dispose();
    }
}
