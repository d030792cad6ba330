namespace Vigil.Core.Ml;

/// <summary>How an <see cref="IsolationForest"/> is fitted. The defaults are the paper's (and scikit-learn's).</summary>
public sealed record IsolationForestOptions
{
    /// <summary>The threshold used when none is configured (<c>ml.anomaly.threshold</c>).</summary>
    public const double DefaultThreshold = 0.8;

    /// <summary>Number of isolation trees (default 100).</summary>
    public int Trees { get; init; } = 100;

    /// <summary>ψ, the rows drawn without replacement for each tree (default 256); capped at the number of rows.</summary>
    public int SampleSize { get; init; } = 256;

    /// <summary>The height limit; null means the paper's ceil(log2 ψ) for the effective ψ.</summary>
    public int? MaxDepth { get; init; }

    /// <summary>Seed of the generator: the same seed and data give the same forest, bit for bit.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>A score at or above this is an anomaly (default 0.8); in (0, 1].</summary>
    public double Threshold { get; init; } = DefaultThreshold;

    /// <summary>
    /// Trees fitted at once (default 1). The forest does not depend on it: each tree has its own generator derived
    /// from <see cref="Seed"/> and its index.
    /// </summary>
    public int MaxDegreeOfParallelism { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (Trees is < 1 or > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(Trees), Trees, "trees must be from 1 to 100000.");
        }
        if (SampleSize is < 2 or > 1 << 24)
        {
            throw new ArgumentOutOfRangeException(nameof(SampleSize), SampleSize, "the sample size ψ must be from 2 to 16777216.");
        }
        if (MaxDepth is { } depth and (< 1 or > IsolationForest.MaxSupportedDepth))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDepth), depth, $"the height limit must be from 1 to {IsolationForest.MaxSupportedDepth}.");
        }
        if (!(Threshold > 0 && Threshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "the anomaly threshold must be in (0, 1].");
        }
        if (MaxDegreeOfParallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "parallelism must be at least 1.");
        }
    }
}
