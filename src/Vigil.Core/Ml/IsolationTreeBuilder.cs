using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vigil.Core.Ml;

/// <summary>
/// One node of a fitted isolation tree, 16 bytes, stored in one flat array per forest. The children of an internal
/// node are adjacent (right = left + 1), so a step of the walk is <c>i = Left + (x[Feature] &gt; Split)</c> without a
/// branch. A leaf points at itself with a NaN split (every comparison with NaN is false), so the walk can take the
/// same number of steps in every tree and stay put once it reaches a leaf.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IsolationNode
{
    /// <summary>Internal node: the split feature. Leaf: 0, read harmlessly by the fixed-length walk.</summary>
    public int Feature;

    /// <summary>Internal node: rows with x[Feature] &gt; Split go right. Leaf: NaN.</summary>
    public float Split;

    /// <summary>Internal node: index of the left child in the forest's array. Leaf: its own index.</summary>
    public int Left;

    /// <summary>Leaf: depth + c(size), the path length a row ending here gets. Internal node: 0.</summary>
    public float PathLength;
}

/// <summary>
/// Grows isolation trees as scikit-learn's IsolationForest does (an ExtraTreeRegressor with one random feature):
/// ψ rows drawn without replacement; at each node a feature drawn uniformly among those not constant in the node (a range of at most 1e-7 counts as
/// constant, as scikit-learn's FEATURE_THRESHOLD);
/// a split value uniform in [min, max) of the node's rows on it; rows with x ≤ split go left; stop at the height limit,
/// at one row, or when every feature is constant. One builder serves many trees; it is not thread-safe.
/// </summary>
internal sealed class IsolationTreeBuilder
{
    private const float FeatureThreshold = 1e-7f;

    private readonly int _featureCount;
    private readonly int _sampleSize;
    private readonly int _maxDepth;
    private readonly int[] _population;
    private readonly int[] _swaps;
    private readonly int[] _rows;
    private readonly float[] _values;
    private readonly int[] _features;
    private readonly IsolationNode[] _nodes;
    private readonly int[] _sizes;
    private int _count;
    private Xoshiro256 _rng;

    public IsolationTreeBuilder(int rowCount, int featureCount, int sampleSize, int maxDepth)
    {
        _featureCount = featureCount;
        _sampleSize = sampleSize;
        _maxDepth = maxDepth;
        _population = new int[rowCount];
        for (var i = 0; i < rowCount; i++)
        {
            _population[i] = i;
        }
        _swaps = new int[sampleSize];
        _rows = new int[sampleSize];
        _values = new float[sampleSize];
        _features = new int[featureCount];
        // A binary tree over ψ rows never has more than 2ψ − 1 nodes, whatever the height limit.
        _nodes = new IsolationNode[2 * sampleSize - 1];
        _sizes = new int[2 * sampleSize - 1];
    }

    /// <summary>Grows one tree; node indices in the result are local to it (root 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (IsolationNode[] Nodes, int[] Sizes) Build(ReadOnlySpan<float> data, ulong treeSeed)
    {
        _rng = new Xoshiro256(treeSeed);
        DrawSample();
        for (var f = 0; f < _featureCount; f++)
        {
            // Reset so a tree does not depend on which trees this builder grew before (parallel fits stay identical).
            _features[f] = f;
        }
        _count = 1;
        Grow(data, 0, 0, _sampleSize, 0);
        return (_nodes.AsSpan(0, _count).ToArray(), _sizes.AsSpan(0, _count).ToArray());
    }

    /// <summary>A partial Fisher–Yates shuffle, undone afterwards so the population is the identity for the next tree.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DrawSample()
    {
        var population = _population;
        var n = population.Length;
        for (var i = 0; i < _sampleSize; i++)
        {
            var j = i + _rng.NextInt(n - i);
            _swaps[i] = j;
            (population[i], population[j]) = (population[j], population[i]);
            _rows[i] = population[i];
        }
        for (var i = _sampleSize - 1; i >= 0; i--)
        {
            var j = _swaps[i];
            (population[i], population[j]) = (population[j], population[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Grow(ReadOnlySpan<float> data, int node, int lo, int hi, int depth)
    {
        var size = hi - lo;
        _sizes[node] = size;
        if (depth >= _maxDepth || size <= 1 || !TrySplit(data, lo, hi, out var feature, out var split, out var mid))
        {
            _nodes[node] = new IsolationNode
            {
                Feature = 0,
                Split = float.NaN,
                Left = node,
                PathLength = (float)(depth + IsolationForest.AveragePathLength(size)),
            };
            return;
        }
        var left = _count;
        _count += 2;
        _nodes[node] = new IsolationNode { Feature = feature, Split = split, Left = left, PathLength = 0 };
        Grow(data, left, lo, mid, depth + 1);
        Grow(data, left + 1, mid, hi, depth + 1);
    }

    /// <summary>Chooses a split of rows [lo, hi) and partitions them; false when every feature is constant there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TrySplit(ReadOnlySpan<float> data, int lo, int hi, out int feature, out float split, out int mid)
    {
        var rows = _rows;
        var values = _values;
        var features = _features;
        var stride = _featureCount;
        // Draw features without replacement until one varies: uniform over the non-constant ones, as scikit-learn.
        for (var remaining = _featureCount; remaining > 0; remaining--)
        {
            var k = _rng.NextInt(remaining);
            var f = features[k];
            features[k] = features[remaining - 1];
            features[remaining - 1] = f;

            var min = float.PositiveInfinity;
            var max = float.NegativeInfinity;
            for (var i = lo; i < hi; i++)
            {
                var v = data[rows[i] * stride + f];
                values[i] = v;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
            // scikit-learn's splitter treats a feature as constant when its range in the node is within
            // FEATURE_THRESHOLD = 1e-7 (added in float32, as its feature values are).
            if (!(max > min + FeatureThreshold))
            {
                continue;
            }

            var threshold = min + _rng.NextDouble() * ((double)max - min);
            if (threshold >= max)
            {
                threshold = min; // rounding reached the maximum; scikit-learn falls back to the minimum likewise
            }
            // The largest float not above the double threshold: for float x, x ≤ t exactly when x ≤ that float, so
            // the split is the same as scikit-learn's float32-against-float64 comparison, and min ≤ it < max.
            var t = (float)threshold;
            if (t > threshold)
            {
                t = MathF.BitDecrement(t);
            }

            var a = lo;
            var b = hi - 1;
            while (a <= b)
            {
                if (values[a] <= t)
                {
                    a++;
                }
                else
                {
                    (rows[a], rows[b]) = (rows[b], rows[a]);
                    (values[a], values[b]) = (values[b], values[a]);
                    b--;
                }
            }
            feature = f;
            split = t;
            mid = a;
            return true;
        }
        feature = 0;
        split = 0;
        mid = lo;
        return false;
    }
}
