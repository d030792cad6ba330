namespace Vigil.Core.Ml;

/// <summary>What is known of one trained model: the registry's record and the <c>ml_model_metrics</c> row.</summary>
/// <param name="Kind"><see cref="ModelKinds.KMeans"/> or <see cref="ModelKinds.IsolationForest"/>.</param>
/// <param name="Version">Increases by one with each model of the registry, whatever its kind.</param>
/// <param name="TrainedAt">When training finished (wall clock).</param>
/// <param name="SampleCount">Rows (users) trained on.</param>
/// <param name="TrainingMs">Time spent fitting, in milliseconds.</param>
/// <param name="Parameters">Settings, for example k, trees, ψ, seed.</param>
/// <param name="Metrics">Quality, for example inertia and silhouette, or score percentiles and AUC; a value is null when undefined.</param>
public sealed record ModelInfo(
    string Kind,
    int Version,
    DateTimeOffset TrainedAt,
    int SampleCount,
    double TrainingMs,
    IReadOnlyDictionary<string, double> Parameters,
    IReadOnlyDictionary<string, double?> Metrics);

/// <summary>The model kinds of the registry.</summary>
public static class ModelKinds
{
    public const string KMeans = "kmeans";

    public const string IsolationForest = "iforest";

    /// <summary>BEHAVIOR_ANOMALY's forest, learnt in the stream; its versions count its own refits.</summary>
    public const string Behavior = "behavior";
}

/// <summary>
/// The models in service at one moment: a segmentation and an anomaly model (either may be missing before the first
/// training) with their records. Immutable: a new training publishes a new instance, so a reader that took one sees
/// a consistent pair for as long as it holds it.
/// </summary>
public sealed record ModelSet(SegmentModel? Segments, ModelInfo? SegmentsInfo, AnomalyModel? Anomaly, ModelInfo? AnomalyInfo)
{
    /// <summary>No model yet.</summary>
    public static ModelSet Empty { get; } = new(null, null, null, null);
}

/// <summary>
/// The models the stream uses, swapped atomically: the trainer publishes a new <see cref="ModelSet"/> with one
/// reference write, and every reader (the per-event path included) takes <see cref="Current"/> with one volatile read,
/// so the stream never pauses and never sees half a swap. Keeps the records of every model published, newest last.
/// </summary>
/// <remarks>Thread-safe. Publishing is serialised; reading takes no lock.</remarks>
public sealed class ModelRegistry
{
    private readonly Lock _publishLock = new();
    private readonly List<ModelInfo> _history = [];
    private ModelSet _current = ModelSet.Empty;
    private int _lastVersion;

    /// <summary>The models in service now.</summary>
    public ModelSet Current => Volatile.Read(ref _current);

    /// <summary>The highest version handed out or published.</summary>
    public int LastVersion => Volatile.Read(ref _lastVersion);

    /// <summary>Raised after each publish, on the publishing thread.</summary>
    public event Action<ModelSet>? Published;

    /// <summary>A new version number, higher than every one before (including loaded models').</summary>
    public int NextVersion() => Interlocked.Increment(ref _lastVersion);

    /// <summary>The records of every model published, oldest first.</summary>
    public IReadOnlyList<ModelInfo> History()
    {
        lock (_publishLock)
        {
            return [.. _history];
        }
    }

    /// <summary>Puts new models into service together. A model that is null keeps the one in service.</summary>
    /// <returns>The set now in service.</returns>
    public ModelSet Publish(SegmentModel? segments, ModelInfo? segmentsInfo, AnomalyModel? anomaly, ModelInfo? anomalyInfo)
    {
        ModelSet next;
        lock (_publishLock)
        {
            var current = _current;
            next = new ModelSet(
                segments ?? current.Segments, segments is null ? current.SegmentsInfo : segmentsInfo,
                anomaly ?? current.Anomaly, anomaly is null ? current.AnomalyInfo : anomalyInfo);
            if (segments is not null && segmentsInfo is not null)
            {
                _history.Add(segmentsInfo);
                Bump(segments.Version);
            }
            if (anomaly is not null && anomalyInfo is not null)
            {
                _history.Add(anomalyInfo);
                Bump(anomaly.Version);
            }
            // Readers never lock: the new set becomes visible whole, with one reference write.
            Volatile.Write(ref _current, next);
        }
        Published?.Invoke(next);
        return next;
    }

    private void Bump(int version)
    {
        int seen;
        while ((seen = Volatile.Read(ref _lastVersion)) < version)
        {
            if (Interlocked.CompareExchange(ref _lastVersion, version, seen) == seen)
            {
                break;
            }
        }
    }
}
