using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
/// <remarks>
/// Two sources of randomness (<see cref="IsolationForestRandomness"/>). <c>Fast</c>: xoshiro256** per tree, ψ rows
/// drawn by a partial Fisher–Yates shuffle (O(ψ)). <c>ScikitLearn</c>: the numbers scikit-learn 1.2.1 draws, in its
/// order, so a tree is the one it builds for the same seed (see <see cref="BuildLikeScikitLearn"/>).
/// </remarks>
internal sealed class IsolationTreeBuilder
{
    private const float FeatureThreshold = 1e-7f;

    // RAND_R_MAX of scikit-learn's tree utilities: 2^31 − 1.
    private const uint RandRMax = 0x7FFFFFFF;

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
    private readonly int _rowCount;
    private readonly int[] _constantFeatures;
    private int _count;
    private Xoshiro256 _rng;

    // ScikitLearn randomness: numpy's generator for the bagging, the splitter's xorshift state, and the rows chosen for
    // the tree as a bit set (allocated on first use).
    private MersenneTwister? _twister;
    private uint _randR;
    private ulong[]? _chosenBits;

    public IsolationTreeBuilder(int rowCount, int featureCount, int sampleSize, int maxDepth)
    {
        _featureCount = featureCount;
        _rowCount = rowCount;
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
        _constantFeatures = new int[featureCount];
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

    /// <summary>
    /// Grows the tree scikit-learn 1.2.1 grows as the estimator of a bagging <paramref name="baggingSeed"/> (one of
    /// <c>BaseBagging._fit</c>'s <c>randint(2^31 − 1, size=n_estimators)</c> seeds), node for node: the same rows,
    /// features, thresholds and node sizes. Node indices in the result are local to it (root 0).
    /// </summary>
    /// <remarks>
    /// The sequence reproduced, each step checked against the library: <c>_set_random_states</c> gives the tree
    /// <c>random_state = RandomState(baggingSeed).randint(2^31 − 1)</c>; <c>_generate_bagging_indices</c> takes a
    /// fresh <c>RandomState(baggingSeed)</c>, draws the features (all of them, by reservoir sampling: no draw) and
    /// then the rows (<see cref="DrawSampleLikeScikitLearn"/>); unsampled rows get weight 0 and the splitter keeps
    /// the others in ascending order; <c>Splitter.init</c> seeds its xorshift with
    /// <c>RandomState(random_state).randint(0, 2^31 − 1)</c>; the depth-first builder splits nodes in pre-order,
    /// left child first, with <see cref="TrySplitLikeScikitLearn"/>. What is not reproduced: the builder also stops at
    /// a node whose impurity of its random regression target is at most 2.2e-16, which two distinct uniform doubles
    /// in one node reach with a probability of about 1e-7.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (IsolationNode[] Nodes, int[] Sizes) BuildLikeScikitLearn(ReadOnlySpan<float> data, uint baggingSeed)
    {
        var treeSeed = MersenneTwister.FirstBelowInt32Max(baggingSeed);
        DrawSampleLikeScikitLearn(baggingSeed);
        _randR = MersenneTwister.FirstBelowInt32Max(treeSeed);
        for (var f = 0; f < _featureCount; f++)
        {
            _features[f] = f;
        }
        _count = 1;
        GrowLikeScikitLearn(data, 0, 0, _sampleSize, 0, 0);
        return (_nodes.AsSpan(0, _count).ToArray(), _sizes.AsSpan(0, _count).ToArray());
    }

    /// <summary>
    /// <c>sklearn.utils.random.sample_without_replacement(n, ψ)</c> with numpy's legacy generator, then sorted: the
    /// order the splitter sees the rows in. With ratio = ψ / n: <c>permutation(n)[:ψ]</c> when 0.01 &lt; ratio &lt; 0.99
    /// (n − 1 draws, so O(n) per tree), tracking selection when ratio ≤ 0.01 (draw, redraw repeats), reservoir
    /// sampling otherwise (ψ ≥ 0.99 n; no draw at all when ψ = n).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DrawSampleLikeScikitLearn(uint baggingSeed)
    {
        var n = _rowCount;
        var psi = _sampleSize;
        var rows = _rows;
        if (psi == n)
        {
            // Reservoir sampling of all n: no draw, every row.
            for (var i = 0; i < n; i++)
            {
                rows[i] = i;
            }
            return;
        }
        var twister = _twister ??= new MersenneTwister(0);
        twister.Seed(baggingSeed);
        // Each method marks its ψ rows in a bit set; one pass over it lists them in ascending order and clears it.
        var bits = _chosenBits ??= new ulong[(n + 63) / 64];
        var ratio = (double)psi / n;
        if (ratio > 0.01 && ratio < 0.99)
        {
            // permutation(n)[:ψ]; _population is the identity between trees.
            var population = _population;
            twister.Shuffle(population, psi);
            for (var i = 0; i < psi; i++)
            {
                var row = population[i];
                bits[row >> 6] |= 1UL << row;
            }
            Identity(population);
        }
        else if (ratio < 0.2)
        {
            // Tracking selection: draw from all n, again while the row is already taken.
            for (var i = 0; i < psi; i++)
            {
                int row;
                do
                {
                    row = (int)twister.NextBounded((ulong)(n - 1));
                }
                while ((bits[row >> 6] & (1UL << row)) != 0);
                bits[row >> 6] |= 1UL << row;
            }
        }
        else
        {
            // Reservoir sampling: row i replaces a uniform slot of the reservoir when the slot is below ψ.
            for (var i = 0; i < psi; i++)
            {
                rows[i] = i;
            }
            for (var i = psi; i < n; i++)
            {
                var slot = twister.NextBounded((ulong)i);
                if (slot < (ulong)psi)
                {
                    rows[(int)slot] = i;
                }
            }
            for (var i = 0; i < psi; i++)
            {
                bits[rows[i] >> 6] |= 1UL << rows[i];
            }
        }
        var count = 0;
        for (var w = 0; w < bits.Length; w++)
        {
            var word = bits[w];
            bits[w] = 0;
            while (word != 0)
            {
                rows[count++] = (w << 6) + BitOperations.TrailingZeroCount(word);
                word &= word - 1;
            }
        }
    }

    private static void Identity(Span<int> values)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var v = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            var step = Vector256.Create(8);
            for (; i + 8 <= values.Length; i += 8)
            {
                v.CopyTo(values.Slice(i, 8));
                v += step;
            }
        }
        for (; i < values.Length; i++)
        {
            values[i] = i;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void GrowLikeScikitLearn(ReadOnlySpan<float> data, int node, int lo, int hi, int depth, int knownConstants)
    {
        var size = hi - lo;
        _sizes[node] = size;
        var constants = knownConstants;
        if (depth >= _maxDepth || size <= 1 || !TrySplitLikeScikitLearn(data, lo, hi, ref constants, out var feature, out var split, out var mid))
        {
            SetLeaf(node, size, depth);
            return;
        }
        var left = _count;
        _count += 2;
        _nodes[node] = new IsolationNode { Feature = feature, Split = split, Left = left, PathLength = 0 };
        GrowLikeScikitLearn(data, left, lo, mid, depth + 1, constants);
        GrowLikeScikitLearn(data, left + 1, mid, hi, depth + 1, constants);
    }

    /// <summary>
    /// scikit-learn's <c>RandomSplitter.node_split</c> with <c>max_features = 1</c>: features are drawn with
    /// <c>rand_int</c> from the part of the shared <c>features</c> array not yet drawn, known constant features
    /// (from the ancestors, the first <paramref name="constants"/> entries) are skipped, features found constant here
    /// (range ≤ FEATURE_THRESHOLD) are moved next to them, and the first non-constant feature gets a threshold
    /// <c>rand_uniform(min, max)</c> (max itself falls back to min) and the in-place partition. The swaps in
    /// <c>features</c> carry over to the next node, as in the library; on return <paramref name="constants"/> holds
    /// the count the children inherit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TrySplitLikeScikitLearn(ReadOnlySpan<float> data, int lo, int hi, ref int constants, out int feature, out float split, out int mid)
    {
        var rows = _rows;
        var values = _values;
        var features = _features;
        var stride = _featureCount;
        var known = constants;
        var total = known;
        var found = 0;
        var drawn = 0;
        var visited = 0;
        var last = _featureCount; // f_i: [last, n) holds features drawn and not constant
        var hasSplit = false;
        feature = 0;
        split = 0;
        mid = lo;
        // max_features = 1: stop after one feature that is not constant, or when only constant ones are left.
        while (last > total && (visited < 1 || visited <= found + drawn))
        {
            visited++;
            var j = drawn + (int)(NextRandR() % (uint)(last - found - drawn));
            if (j < known)
            {
                (features[drawn], features[j]) = (features[j], features[drawn]);
                drawn++;
                continue;
            }
            j += found;
            var f = features[j];
            var min = float.PositiveInfinity;
            var max = float.NegativeInfinity;
            for (var i = lo; i < hi; i++)
            {
                var v = data[rows[i] * stride + f];
                values[i] = v;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
            // FEATURE_THRESHOLD is a float32 1e-7 added to a float32 minimum.
            if (max <= min + FeatureThreshold)
            {
                features[j] = features[total];
                features[total] = f;
                found++;
                total++;
                continue;
            }
            last--;
            (features[last], features[j]) = (features[j], features[last]);

            // rand_uniform(min, max): ((max − min) · r / RAND_R_MAX) + min in doubles.
            var threshold = ((double)max - min) * NextRandR() / RandRMax + min;
            if (threshold == max)
            {
                threshold = min;
            }
            feature = f;
            split = LargestFloatNotAbove(threshold);
            mid = Partition(lo, hi, split);
            hasSplit = true;
        }
        // The known constant features keep their order for the siblings and children; the newly found ones follow.
        _constantFeatures.AsSpan(0, known).CopyTo(features);
        features.AsSpan(known, found).CopyTo(_constantFeatures.AsSpan(known));
        constants = total;
        return hasSplit;
    }

    /// <summary>scikit-learn's <c>our_rand_r</c>: a 32-bit xorshift (a zero state becomes 1), reduced mod 2^31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint NextRandR()
    {
        var s = _randR;
        if (s == 0)
        {
            s = 1;
        }
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        _randR = s;
        return s % (RandRMax + 1u);
    }

    private void SetLeaf(int node, int size, int depth)
    {
        _nodes[node] = new IsolationNode
        {
            Feature = 0,
            Split = float.NaN,
            Left = node,
            PathLength = (float)(depth + IsolationForest.AveragePathLength(size)),
        };
    }

    /// <summary>
    /// The largest float not above <paramref name="threshold"/>: for a float x, x ≤ threshold exactly when x ≤ it,
    /// so comparing floats with it splits as scikit-learn's float32-against-float64 comparison does.
    /// </summary>
    private static float LargestFloatNotAbove(double threshold)
    {
        var t = (float)threshold;
        return t > threshold ? MathF.BitDecrement(t) : t;
    }

    /// <summary>
    /// The splitter's partition of rows [lo, hi) (their values in _values): a row with value ≤ split stays, a larger
    /// one is swapped with the last unexamined row. Returns the first row of the right side.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Partition(int lo, int hi, float split)
    {
        var rows = _rows;
        var values = _values;
        var a = lo;
        var b = hi - 1;
        while (a <= b)
        {
            if (values[a] <= split)
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
        return a;
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
            SetLeaf(node, size, depth);
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
            var t = LargestFloatNotAbove(threshold);
            var a = Partition(lo, hi, t);
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
