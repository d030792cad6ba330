using System.Diagnostics;
using Vigil.Core.Features;
using Vigil.Core.Ml;

namespace Vigil.Ml;

/// <summary>Settings of <see cref="ModelTrainer"/>.</summary>
public sealed record TrainerSettings
{
    /// <summary>The k-means settings (<c>ml.clustering.k</c> is <see cref="KMeansSettings.K"/>).</summary>
    public KMeansSettings KMeans { get; init; } = new();

    /// <summary>The forest's settings; its threshold is <c>ml.anomaly.threshold</c>.</summary>
    public IsolationForestOptions Forest { get; init; } = new();

    /// <summary>Rows the silhouette is measured on at most (it is quadratic).</summary>
    public int SilhouetteSample { get; init; } = 2000;

    /// <summary>Fewer users than this is not worth a model: training is skipped.</summary>
    public int MinUsers { get; init; } = 50;
}

/// <summary>What a training produced: both models and their records, or the reason there are none.</summary>
public sealed record TrainingResult(SegmentModel? Segments, ModelInfo? SegmentsInfo, AnomalyModel? Anomaly, ModelInfo? AnomalyInfo, string? SkippedBecause)
{
    /// <summary>True when both models were trained.</summary>
    public bool Trained => Segments is not null && Anomaly is not null;
}

/// <summary>
/// Trains both models on one sample of users: fits the standardisation, k-means (ML.NET) and an isolation forest
/// (Vigil.Core) on the standardised rows, and measures them — inertia and silhouette for k-means; score percentiles,
/// the share above the threshold and, when labelled anomalous users are known, the ROC AUC for the forest.
/// </summary>
public static class ModelTrainer
{
    /// <summary>Trains on <paramref name="sample"/>; the models get versions from <paramref name="registry"/> but are not published.</summary>
    /// <param name="sample">Users and their raw features.</param>
    /// <param name="settings">Model settings.</param>
    /// <param name="registry">Hands out the version numbers.</param>
    /// <param name="clock">Stamps <see cref="ModelInfo.TrainedAt"/>.</param>
    /// <param name="anomalousUsers">Users known to be anomalous (the simulator's labels), for the AUC; null when unknown.</param>
    /// <param name="ct">Cancels between the steps.</param>
    public static TrainingResult Train(FeatureSample sample, TrainerSettings settings, ModelRegistry registry, TimeProvider clock,
        IReadOnlySet<string>? anomalousUsers = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(clock);
        var n = sample.Count;
        if (n < Math.Max(settings.MinUsers, settings.KMeans.K))
        {
            return new TrainingResult(null, null, null, null, $"{n} users in the sample; training needs at least {Math.Max(settings.MinUsers, settings.KMeans.K)}");
        }
        var d = UserFeatures.Count;
        var logScaled = new bool[d];
        for (var f = 0; f < d; f++)
        {
            logScaled[f] = UserFeatures.IsLogScaled((UserFeature)f);
        }
        var scaler = FeatureScaler.Fit(sample.Rows, UserFeatures.Names, logScaled);
        var scaled = new float[sample.Rows.Length];
        scaler.TransformRows(sample.Rows, scaled);
        ct.ThrowIfCancellationRequested();

        // K-means.
        var fit = MlNetKMeans.Fit(scaled, d, settings.KMeans, ct);
        var assignments = new int[n];
        var inertia = ClusterMetrics.Inertia(scaled, d, fit.Centroids, fit.K, assignments);
        var silhouette = ClusterMetrics.Silhouette(scaled, d, assignments, fit.K, settings.SilhouetteSample, (ulong)settings.KMeans.Seed);
        var segments = new SegmentModel(registry.NextVersion(), scaler, fit.Centroids, fit.K);
        var sizes = new int[fit.K];
        foreach (var a in assignments)
        {
            sizes[a]++;
        }
        var kmMetrics = new Dictionary<string, double?>(StringComparer.Ordinal)
        {
            ["inertia"] = Math.Round(inertia, 3),
            ["inertiaPerUser"] = Math.Round(inertia / n, 5),
            ["silhouette"] = double.IsNaN(silhouette) ? null : Math.Round(silhouette, 4),
            ["smallestSegmentShare"] = Math.Round((double)Min(sizes) / n, 4),
            ["largestSegmentShare"] = Math.Round((double)Max(sizes) / n, 4),
        };
        var kmInfo = new ModelInfo(ModelKinds.KMeans, segments.Version, clock.GetUtcNow(), n, Math.Round(fit.FitMs, 2),
            new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["k"] = fit.K,
                ["restarts"] = settings.KMeans.Restarts,
                ["maxIterations"] = settings.KMeans.MaxIterations,
                ["seed"] = settings.KMeans.Seed,
                ["features"] = d,
            }, kmMetrics);
        ct.ThrowIfCancellationRequested();

        // Isolation forest.
        var start = Stopwatch.GetTimestamp();
        var forest = IsolationForest.Fit(scaled, d, settings.Forest);
        var fitMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var scores = new double[n];
        forest.ScoreBatch(scaled, scores);
        var anomaly = new AnomalyModel(registry.NextVersion(), scaler, forest);
        var sorted = (double[])scores.Clone();
        Array.Sort(sorted);
        var above = 0;
        foreach (var s in scores)
        {
            above += forest.IsAnomaly(s) ? 1 : 0;
        }
        double? auc = null;
        if (anomalousUsers is { Count: > 0 })
        {
            var labels = new bool[n];
            for (var i = 0; i < n; i++)
            {
                labels[i] = anomalousUsers.Contains(sample.UserIds[i]);
            }
            var value = RocAuc.Compute(scores, labels);
            auc = double.IsNaN(value) ? null : Math.Round(value, 4);
        }
        var ifMetrics = new Dictionary<string, double?>(StringComparer.Ordinal)
        {
            ["scoreP50"] = Math.Round(ClusterMetrics.Percentile(sorted, 50), 4),
            ["scoreP90"] = Math.Round(ClusterMetrics.Percentile(sorted, 90), 4),
            ["scoreP95"] = Math.Round(ClusterMetrics.Percentile(sorted, 95), 4),
            ["scoreP99"] = Math.Round(ClusterMetrics.Percentile(sorted, 99), 4),
            ["scoreMax"] = Math.Round(sorted[^1], 4),
            ["shareAboveThreshold"] = Math.Round((double)above / n, 5),
            ["auc"] = auc,
        };
        var ifInfo = new ModelInfo(ModelKinds.IsolationForest, anomaly.Version, clock.GetUtcNow(), n, Math.Round(fitMs, 2),
            new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["trees"] = forest.TreeCount,
                ["sampleSize"] = forest.SampleSize,
                ["maxDepth"] = forest.MaxDepth,
                ["seed"] = forest.Seed,
                ["threshold"] = forest.Threshold,
                ["features"] = d,
            }, ifMetrics);
        return new TrainingResult(segments, kmInfo, anomaly, ifInfo, null);
    }

    private static int Min(int[] values)
    {
        var m = int.MaxValue;
        foreach (var v in values)
        {
            m = Math.Min(m, v);
        }
        return m;
    }

    private static int Max(int[] values)
    {
        var m = 0;
        foreach (var v in values)
        {
            m = Math.Max(m, v);
        }
        return m;
    }
}
