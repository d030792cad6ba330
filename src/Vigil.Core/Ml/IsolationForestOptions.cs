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

    /// <summary>
    /// Where the random choices come from (default <see cref="IsolationForestRandomness.Fast"/>). With
    /// <see cref="IsolationForestRandomness.ScikitLearn"/> a forest fitted with seed s is the one scikit-learn 1.2.1's
    /// <c>IsolationForest(random_state=s)</c> fits on the same float32 data, tree for tree.
    /// </summary>
    public IsolationForestRandomness Randomness { get; init; } = IsolationForestRandomness.Fast;

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
        if (!Enum.IsDefined(Randomness))
        {
            throw new ArgumentOutOfRangeException(nameof(Randomness), Randomness, "randomness must be Fast or ScikitLearn.");
        }
        if (MaxDegreeOfParallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "parallelism must be at least 1.");
        }
    }
}

/// <summary>The random choices of an <see cref="IsolationForest"/> fit; both give forests equal in distribution.</summary>
public enum IsolationForestRandomness
{
    /// <summary>
    /// xoshiro256** per tree and ψ rows drawn in O(ψ): the cheapest fit whatever the number of rows. The default, and
    /// what the streaming models use.
    /// </summary>
    Fast,

    /// <summary>
    /// numpy's MT19937 and scikit-learn's own draws in its order (bagging seeds, row sampling, the splitter's xorshift),
    /// so seed s gives exactly the trees and scores of scikit-learn 1.2.1's <c>IsolationForest(random_state=s)</c>
    /// with its defaults (all features, no bootstrap). Drawing the rows costs O(n) per tree when ψ is between 1 % and
    /// 99 % of the n rows (a permutation of all of them, as numpy does). Seeds above 2^32 − 1, which numpy refuses as
    /// integers, seed as <c>RandomState([low 32 bits, high 32 bits])</c>.
    /// </summary>
    ScikitLearn,
}
