using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vigil.Core.Ml;

/// <summary>
/// An Isolation Forest (Liu, Ting and Zhou, 2008): anomalies are few and different, so random axis-parallel splits
/// isolate them in fewer steps than normal rows. The score of a row x is s(x) = 2^(−E[h(x)] / c(ψ)), where h is the
/// path length of x in a tree (edges walked, plus c(size) of the leaf it ends in, for the rows the height limit left
/// unseparated) and c(n) the average path length of an unsuccessful search in a binary search tree of n keys.
/// Scores are in (0, 1]: near 1 is anomalous, about 0.5 or below is normal. It matches scikit-learn's
/// IsolationForest (whose score_samples returns −s): with <see cref="IsolationForestRandomness.ScikitLearn"/> tree for
/// tree (seed s grows the trees of <c>random_state=s</c>), with the default <see cref="IsolationForestRandomness.Fast"/>
/// in distribution.
/// </summary>
/// <remarks>
/// Features are 32-bit floats, as scikit-learn converts them, in row-major order. A fitted forest is immutable and
/// safe to share between threads; scoring allocates nothing. Fitting rejects bad input with an exception (it is
/// configuration, not traffic); scoring a row that holds a NaN never throws and returns NaN ("no score"), which
/// <see cref="IsAnomaly"/> treats as not anomalous. Infinities are ordinary values: larger than any split.
/// </remarks>
public sealed partial class IsolationForest
{
    /// <summary>The deepest height limit a forest may have.</summary>
    public const int MaxSupportedDepth = 64;

    private const double EulerGamma = 0.5772156649015329;

    private readonly IsolationNode[] _nodes;
    private readonly int[] _sizes;
    private readonly int[] _roots;
    private readonly double _normaliser;

    // The scoring layout (see PerfectLayout): per tree a complete binary tree of height MaxDepth in breadth-first
    // order, internal node k packed as (feature << 32 | order key of the split), leaves as path lengths. Null when the
    // height limit makes complete trees too large, and then the node walk scores batches.
    private readonly ulong[]? _packed;
    private readonly float[]? _leafPaths;

    private IsolationForest(IsolationNode[] nodes, int[] sizes, int[] roots, int featureCount, int sampleSize, int maxDepth, ulong seed, double threshold)
    {
        _nodes = nodes;
        _sizes = sizes;
        _roots = roots;
        FeatureCount = featureCount;
        SampleSize = sampleSize;
        MaxDepth = maxDepth;
        Seed = seed;
        Threshold = threshold;
        _normaliser = AveragePathLength(sampleSize);
        if (maxDepth <= MaxPerfectDepth)
        {
            (_packed, _leafPaths) = PerfectLayout(nodes, roots, maxDepth);
        }
    }

    /// <summary>The number of features a row has.</summary>
    public int FeatureCount { get; }

    /// <summary>The number of trees.</summary>
    public int TreeCount => _roots.Length;

    /// <summary>The ψ actually used: the configured sample size capped at the number of training rows.</summary>
    public int SampleSize { get; }

    /// <summary>The height limit of the trees.</summary>
    public int MaxDepth { get; }

    /// <summary>The seed the forest was fitted with.</summary>
    public ulong Seed { get; }

    /// <summary>A score at or above this is an anomaly.</summary>
    public double Threshold { get; }

    /// <summary>Nodes in all trees together (internal nodes and leaves).</summary>
    public int NodeCount => _nodes.Length;

    /// <summary>The nodes of all trees (tests compare them with other implementations' trees).</summary>
    internal ReadOnlySpan<IsolationNode> Nodes => _nodes;

    /// <summary>The training rows that reached each node, parallel to <see cref="Nodes"/>.</summary>
    internal ReadOnlySpan<int> NodeSizes => _sizes;

    /// <summary>The index in <see cref="Nodes"/> of each tree's root.</summary>
    internal ReadOnlySpan<int> Roots => _roots;

    /// <summary>
    /// c(n), the average path length of an unsuccessful search in a binary search tree of n keys, which normalises
    /// path lengths: 2H(n−1) − 2(n−1)/n with the harmonic number H(i) ≈ ln i + γ; c(n) = 0 for n ≤ 1 and, as in
    /// scikit-learn, exactly 1 for n = 2 (where the approximation of H(1) would be poor).
    /// </summary>
    public static double AveragePathLength(int n)
    {
        if (n <= 1)
        {
            return 0;
        }
        if (n == 2)
        {
            return 1;
        }
        return 2.0 * (Math.Log(n - 1.0) + EulerGamma) - 2.0 * (n - 1.0) / n;
    }

