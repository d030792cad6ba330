using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vigil.Core.Ml;

/// <summary>The batch scoring layout of <see cref="IsolationForest"/>.</summary>
public sealed partial class IsolationForest
{
    /// <summary>
    /// The deepest height limit scored with complete trees: 2^10 leaves make 12 KiB per tree (22 KiB with the
    /// vector kernels' tables), beyond which the layout stops fitting in cache and the node walk is as good.
    /// </summary>
    private const int MaxPerfectDepth = 10;

    /// <summary>Rows that walk a tree side by side; the key block holds them feature-major, Lanes keys per feature.</summary>
    private const int Lanes = 16;

    /// <summary>Rows per block of the node walk (for heights above <see cref="MaxPerfectDepth"/>).</summary>
    private const int NodeWalkBlock = 128;

    /// <summary>The largest key buffer taken on the stack (64 KiB); wider rows rent one.</summary>
    private const int MaxStackKeys = 16 * 1024;

    /// <summary>Words past the vector kernels' node tables, so loading 16 keys from a level's start stays in the array.</summary>
    private const int VectorPadWords = 32;

    /// <summary>
    /// The kernel <see cref="ScoreBatch(ReadOnlySpan{float}, Span{double})"/> picks for this machine: AVX-512 when
    /// the runtime accelerates 512-bit vectors, else AVX2, else the scalar walk. All give bit-identical scores.
    /// </summary>
    internal static ScoringPath BestPath { get; } =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? ScoringPath.Avx512
        : Avx2.IsSupported && Vector256.IsHardwareAccelerated ? ScoringPath.Avx2
        : ScoringPath.Scalar;

