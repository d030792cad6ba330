using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Vigil.Core.Ml;

namespace Vigil.Ml;

/// <summary>Settings of a k-means fit.</summary>
public sealed record KMeansSettings
{
    /// <summary>Clusters (<c>ml.clustering.k</c>, default 5).</summary>
    public int K { get; init; } = 5;

    /// <summary>Independent fits from different k-means++ seeds, the one with the lowest inertia kept (scikit-learn's n_init).</summary>
    public int Restarts { get; init; } = 10;

    /// <summary>Lloyd iterations at most per fit (ML.NET's default is 1000).</summary>
    public int MaxIterations { get; init; } = 1000;

    /// <summary>Relative change of the loss under which a fit stops (ML.NET's default 1e-7).</summary>
    public float Tolerance { get; init; } = 1e-7f;

    /// <summary>Seed of the fits: fit i gets a seed mixed from (seed, i), so the starts of two seeds do not overlap.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Threads ML.NET may use (1 keeps fits reproducible and leaves the stream its cores).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(K, 1, nameof(K));
        ArgumentOutOfRangeException.ThrowIfLessThan(Restarts, 1, nameof(Restarts));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIterations, 1, nameof(MaxIterations));
        ArgumentOutOfRangeException.ThrowIfLessThan(Threads, 1, nameof(Threads));
        if (!(Tolerance > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "The tolerance must be positive.");
        }
    }
}

/// <summary>The outcome of a k-means fit.</summary>
/// <param name="Centroids">k centroids, row-major.</param>
/// <param name="K">The number of centroids.</param>
/// <param name="FeatureCount">Features per row.</param>
/// <param name="Inertia">Sum of squared distances of the rows to their nearest centroid (of the best restart).</param>
/// <param name="FitMs">Time of all restarts, in milliseconds (data conversion included).</param>
/// <param name="RestartInertias">The inertia of each restart, in order.</param>
public sealed record KMeansFit(float[] Centroids, int K, int FeatureCount, double Inertia, double FitMs, IReadOnlyList<double> RestartInertias);

/// <summary>
/// K-means with ML.NET's <see cref="KMeansTrainer"/>, k-means++ initialisation, on rows of floats. ML.NET runs one
/// initialisation per fit; like scikit-learn's n_init, <see cref="KMeansSettings.Restarts"/> fits are run from
/// different seeds and the lowest inertia wins, since a single k-means++ start can land in a poor local minimum.
/// </summary>
public static class MlNetKMeans
{
    /// <summary>Fits k centroids to <paramref name="rows"/> (row-major, <paramref name="featureCount"/> columns).</summary>
    /// <exception cref="ArgumentException">Fewer rows than k, not whole rows, or a NaN or infinity.</exception>
    public static KMeansFit Fit(ReadOnlyMemory<float> rows, int featureCount, KMeansSettings settings, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (featureCount < 1 || rows.Length % featureCount != 0)
        {
            throw new ArgumentException($"Rows must be whole rows of {featureCount} features.", nameof(rows));
        }
        var n = rows.Length / featureCount;
        if (n < settings.K)
        {
            throw new ArgumentException($"{n} rows cannot make {settings.K} clusters.", nameof(rows));
        }
        foreach (var v in rows.Span)
        {
            if (!float.IsFinite(v))
            {
                throw new ArgumentException("The rows hold a NaN or an infinity.", nameof(rows));
            }
        }

        var start = Stopwatch.GetTimestamp();
        var data = new Row[n];
        for (var r = 0; r < n; r++)
        {
            data[r] = new Row { Features = rows.Span.Slice(r * featureCount, featureCount).ToArray() };
        }
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);

        float[]? best = null;
        var bestInertia = double.PositiveInfinity;
        var inertias = new double[settings.Restarts];
        for (var i = 0; i < settings.Restarts; i++)
        {
            ct.ThrowIfCancellationRequested();
            var ml = new MLContext(seed: RestartSeed(settings.Seed, i));
            var view = ml.Data.LoadFromEnumerable(data, schema);
            var trainer = ml.Clustering.Trainers.KMeans(new KMeansTrainer.Options
            {
                FeatureColumnName = nameof(Row.Features),
                NumberOfClusters = settings.K,
                InitializationAlgorithm = KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
                MaximumNumberOfIterations = settings.MaxIterations,
                OptimizationTolerance = settings.Tolerance,
                NumberOfThreads = settings.Threads,
            });
            var model = trainer.Fit(view).Model;
            VBuffer<float>[] centroids = [];
            model.GetClusterCentroids(ref centroids, out var k);
            var flat = new float[k * featureCount];
            for (var c = 0; c < k; c++)
            {
                centroids[c].DenseValues().ToArray().CopyTo(flat, c * featureCount);
            }
            var inertia = ClusterMetrics.Inertia(rows.Span, featureCount, flat, k);
            inertias[i] = inertia;
            if (inertia < bestInertia)
            {
                bestInertia = inertia;
                best = flat;
            }
        }
        return new KMeansFit(best!, settings.K, featureCount, bestInertia, Stopwatch.GetElapsedTime(start).TotalMilliseconds, inertias);
    }

    /// <summary>The ML.NET seed of restart <paramref name="restart"/> of a fit seeded with <paramref name="seed"/>.</summary>
    internal static int RestartSeed(int seed, int restart) =>
        (int)(Vigil.Core.Features.StableHash.Mix(((ulong)(uint)seed << 32) | (uint)restart) & int.MaxValue);

    private sealed class Row
    {
        public float[] Features { get; set; } = [];
    }
}