    /// <summary>
    /// Fits a forest on <paramref name="data"/>: rows of <paramref name="featureCount"/> floats, row-major.
    /// </summary>
    /// <exception cref="ArgumentException">The data is empty, has fewer than 2 rows, is not whole rows, or holds a
    /// NaN or an infinity (the message names the row and feature).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting in <paramref name="options"/> is out of range.</exception>
    public static IsolationForest Fit(ReadOnlyMemory<float> data, int featureCount, IsolationForestOptions? options = null)
    {
        options ??= new IsolationForestOptions();
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(featureCount, 1);
        if (data.Length % featureCount != 0)
        {
            throw new ArgumentException($"{data.Length} values are not whole rows of {featureCount} features.", nameof(data));
        }
        var rowCount = data.Length / featureCount;
        if (rowCount < 2)
        {
            throw new ArgumentException($"an isolation forest needs at least 2 rows to fit, not {rowCount}.", nameof(data));
        }
        var span = data.Span;
        for (var i = 0; i < span.Length; i++)
        {
            if (!float.IsFinite(span[i]))
            {
                throw new ArgumentException(
                    $"row {i / featureCount}, feature {i % featureCount} is {span[i]}; fitting needs finite values.", nameof(data));
            }
        }

        var sampleSize = Math.Min(options.SampleSize, rowCount);
        var maxDepth = options.MaxDepth ?? BitOperations.Log2((uint)(sampleSize - 1)) + 1;
        var likeScikitLearn = options.Randomness == IsolationForestRandomness.ScikitLearn;
        var treeSeeds = new ulong[options.Trees];
        if (likeScikitLearn)
        {
            // BaseBagging._fit: seeds = RandomState(seed).randint(2^31 − 1, size=n_estimators).
            var twister = new MersenneTwister(0);
            twister.Seed(options.Seed);
            for (var t = 0; t < treeSeeds.Length; t++)
            {
                treeSeeds[t] = twister.NextBounded(int.MaxValue - 1);
            }
        }
        else
        {
            var seedState = options.Seed;
            for (var t = 0; t < treeSeeds.Length; t++)
            {
                treeSeeds[t] = Xoshiro256.SplitMix64(ref seedState);
            }
        }

        var trees = new (IsolationNode[] Nodes, int[] Sizes)[options.Trees];
        if (options.MaxDegreeOfParallelism == 1 || options.Trees == 1)
        {
            var builder = new IsolationTreeBuilder(rowCount, featureCount, sampleSize, maxDepth);
            for (var t = 0; t < trees.Length; t++)
            {
                trees[t] = likeScikitLearn ? builder.BuildLikeScikitLearn(span, (uint)treeSeeds[t]) : builder.Build(span, treeSeeds[t]);
            }
        }
        else
        {
            Parallel.For(
                0,
                trees.Length,
                new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism },
                () => new IsolationTreeBuilder(rowCount, featureCount, sampleSize, maxDepth),
                (t, _, builder) =>
                {
                    trees[t] = likeScikitLearn
                        ? builder.BuildLikeScikitLearn(data.Span, (uint)treeSeeds[t])
                        : builder.Build(data.Span, treeSeeds[t]);
                    return builder;
                },
                _ => { });
        }