    /// <summary>
    /// <see cref="ScoreBatch(ReadOnlySpan{float}, Span{double})"/> with the kernel chosen by the caller, so tests and
    /// benchmarks can run every kernel on one machine.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths do not agree with <see cref="FeatureCount"/>.</exception>
    /// <exception cref="PlatformNotSupportedException">The kernel needs instructions this machine lacks.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal unsafe void ScoreBatch(ReadOnlySpan<float> rows, Span<double> scores, ScoringPath path)
    {
        if ((long)scores.Length * FeatureCount != rows.Length)
        {
            throw new ArgumentException(
                $"{rows.Length} values are not {scores.Length} rows of {FeatureCount} features.", nameof(rows));
        }
        if (path == ScoringPath.Auto)
        {
            path = BestPath;
        }
        if ((path == ScoringPath.Avx512 && !(Avx512F.IsSupported && Vector512.IsHardwareAccelerated))
            || (path == ScoringPath.Avx2 && !Avx2.IsSupported))
        {
            throw new PlatformNotSupportedException($"the {path} scoring kernel needs instructions this machine lacks.");
        }
        if (_packed is null)
        {
            for (var start = 0; start < scores.Length; start += NodeWalkBlock)
            {
                var count = Math.Min(NodeWalkBlock, scores.Length - start);
                var blockRows = rows.Slice(start * FeatureCount, count * FeatureCount);
                AccumulatePathLengths(blockRows, count, scores.Slice(start, count));
                FinishScores(blockRows, scores.Slice(start, count));
            }
            return;
        }
        if (scores.IsEmpty)
        {
            return;
        }
        // A block is a multiple of the 16 rows of a group, few enough rows that their keys stay in L1. The key
        // buffer is aligned to 64 bytes, so a node's 16 keys are one cache line: on the stack when it is small
        // (stack memory never moves), else rented and pinned while it is used.
        var block = Math.Clamp(8192 / FeatureCount, Lanes, 128) & ~(Lanes - 1);
        var keyCount = (block * FeatureCount) + (64 / sizeof(int));
        int[]? rented = null;
        var buffer = keyCount <= MaxStackKeys ? stackalloc int[keyCount] : (rented = ArrayPool<int>.Shared.Rent(keyCount));
        try
        {
            fixed (int* raw = buffer)
            {
                var skip = (int)((64 - ((nuint)raw & 63)) & 63) / sizeof(int);
                var keys = buffer.Slice(skip, block * FeatureCount);
                for (var start = 0; start < scores.Length; start += block)
                {
                    var count = Math.Min(block, scores.Length - start);
                    var blockRows = rows.Slice(start * FeatureCount, count * FeatureCount);
                    var blockScores = scores.Slice(start, count);
                    switch (path)
                    {
                        case ScoringPath.Avx512:
                            ToOrderKeysAvx2(blockRows, count, keys);
                            AccumulateAvx512(keys, count, blockScores);
                            break;
                        case ScoringPath.Avx2:
                            ToOrderKeysAvx2(blockRows, count, keys);
                            AccumulateAvx2(keys, count, blockScores);
                            break;
                        default:
                            ToOrderKeys(blockRows, count, keys);
                            AccumulatePerfect(keys, count, blockScores);
                            break;
                    }
                    FinishScores(blockRows, blockScores);
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    // Optimised from the first call: at tier 0 the vector NaN check would cost more than the walk on wide rows.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FinishScores(ReadOnlySpan<float> blockRows, Span<double> blockScores)
    {
        for (var r = 0; r < blockScores.Length; r++)
        {
            blockScores[r] = ContainsNaN(blockRows.Slice(r * FeatureCount, FeatureCount))
                ? double.NaN
                : ScoreOf(blockScores[r] / _roots.Length);
        }
    }

    /// <summary>True when <paramref name="row"/> holds a NaN; eight values at a time where the hardware has vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ContainsNaN(ReadOnlySpan<float> row)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= row.Length; i += 8)
            {
                var v = Vector256.Create(row.Slice(i, 8));
                if (!Vector256.EqualsAll(v, v))
                {
                    return true;
                }
            }
        }
        for (; i < row.Length; i++)
        {
            if (float.IsNaN(row[i]))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Lays every tree out as a complete binary tree of height <paramref name="depth"/> in breadth-first order, so
    /// the children of node k are 2k + 1 and 2k + 2 and a step needs no child pointer. A leaf above the last level
    /// becomes a chain of "always left" nodes (split key int.MaxValue, which no key exceeds) down to a last-level
    /// leaf carrying its path length; the subtrees to the right of those chains are never reached. Internal node k
    /// is one 8-byte word: the feature in the high half, the order key of the split in the low half, so one load
    /// gives both.
    /// </summary>
    private static (ulong[] Packed, float[] LeafPaths) PerfectLayout(IsolationNode[] nodes, int[] roots, int depth)
    {
        var internalCount = (1 << depth) - 1;
        var leafCount = 1 << depth;
        var scalarWords = roots.Length * internalCount;
        var tableInts = VectorTableInts(depth);
        var packed = new ulong[scalarWords + (roots.Length * tableInts / 2) + VectorPadWords];
        var leafPaths = new float[roots.Length * leafCount];
        for (var t = 0; t < roots.Length; t++)
        {
            var tree = packed.AsSpan(t * internalCount, internalCount);
            Place(nodes, roots[t], 0, 0, depth, tree, leafPaths.AsSpan(t * leafCount, leafCount));

            // The vector kernels' copy: per tree 2^depth split keys, 2^depth feature offsets and the offsets again
            // as 16-bit words (one slot of each unused), so a level's nodes are consecutive and load into registers
            // for permutes.
            var table = MemoryMarshal.Cast<ulong, int>(packed.AsSpan(scalarWords + (t * tableInts / 2), tableInts / 2));
            var narrow = MemoryMarshal.Cast<int, ushort>(table[(2 * leafCount)..]);
            for (var k = 0; k < internalCount; k++)
            {
                table[k] = (int)tree[k];
                table[leafCount + k] = (int)(tree[k] >> 32);
                narrow[k] = (ushort)(tree[k] >> 32);
            }
        }
        return (packed, leafPaths);
    }

    /// <summary>Ints per tree in the vector kernels' tables: 2^depth keys, 2^depth offsets, 2^depth 16-bit offsets, even.</summary>
    private static int VectorTableInts(int depth) => ((2 << depth) + (1 << depth) / 2 + 1) & ~1;

    private static void Place(IsolationNode[] nodes, int node, int position, int level, int depth, Span<ulong> packed,
        Span<float> leafPaths)
    {
        ref readonly var n = ref nodes[node];
        if (level == depth)
        {
            // A fitted tree never grows below its height limit, so whatever reaches the last level is a leaf.
            leafPaths[position - packed.Length] = n.PathLength;
            return;
        }
        var isLeaf = n.Left == node;
        packed[position] = isLeaf
            ? int.MaxValue
            : ((ulong)(uint)(n.Feature * Lanes) << 32) | (uint)OrderKey(n.Split);
        Place(nodes, isLeaf ? node : n.Left, (2 * position) + 1, level + 1, depth, packed, leafPaths);
        Place(nodes, isLeaf ? node : n.Left + 1, (2 * position) + 2, level + 1, depth, packed, leafPaths);
    }

    /// <summary>
    /// An int that orders as the float does: for non-NaN a and b, a &gt; b exactly when OrderKey(a) &gt; OrderKey(b).
    /// Negative floats have their magnitude bits flipped; −0 is first made +0 (they compare equal as floats).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OrderKey(float value)
    {
        var bits = BitConverter.SingleToInt32Bits(value + 0f);
        return bits ^ ((bits >> 31) & int.MaxValue);
    }

    /// <summary>
    /// The order keys of a block of rows, feature-major in groups of <see cref="Lanes"/> rows: key of (row r, feature f)
    /// at (r / Lanes) × Lanes × F + f × Lanes + r % Lanes. A short last group repeats its last row (its sums are
    /// ignored). NaN rows get meaningless keys; their scores are NaN anyway.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ToOrderKeys(ReadOnlySpan<float> rows, int count, Span<int> keys)
    {
        var stride = FeatureCount;
        var groups = (count + Lanes - 1) / Lanes;
        for (var g = 0; g < groups; g++)
        {
            var group = keys.Slice(g * Lanes * stride, Lanes * stride);
            for (var j = 0; j < Lanes; j++)
            {
                var r = Math.Min((g * Lanes) + j, count - 1);
                var row = rows.Slice(r * stride, stride);
                for (var f = 0; f < row.Length; f++)
                {
                    group[(f * Lanes) + j] = OrderKey(row[f]);
                }
            }
        }
    }

    /// <summary>
    /// Sets sums[r] to the sum over the trees of row r's path length, walking the complete trees: every walk is
    /// exactly <see cref="MaxDepth"/> steps of <c>k = 2k + 1 + (key[feature] &gt; splitKey)</c>, all integer work,
    /// one load for the node and one for the row's key. <see cref="Lanes"/> rows walk a tree side by side so their
    /// chains of dependent loads overlap (one base register serves them all: the node carries the feature's offset
    /// in the feature-major group); a group walks every tree before the next group starts. The sums add the same
    /// floats in the same tree order as the node walk, so the scores are identical.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AccumulatePerfect(Span<int> keyBlock, int count, Span<double> sums)
    {
        // Bounds: keyBlock holds whole groups of Lanes × FeatureCount keys, every node's offset is below
        // Lanes × FeatureCount, and after depth steps k is in [2^depth − 1, 2^(depth+1) − 1), so k − internalCount
        // indexes the tree's leaves.
        var packedArray = _packed!;
        var leafArray = _leafPaths!;
        var depth = MaxDepth;
        var internalCount = (1 << depth) - 1;
        var leafCount = 1 << depth;
        var groupSize = Lanes * FeatureCount;
        Span<double> lane = stackalloc double[Lanes];
        sums[..count].Clear();
        for (var g = 0; g * Lanes < count; g++)
        {
            ref var x = ref Unsafe.Add(ref MemoryMarshal.GetReference(keyBlock), g * groupSize);
            lane.Clear();
            for (var t = 0; t < _roots.Length; t++)
            {
                ref var tree = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(packedArray), t * internalCount);
                ref var leaves = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(leafArray), (t * leafCount) - internalCount);
                nuint k0 = 0, k1 = 0, k2 = 0, k3 = 0, k4 = 0, k5 = 0, k6 = 0, k7 = 0;
                nuint k8 = 0, k9 = 0, k10 = 0, k11 = 0, k12 = 0, k13 = 0, k14 = 0, k15 = 0;
                for (var d = 0; d < depth; d++)
                {
                    k0 = Step(ref tree, ref x, k0, 0);
                    k1 = Step(ref tree, ref x, k1, 1);
                    k2 = Step(ref tree, ref x, k2, 2);
                    k3 = Step(ref tree, ref x, k3, 3);
                    k4 = Step(ref tree, ref x, k4, 4);
                    k5 = Step(ref tree, ref x, k5, 5);
                    k6 = Step(ref tree, ref x, k6, 6);
                    k7 = Step(ref tree, ref x, k7, 7);
                    k8 = Step(ref tree, ref x, k8, 8);
                    k9 = Step(ref tree, ref x, k9, 9);
                    k10 = Step(ref tree, ref x, k10, 10);
                    k11 = Step(ref tree, ref x, k11, 11);
                    k12 = Step(ref tree, ref x, k12, 12);
                    k13 = Step(ref tree, ref x, k13, 13);
                    k14 = Step(ref tree, ref x, k14, 14);
                    k15 = Step(ref tree, ref x, k15, 15);
                }
                lane[0] += Unsafe.Add(ref leaves, k0);
                lane[1] += Unsafe.Add(ref leaves, k1);
                lane[2] += Unsafe.Add(ref leaves, k2);
                lane[3] += Unsafe.Add(ref leaves, k3);
                lane[4] += Unsafe.Add(ref leaves, k4);
                lane[5] += Unsafe.Add(ref leaves, k5);
                lane[6] += Unsafe.Add(ref leaves, k6);
                lane[7] += Unsafe.Add(ref leaves, k7);
                lane[8] += Unsafe.Add(ref leaves, k8);
                lane[9] += Unsafe.Add(ref leaves, k9);
                lane[10] += Unsafe.Add(ref leaves, k10);
                lane[11] += Unsafe.Add(ref leaves, k11);
                lane[12] += Unsafe.Add(ref leaves, k12);
                lane[13] += Unsafe.Add(ref leaves, k13);
                lane[14] += Unsafe.Add(ref leaves, k14);
                lane[15] += Unsafe.Add(ref leaves, k15);
            }
            var n = Math.Min(Lanes, count - (g * Lanes));
            lane[..n].CopyTo(sums.Slice(g * Lanes, n));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Step(ref ulong tree, ref int group, nuint k, nuint lane)
    {
        var node = Unsafe.Add(ref tree, k);
        var key = Unsafe.Add(ref group, (nuint)(node >> 32) + lane);
        return (2 * k) + 1 + (key > (int)node ? (nuint)1 : 0);
    }
}

/// <summary>The batch scoring kernels; <see cref="Auto"/> is the best this machine runs.</summary>
internal enum ScoringPath
{
    /// <summary>The best kernel the machine supports.</summary>
    Auto,

    /// <summary>The scalar walk of the complete trees, 16 rows in flight.</summary>
    Scalar,

    /// <summary>8 rows per 256-bit vector, with AVX2 gathers.</summary>
    Avx2,

    /// <summary>16 rows per 512-bit vector, with AVX-512 gathers.</summary>
    Avx512,
}
