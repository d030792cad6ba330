using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vigil.Core.Ml;

/// <summary>The vector kernels of the batch scoring.</summary>
public sealed partial class IsolationForest
{
    internal static int CompareLevels = int.Parse(Environment.GetEnvironmentVariable("IF_CMP") ?? "3", System.Globalization.CultureInfo.InvariantCulture);
    internal static int GatherLevel = int.Parse(Environment.GetEnvironmentVariable("IF_GATHER") ?? "8", System.Globalization.CultureInfo.InvariantCulture);
    internal static int TreeInterleave = int.Parse(Environment.GetEnvironmentVariable("IF_TI") ?? "4", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// <see cref="ToOrderKeys"/> eight rows by eight features at a time: eight row loads, the order-key arithmetic on
    /// vectors, an 8 × 8 transpose in registers and eight stores into the feature-major group; the features past the
    /// last multiple of eight go one by one. Same keys as <see cref="ToOrderKeys"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void ToOrderKeysAvx2(ReadOnlySpan<float> rows, int count, Span<int> keys)
    {
        var stride = FeatureCount;
        var whole = stride & ~7;
        var groups = (count + Lanes - 1) / Lanes;
        fixed (float* first = rows)
        fixed (int* key = keys)
        {
            var row = stackalloc float*[8];
            for (var g = 0; g < groups; g++)
            {
                var group = key + (g * Lanes * stride);
                for (var half = 0; half < Lanes; half += 8)
                {
                    for (var j = 0; j < 8; j++)
                    {
                        row[j] = first + (Math.Min((g * Lanes) + half + j, count - 1) * stride);
                    }
                    var to = group + half;
                    for (var f = 0; f < whole; f += 8)
                    {
                        var r0 = OrderKeys(Vector256.Load(row[0] + f));
                        var r1 = OrderKeys(Vector256.Load(row[1] + f));
                        var r2 = OrderKeys(Vector256.Load(row[2] + f));
                        var r3 = OrderKeys(Vector256.Load(row[3] + f));
                        var r4 = OrderKeys(Vector256.Load(row[4] + f));
                        var r5 = OrderKeys(Vector256.Load(row[5] + f));
                        var r6 = OrderKeys(Vector256.Load(row[6] + f));
                        var r7 = OrderKeys(Vector256.Load(row[7] + f));
                        // Transpose: after the three rounds, vector i holds feature f + i of rows 0..7.
                        var a0 = Avx2.UnpackLow(r0, r1);
                        var a1 = Avx2.UnpackHigh(r0, r1);
                        var a2 = Avx2.UnpackLow(r2, r3);
                        var a3 = Avx2.UnpackHigh(r2, r3);
                        var a4 = Avx2.UnpackLow(r4, r5);
                        var a5 = Avx2.UnpackHigh(r4, r5);
                        var a6 = Avx2.UnpackLow(r6, r7);
                        var a7 = Avx2.UnpackHigh(r6, r7);
                        var b0 = Avx2.UnpackLow(a0.AsInt64(), a2.AsInt64()).AsInt32();
                        var b1 = Avx2.UnpackHigh(a0.AsInt64(), a2.AsInt64()).AsInt32();
                        var b2 = Avx2.UnpackLow(a1.AsInt64(), a3.AsInt64()).AsInt32();
                        var b3 = Avx2.UnpackHigh(a1.AsInt64(), a3.AsInt64()).AsInt32();
                        var b4 = Avx2.UnpackLow(a4.AsInt64(), a6.AsInt64()).AsInt32();
                        var b5 = Avx2.UnpackHigh(a4.AsInt64(), a6.AsInt64()).AsInt32();
                        var b6 = Avx2.UnpackLow(a5.AsInt64(), a7.AsInt64()).AsInt32();
                        var b7 = Avx2.UnpackHigh(a5.AsInt64(), a7.AsInt64()).AsInt32();
                        var at = to + (f * Lanes);
                        Avx2.Permute2x128(b0, b4, 0x20).Store(at);
                        Avx2.Permute2x128(b1, b5, 0x20).Store(at + Lanes);
                        Avx2.Permute2x128(b2, b6, 0x20).Store(at + (2 * Lanes));
                        Avx2.Permute2x128(b3, b7, 0x20).Store(at + (3 * Lanes));
                        Avx2.Permute2x128(b0, b4, 0x31).Store(at + (4 * Lanes));
                        Avx2.Permute2x128(b1, b5, 0x31).Store(at + (5 * Lanes));
                        Avx2.Permute2x128(b2, b6, 0x31).Store(at + (6 * Lanes));
                        Avx2.Permute2x128(b3, b7, 0x31).Store(at + (7 * Lanes));
                    }
                    for (var f = whole; f < stride; f++)
                    {
                        for (var j = 0; j < 8; j++)
                        {
                            to[(f * Lanes) + j] = OrderKey(row[j][f]);
                        }
                    }
                }
            }
        }
    }

    /// <summary><see cref="OrderKey"/> of eight values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> OrderKeys(Vector256<float> values)
    {
        var bits = (values + Vector256<float>.Zero).AsInt32();
        return bits ^ (Vector256.ShiftRightArithmetic(bits, 31) & Vector256.Create(int.MaxValue));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void AccumulateAvx512(int[] keyBlock, int count, Span<double> sums)
    {
        var depth = MaxDepth;
        var leafCount = 1 << depth;
        var groupSize = Lanes * FeatureCount;
        var trees = _roots.Length;
        var cmp = Math.Min(CompareLevels, depth);
        var gatherLevel = GatherLevel;
        var ti = TreeInterleave;
        var tableSize = 2 * leafCount;
        fixed (ulong* packed = _packed)
        fixed (float* leafPaths = _leafPaths)
        fixed (int* keys = keyBlock)
        fixed (double* sum = sums)
        {
            var tables = (int*)(packed + (trees * (leafCount - 1)));
            for (var g = 0; g * Lanes < count; g++)
            {
                var x = keys + (g * groupSize);
                var s0 = Vector512<double>.Zero;
                var s1 = Vector512<double>.Zero;
                var t = 0;
                if (ti == 4)
                {
                    for (; t + 4 <= trees; t += 4)
                    {
                        var ta = tables + (t * tableSize);
                        var tb = ta + tableSize;
                        var tc = tb + tableSize;
                        var td = tc + tableSize;
                        var ja = Top512(x, ta, leafCount, cmp);
                        var jb = Top512(x, tb, leafCount, cmp);
                        var jc = Top512(x, tc, leafCount, cmp);
                        var jd = Top512(x, td, leafCount, cmp);
                        for (var level = cmp; level < depth; level++)
                        {
                            ja = Step512(x, ta, leafCount, level, gatherLevel, ja);
                            jb = Step512(x, tb, leafCount, level, gatherLevel, jb);
                            jc = Step512(x, tc, leafCount, level, gatherLevel, jc);
                            jd = Step512(x, td, leafCount, level, gatherLevel, jd);
                        }
                        var leaves = (int*)leafPaths + (t * leafCount);
                        var la = Gather512(leaves, ja, 4).AsSingle();
                        var lb = Gather512(leaves + leafCount, jb, 4).AsSingle();
                        var lc = Gather512(leaves + (2 * leafCount), jc, 4).AsSingle();
                        var ld = Gather512(leaves + (3 * leafCount), jd, 4).AsSingle();
                        s0 += Avx512F.ConvertToVector512Double(la.GetLower());
                        s1 += Avx512F.ConvertToVector512Double(la.GetUpper());
                        s0 += Avx512F.ConvertToVector512Double(lb.GetLower());
                        s1 += Avx512F.ConvertToVector512Double(lb.GetUpper());
                        s0 += Avx512F.ConvertToVector512Double(lc.GetLower());
                        s1 += Avx512F.ConvertToVector512Double(lc.GetUpper());
                        s0 += Avx512F.ConvertToVector512Double(ld.GetLower());
                        s1 += Avx512F.ConvertToVector512Double(ld.GetUpper());
                    }
                }
                if (ti >= 2)
                {
                    for (; t + 2 <= trees; t += 2)
                    {
                        var ta = tables + (t * tableSize);
                        var tb = ta + tableSize;
                        var ja = Top512(x, ta, leafCount, cmp);
                        var jb = Top512(x, tb, leafCount, cmp);
                        for (var level = cmp; level < depth; level++)
                        {
                            ja = Step512(x, ta, leafCount, level, gatherLevel, ja);
                            jb = Step512(x, tb, leafCount, level, gatherLevel, jb);
                        }
                        var leaves = (int*)leafPaths + (t * leafCount);
                        var la = Gather512(leaves, ja, 4).AsSingle();
                        var lb = Gather512(leaves + leafCount, jb, 4).AsSingle();
                        s0 += Avx512F.ConvertToVector512Double(la.GetLower());
                        s1 += Avx512F.ConvertToVector512Double(la.GetUpper());
                        s0 += Avx512F.ConvertToVector512Double(lb.GetLower());
                        s1 += Avx512F.ConvertToVector512Double(lb.GetUpper());
                    }
                }
                for (; t < trees; t++)
                {
                    var ta = tables + (t * tableSize);
                    var j = Top512(x, ta, leafCount, cmp);
                    for (var level = cmp; level < depth; level++)
                    {
                        j = Step512(x, ta, leafCount, level, gatherLevel, j);
                    }
                    var leaf = Gather512((int*)leafPaths + (t * leafCount), j, 4).AsSingle();
                    s0 += Avx512F.ConvertToVector512Double(leaf.GetLower());
                    s1 += Avx512F.ConvertToVector512Double(leaf.GetUpper());
                }
                var n = Math.Min(Lanes, count - (g * Lanes));
                var at = sum + (g * Lanes);
                if (n == Lanes)
                {
                    s0.Store(at);
                    s1.Store(at + 8);
                }
                else
                {
                    for (var i = 0; i < n; i++)
                    {
                        at[i] = i < 8 ? s0.GetElement(i) : s1.GetElement(i - 8);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Compare512(int* x, int* split, int* offset, int node) =>
        Vector512.GreaterThan(Vector512.Load(x + offset[node]), Vector512.Create(split[node]));

    /// <summary>The first levels (up to 3) for 16 rows without gathers; returns the index within the next level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Top512(int* x, int* split, int leafCount, int levels)
    {
        var offset = split + leafCount;
        var m0 = Compare512(x, split, offset, 0);
        var j = -m0;
        if (levels >= 2)
        {
            var m1 = Vector512.ConditionalSelect(m0, Compare512(x, split, offset, 2), Compare512(x, split, offset, 1));
            j = j + j - m1;
            if (levels >= 3)
            {
                var lo = Vector512.ConditionalSelect(m1, Compare512(x, split, offset, 4), Compare512(x, split, offset, 3));
                var hi = Vector512.ConditionalSelect(m1, Compare512(x, split, offset, 6), Compare512(x, split, offset, 5));
                j = j + j - Vector512.ConditionalSelect(m0, hi, lo);
            }
        }
        return j;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Lookup512(int* table, Vector512<int> j, int level, int gatherLevel)
    {
        var first = table + (1 << level) - 1;
        if (level <= 4)
        {
            return Avx512F.PermuteVar16x32(Vector512.Load(first), j);
        }
        if (level >= gatherLevel)
        {
            return Gather512(first, j, 4);
        }
        if (level == 5)
        {
            return Avx512F.PermuteVar16x32x2(Vector512.Load(first), j, Vector512.Load(first + 16));
        }
        var low = Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(j, 26), 31);
        var a = Vector512.ConditionalSelect(low,
            Avx512F.PermuteVar16x32x2(Vector512.Load(first + 32), j, Vector512.Load(first + 48)),
            Avx512F.PermuteVar16x32x2(Vector512.Load(first), j, Vector512.Load(first + 16)));
        if (level == 6)
        {
            return a;
        }
        var b = Vector512.ConditionalSelect(low,
            Avx512F.PermuteVar16x32x2(Vector512.Load(first + 96), j, Vector512.Load(first + 112)),
            Avx512F.PermuteVar16x32x2(Vector512.Load(first + 64), j, Vector512.Load(first + 80)));
        return Vector512.ConditionalSelect(Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(j, 25), 31), b, a);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Step512(int* x, int* split, int leafCount, int level, int gatherLevel, Vector512<int> j)
    {
        var splitKey = Lookup512(split, j, level, gatherLevel);
        var featureOffset = Lookup512(split + leafCount, j, level, gatherLevel);
        var key = Gather512(x, featureOffset + Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 4);
        return j + j - Vector512.GreaterThan(key, splitKey);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Gather512(int* baseAddress, Vector512<int> index, [ConstantExpected(Min = 1, Max = 8)] byte scale) =>
        Avx2.GatherVector256(baseAddress, index.GetLower(), scale).ToVector512Unsafe()
            .WithUpper(Avx2.GatherVector256(baseAddress, index.GetUpper(), scale));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void AccumulateAvx2(int[] keyBlock, int count, Span<double> sums)
    {
        var depth = MaxDepth;
        var internalCount = (1 << depth) - 1;
        var leafCount = 1 << depth;
        var groupSize = Lanes * FeatureCount;
        var trees = _roots.Length;
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        Span<double> lanes = stackalloc double[Lanes];
        fixed (ulong* packed = _packed)
        fixed (float* leafPaths = _leafPaths)
        fixed (int* keys = keyBlock)
        fixed (double* laneSum = lanes)
        {
            for (var g = 0; g * Lanes < count; g++)
            {
                for (var half = 0; half < 2; half++)
                {
                    var x = keys + (g * groupSize) + (half * 8);
                    var s0 = Vector256<double>.Zero;
                    var s1 = Vector256<double>.Zero;
                    for (var t = 0; t < trees; t++)
                    {
                        var tree = (int*)(packed + (t * internalCount));
                        var root = *(packed + (t * internalCount));
                        var k = Vector256<int>.One - Vector256.GreaterThan(
                            Vector256.Load(x + (int)(root >> 32)), Vector256.Create((int)root));
                        for (var d = 1; d < depth; d++)
                        {
                            var split = Avx2.GatherVector256(tree, k, 8);
                            var offset = Avx2.GatherVector256(tree + 1, k, 8);
                            var key = Avx2.GatherVector256(x, offset + lane, 4);
                            k = k + k + Vector256<int>.One - Vector256.GreaterThan(key, split);
                        }
                        var leaf = Avx2.GatherVector256(leafPaths + (t * leafCount) - internalCount, k, 4);
                        s0 += Avx.ConvertToVector256Double(leaf.GetLower());
                        s1 += Avx.ConvertToVector256Double(leaf.GetUpper());
                    }
                    s0.Store(laneSum + (half * 8));
                    s1.Store(laneSum + (half * 8) + 4);
                }
                var n = Math.Min(Lanes, count - (g * Lanes));
                lanes[..n].CopyTo(sums.Slice(g * Lanes, n));
            }
        }
    }
}