        var total = 0;
        foreach (var tree in trees)
        {
            total += tree.Nodes.Length;
        }
        var nodes = new IsolationNode[total];
        var sizes = new int[total];
        var roots = new int[trees.Length];
        var offset = 0;
        for (var t = 0; t < trees.Length; t++)
        {
            var (treeNodes, treeSizes) = trees[t];
            roots[t] = offset;
            for (var i = 0; i < treeNodes.Length; i++)
            {
                var node = treeNodes[i];
                node.Left += offset;
                nodes[offset + i] = node;
            }
            treeSizes.CopyTo(sizes, offset);
            offset += treeNodes.Length;
        }
        return new IsolationForest(nodes, sizes, roots, featureCount, sampleSize, maxDepth, options.Seed, options.Threshold);
    }

    /// <summary>The same trees with another anomaly threshold in (0, 1].</summary>
    public IsolationForest WithThreshold(double threshold)
    {
        if (!(threshold > 0 && threshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the anomaly threshold must be in (0, 1].");
        }
        return new IsolationForest(_nodes, _sizes, _roots, FeatureCount, SampleSize, MaxDepth, Seed, threshold);
    }

    /// <summary>True when <paramref name="score"/> is at or above <see cref="Threshold"/>; false for NaN.</summary>
    public bool IsAnomaly(double score) => score >= Threshold;

    /// <summary>The anomaly score s(x) in (0, 1] of one row; NaN when the row holds a NaN.</summary>
    /// <exception cref="ArgumentException">The row does not have <see cref="FeatureCount"/> values.</exception>
    public double Score(ReadOnlySpan<float> row)
    {
        var mean = MeanPathLength(row);
        return double.IsNaN(mean) ? double.NaN : ScoreOf(mean);
    }

    /// <summary>E[h(x)], the mean over the trees of the row's path length; NaN when the row holds a NaN.</summary>
    /// <exception cref="ArgumentException">The row does not have <see cref="FeatureCount"/> values.</exception>
    public double MeanPathLength(ReadOnlySpan<float> row)
    {
        CheckRow(row);
        if (HasNaN(row))
        {
            return double.NaN;
        }
        Span<double> sum = stackalloc double[1];
        AccumulatePathLengths(row, 1, sum);
        return sum[0] / _roots.Length;
    }

    /// <summary>
    /// Scores <paramref name="scores"/>.Length rows held row-major in <paramref name="rows"/>, with the same result
    /// as <see cref="Score"/> on each; the trees are walked for a block of rows at a time so they stay in cache.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths do not agree with <see cref="FeatureCount"/>.</exception>
    public void ScoreBatch(ReadOnlySpan<float> rows, Span<double> scores) => ScoreBatch(rows, scores, ScoringPath.Auto);

    /// <summary>
    /// <see cref="ScoreBatch(ReadOnlySpan{float}, Span{double})"/> with the rows split into chunks scored on up to
    /// <paramref name="maxDegreeOfParallelism"/> threads; the scores are the same whatever the parallelism.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths do not agree with <see cref="FeatureCount"/>.</exception>
    public void ScoreBatch(ReadOnlyMemory<float> rows, Memory<double> scores, int maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, 1);
        if ((long)scores.Length * FeatureCount != rows.Length)
        {
            throw new ArgumentException(
                $"{rows.Length} values are not {scores.Length} rows of {FeatureCount} features.", nameof(rows));
        }
        const int MinChunk = 1024; // below this, handing work to another thread costs more than it saves
        if (maxDegreeOfParallelism == 1 || scores.Length < 2 * MinChunk)
        {
            ScoreBatch(rows.Span, scores.Span);
            return;
        }
        var chunk = Math.Max(MinChunk, (scores.Length + 4 * maxDegreeOfParallelism - 1) / (4 * maxDegreeOfParallelism));
        var chunks = (scores.Length + chunk - 1) / chunk;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, c =>
        {
            var start = c * chunk;
            var count = Math.Min(chunk, scores.Length - start);
            ScoreBatch(rows.Span.Slice(start * FeatureCount, count * FeatureCount), scores.Span.Slice(start, count));
        });
    }

    /// <summary>
    /// Scores one row and says which features made it stand out: <paramref name="attribution"/> (one slot per
    /// feature) receives non-negative shares that sum to 1 (all 0 when no split separated the row from anything,
    /// or when the row holds a NaN and the score is NaN).
    /// </summary>
    /// <remarks>
    /// The method is path-based, in the spirit of DIFFI (Carletti et al., "Depth-based Isolation Forest Feature
    /// Importance"). In each tree, every split on the row's path is credited with log2(n_node / n_child): the bits
    /// of isolation it contributed, where n_node is the number of training rows that reached the node and n_child
    /// those that went the row's way. A split that cuts the row off alone from many rows earns a lot; a split that
    /// keeps most rows with it earns little. The credits along a path add up to log2(ψ / n_leaf), so trees that
    /// isolate the row quickly and completely (what makes the score high) weigh most, and the features that did the
    /// isolating in them take most of the share. Credits are summed per split feature over the trees and normalised.
    /// Because features are drawn at random, splits on a feature in which the row is ordinary cut away little; so a
    /// row extreme in one feature attributes mostly to that feature.
    /// </remarks>
    /// <returns>The score, as <see cref="Score"/> returns it.</returns>
    /// <exception cref="ArgumentException">The row or the attribution span does not have <see cref="FeatureCount"/> slots.</exception>
    public double Explain(ReadOnlySpan<float> row, Span<double> attribution)
    {
        CheckRow(row);
        if (attribution.Length != FeatureCount)
        {
            throw new ArgumentException($"the attribution needs {FeatureCount} slots, not {attribution.Length}.", nameof(attribution));
        }
        attribution.Clear();
        if (HasNaN(row))
        {
            return double.NaN;
        }
        var nodes = _nodes;
        var sizes = _sizes;
        double pathSum = 0;
        double creditSum = 0;
        foreach (var root in _roots)
        {
            var i = root;
            while (nodes[i].Left != i)
            {
                ref readonly var node = ref nodes[i];
                var child = node.Left + (row[node.Feature] > node.Split ? 1 : 0);
                var credit = Math.Log2((double)sizes[i] / sizes[child]);
                attribution[node.Feature] += credit;
                creditSum += credit;
                i = child;
            }
            pathSum += nodes[i].PathLength;
        }
        if (creditSum > 0)
        {
            for (var f = 0; f < attribution.Length; f++)
            {
                attribution[f] /= creditSum;
            }
        }
        return ScoreOf(pathSum / _roots.Length);
    }

    private double ScoreOf(double meanPathLength) => double.Exp2(-meanPathLength / _normaliser);

    private void CheckRow(ReadOnlySpan<float> row)
    {
        if (row.Length != FeatureCount)
        {
            throw new ArgumentException($"a row needs {FeatureCount} features, not {row.Length}.", nameof(row));
        }
    }

    private static bool HasNaN(ReadOnlySpan<float> row)
    {
        foreach (var v in row)
        {
            if (float.IsNaN(v))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Sets <paramref name="sums"/>[r] to the sum over the trees of row r's path length. Every tree is walked exactly
    /// <see cref="MaxDepth"/> steps (leaves loop on themselves), without a data-dependent branch. A walk is a chain of
    /// dependent loads, so eight walks (eight rows in one tree, or one row in eight trees) advance side by side and the
    /// CPU overlaps their latencies; trees are the outer loop so a tree's nodes stay in L1 while a block passes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AccumulatePathLengths(ReadOnlySpan<float> rows, int count, Span<double> sums)
    {
        // Bounds: rows holds count × FeatureCount values (checked by the callers), every Feature is below
        // FeatureCount and every Left within the array (checked by Fit's construction and by Load).
        ref var nodes = ref MemoryMarshal.GetArrayDataReference(_nodes);
        ref var first = ref MemoryMarshal.GetReference(rows);
        ref var sum0 = ref MemoryMarshal.GetReference(sums);
        var stride = FeatureCount;
        var depth = MaxDepth;
        var roots = _roots;
        sums[..count].Clear();
        if (count == 1)
        {
            double total = 0;
            var t = 0;
            // Eight walks side by side: a lone row's forest is rarely still in cache (the pipeline scores one row now
            // and then), so the walks wait on memory, and eight chains of loads overlap more of that than four. The sum
            // keeps the four-tree grouping of the loop below (total += t0 + t1 + t2 + t3, twice), so the score is what four
            // walks gave; IsolationForestKernelTests compare it with the batch kernels bit for bit.
            for (; t + 8 <= roots.Length; t += 8)
            {
                int i0 = roots[t], i1 = roots[t + 1], i2 = roots[t + 2], i3 = roots[t + 3];
                int i4 = roots[t + 4], i5 = roots[t + 5], i6 = roots[t + 6], i7 = roots[t + 7];
                for (var d = 0; d < depth; d++)
                {
                    i0 = Step(ref nodes, ref first, i0);
                    i1 = Step(ref nodes, ref first, i1);
                    i2 = Step(ref nodes, ref first, i2);
                    i3 = Step(ref nodes, ref first, i3);
                    i4 = Step(ref nodes, ref first, i4);
                    i5 = Step(ref nodes, ref first, i5);
                    i6 = Step(ref nodes, ref first, i6);
                    i7 = Step(ref nodes, ref first, i7);
                }
                total += (double)Unsafe.Add(ref nodes, i0).PathLength + Unsafe.Add(ref nodes, i1).PathLength
                    + Unsafe.Add(ref nodes, i2).PathLength + Unsafe.Add(ref nodes, i3).PathLength;
                total += (double)Unsafe.Add(ref nodes, i4).PathLength + Unsafe.Add(ref nodes, i5).PathLength
                    + Unsafe.Add(ref nodes, i6).PathLength + Unsafe.Add(ref nodes, i7).PathLength;
            }
            for (; t + 4 <= roots.Length; t += 4)
            {
                int i0 = roots[t], i1 = roots[t + 1], i2 = roots[t + 2], i3 = roots[t + 3];
                for (var d = 0; d < depth; d++)
                {
                    i0 = Step(ref nodes, ref first, i0);
                    i1 = Step(ref nodes, ref first, i1);
                    i2 = Step(ref nodes, ref first, i2);
                    i3 = Step(ref nodes, ref first, i3);
                }
                total += (double)Unsafe.Add(ref nodes, i0).PathLength + Unsafe.Add(ref nodes, i1).PathLength
                    + Unsafe.Add(ref nodes, i2).PathLength + Unsafe.Add(ref nodes, i3).PathLength;
            }
            for (; t < roots.Length; t++)
            {
                var i = roots[t];
                for (var d = 0; d < depth; d++)
                {
                    i = Step(ref nodes, ref first, i);
                }
                total += Unsafe.Add(ref nodes, i).PathLength;
            }
            sum0 = total;
            return;
        }
        foreach (var root in roots)
        {
            var r = 0;
            for (; r + 8 <= count; r += 8)
            {
                ref var x0 = ref Unsafe.Add(ref first, r * stride);
                ref var x1 = ref Unsafe.Add(ref x0, stride);
                ref var x2 = ref Unsafe.Add(ref x1, stride);
                ref var x3 = ref Unsafe.Add(ref x2, stride);
                ref var x4 = ref Unsafe.Add(ref x3, stride);
                ref var x5 = ref Unsafe.Add(ref x4, stride);
                ref var x6 = ref Unsafe.Add(ref x5, stride);
                ref var x7 = ref Unsafe.Add(ref x6, stride);
                int i0 = root, i1 = root, i2 = root, i3 = root, i4 = root, i5 = root, i6 = root, i7 = root;
                for (var d = 0; d < depth; d++)
                {
                    i0 = Step(ref nodes, ref x0, i0);
                    i1 = Step(ref nodes, ref x1, i1);
                    i2 = Step(ref nodes, ref x2, i2);
                    i3 = Step(ref nodes, ref x3, i3);
                    i4 = Step(ref nodes, ref x4, i4);
                    i5 = Step(ref nodes, ref x5, i5);
                    i6 = Step(ref nodes, ref x6, i6);
                    i7 = Step(ref nodes, ref x7, i7);
                }
                ref var s = ref Unsafe.Add(ref sum0, r);
                s += Unsafe.Add(ref nodes, i0).PathLength;
                Unsafe.Add(ref s, 1) += Unsafe.Add(ref nodes, i1).PathLength;
                Unsafe.Add(ref s, 2) += Unsafe.Add(ref nodes, i2).PathLength;
                Unsafe.Add(ref s, 3) += Unsafe.Add(ref nodes, i3).PathLength;
                Unsafe.Add(ref s, 4) += Unsafe.Add(ref nodes, i4).PathLength;
                Unsafe.Add(ref s, 5) += Unsafe.Add(ref nodes, i5).PathLength;
                Unsafe.Add(ref s, 6) += Unsafe.Add(ref nodes, i6).PathLength;
                Unsafe.Add(ref s, 7) += Unsafe.Add(ref nodes, i7).PathLength;
            }
            for (; r < count; r++)
            {
                ref var x = ref Unsafe.Add(ref first, r * stride);
                var i = root;
                for (var d = 0; d < depth; d++)
                {
                    i = Step(ref nodes, ref x, i);
                }
                Unsafe.Add(ref sum0, r) += Unsafe.Add(ref nodes, i).PathLength;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Step(ref IsolationNode nodes, ref float row, int i)
    {
        // Indices are never negative: unsigned widening costs no sign extension.
        ref var node = ref Unsafe.Add(ref nodes, (nuint)(uint)i);
        return node.Left + (Unsafe.Add(ref row, (nuint)(uint)node.Feature) > node.Split ? 1 : 0);
    }
}
