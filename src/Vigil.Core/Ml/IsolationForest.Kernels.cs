using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vigil.Core.Ml;

/// <summary>
/// The vector kernels of the batch scoring. Rows are lanes: 16 rows of a feature-major group (8 on AVX2) walk one
/// tree together, each lane holding j, its node's index within the current level, and a step is
/// <c>j = 2j + (key[feature] &gt; split)</c> as in the scalar walk. What makes it cheap on Zen 4, where a gather
/// costs about one cycle per element:
/// <list type="bullet">
/// <item>The first four levels (15 nodes) need no gather: every node's 16 keys are one contiguous load from the
/// group. Levels 0 and 1 compare each node's keys with its split and pick the lanes' results by the bits already
/// decided; levels 2 and 3 pick each lane's node's keys by those bits first (a tree of bitwise selects) and compare
/// once, with the split permuted out of the level's splits.</item>
/// <item>Below, a level's split keys and feature offsets come from registers by permutes (16 or 32 entries per
/// permute, 16-bit offsets 32 or 64 per permute), so only the row's key is gathered.</item>
/// <item>Four trees are in flight per group, to hide the gathers' latency (about 30 cycles).</item>
/// <item>Path lengths are added to per-lane doubles in tree order, exactly as the scalar walk adds them, so the
/// scores are bit-identical.</item>
/// </list>
/// .NET has no AVX-512 gather intrinsic, so 16-lane gathers are two AVX2 gathers.
/// </summary>
public sealed partial class IsolationForest
{
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

    /// <summary>
    /// <see cref="AccumulatePerfect"/> with 16 rows per 512-bit vector. Bounds: as there, and the tables are padded
    /// so a full-register load at any level's start stays inside the array.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void AccumulateAvx512(Span<int> keyBlock, int count, Span<double> sums)
    {
        var depth = MaxDepth;
        var leafCount = 1 << depth;
        var groupSize = Lanes * FeatureCount;
        var trees = _roots.Length;
        var top = Math.Min(4, depth);
        var narrow = FeatureCount * Lanes <= ushort.MaxValue;
        var tableSize = VectorTableInts(depth);
        fixed (ulong* packed = _packed)
        fixed (float* leafPaths = _leafPaths)
        fixed (int* keys = keyBlock)
        fixed (double* sum = sums)
        {
            var tables = (int*)(packed + (trees * (leafCount - 1)));
            // Trees outside, groups inside: a tree's tables (about 2.5 KiB) are read once per block of up to 128 rows
            // and stay in L1 while its groups walk it, instead of streaming all trees' tables from L2 for every
            // group of 16. Each lane's sum still takes the trees in order, so scores stay bit-identical.
            var groups = (count + Lanes - 1) / Lanes;
            var acc = stackalloc double[groups * Lanes];
            new Span<double>(acc, groups * Lanes).Clear();
            var t = 0;
            for (; t + 4 <= trees; t += 4)
            {
                var ta = tables + (t * tableSize);
                var tb = ta + tableSize;
                var tc = tb + tableSize;
                var td = tc + tableSize;
                var leaves = (int*)leafPaths + (t * leafCount);
                if (depth == 8 && narrow)
                {
                    WalkHeight8(keys, groups, groupSize, ta, tableSize, leaves, acc);
                    continue;
                }
                for (var g = 0; g < groups; g++)
                {
                    var x = keys + (g * groupSize);
                    var ja = Top512(x, ta, leafCount, top);
                    var jb = Top512(x, tb, leafCount, top);
                    var jc = Top512(x, tc, leafCount, top);
                    var jd = Top512(x, td, leafCount, top);
                    for (var level = top; level < depth; level++)
                    {
                        ja = Step512(x, ta, leafCount, level, narrow, ja);
                        jb = Step512(x, tb, leafCount, level, narrow, jb);
                        jc = Step512(x, tc, leafCount, level, narrow, jc);
                        jd = Step512(x, td, leafCount, level, narrow, jd);
                    }
                    var la = Gather512(leaves, ja, 4).AsSingle();
                    var lb = Gather512(leaves + leafCount, jb, 4).AsSingle();
                    var lc = Gather512(leaves + (2 * leafCount), jc, 4).AsSingle();
                    var ld = Gather512(leaves + (3 * leafCount), jd, 4).AsSingle();
                    var at = acc + (g * Lanes);
                    var s0 = Vector512.Load(at);
                    var s1 = Vector512.Load(at + 8);
                    s0 += Avx512F.ConvertToVector512Double(la.GetLower());
                    s1 += Avx512F.ConvertToVector512Double(la.GetUpper());
                    s0 += Avx512F.ConvertToVector512Double(lb.GetLower());
                    s1 += Avx512F.ConvertToVector512Double(lb.GetUpper());
                    s0 += Avx512F.ConvertToVector512Double(lc.GetLower());
                    s1 += Avx512F.ConvertToVector512Double(lc.GetUpper());
                    s0 += Avx512F.ConvertToVector512Double(ld.GetLower());
                    s1 += Avx512F.ConvertToVector512Double(ld.GetUpper());
                    s0.Store(at);
                    s1.Store(at + 8);
                }
            }
            for (; t < trees; t++)
            {
                var ta = tables + (t * tableSize);
                var leaves = (int*)leafPaths + (t * leafCount);
                for (var g = 0; g < groups; g++)
                {
                    var x = keys + (g * groupSize);
                    var j = Top512(x, ta, leafCount, top);
                    for (var level = top; level < depth; level++)
                    {
                        j = Step512(x, ta, leafCount, level, narrow, j);
                    }
                    var leaf = Gather512(leaves, j, 4).AsSingle();
                    var at = acc + (g * Lanes);
                    (Vector512.Load(at) + Avx512F.ConvertToVector512Double(leaf.GetLower())).Store(at);
                    (Vector512.Load(at + 8) + Avx512F.ConvertToVector512Double(leaf.GetUpper())).Store(at + 8);
                }
            }
            new Span<double>(acc, count).CopyTo(sums);
        }
    }

    /// <summary>
    /// The quartet of trees from <paramref name="ta"/> walked by every group when the height limit is 8 (the default
    /// sample of 256) and offsets fit 16 bits: the same steps as the general loop with the levels constant, so each
    /// level's lookup is straight-line code instead of a ladder of branches on the level, four times per level.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WalkHeight8(int* keys, int groups, int groupSize, int* ta, int tableSize, int* leaves,
        double* acc)
    {
        const int leafCount = 256;
        var tb = ta + tableSize;
        var tc = tb + tableSize;
        var td = tc + tableSize;
        for (var g = 0; g < groups; g++)
        {
            var x = keys + (g * groupSize);
            var ja = Top512(x, ta, leafCount, 4);
            var jb = Top512(x, tb, leafCount, 4);
            var jc = Top512(x, tc, leafCount, 4);
            var jd = Top512(x, td, leafCount, 4);
            ja = Step512(x, ta, leafCount, 4, true, ja);
            jb = Step512(x, tb, leafCount, 4, true, jb);
            jc = Step512(x, tc, leafCount, 4, true, jc);
            jd = Step512(x, td, leafCount, 4, true, jd);
            ja = Step512(x, ta, leafCount, 5, true, ja);
            jb = Step512(x, tb, leafCount, 5, true, jb);
            jc = Step512(x, tc, leafCount, 5, true, jc);
            jd = Step512(x, td, leafCount, 5, true, jd);
            ja = Step512(x, ta, leafCount, 6, true, ja);
            jb = Step512(x, tb, leafCount, 6, true, jb);
            jc = Step512(x, tc, leafCount, 6, true, jc);
            jd = Step512(x, td, leafCount, 6, true, jd);
            ja = Step512(x, ta, leafCount, 7, true, ja);
            jb = Step512(x, tb, leafCount, 7, true, jb);
            jc = Step512(x, tc, leafCount, 7, true, jc);
            jd = Step512(x, td, leafCount, 7, true, jd);
            var la = Gather512(leaves, ja, 4).AsSingle();
            var lb = Gather512(leaves + leafCount, jb, 4).AsSingle();
            var lc = Gather512(leaves + (2 * leafCount), jc, 4).AsSingle();
            var ld = Gather512(leaves + (3 * leafCount), jd, 4).AsSingle();
            var at = acc + (g * Lanes);
            var s0 = Vector512.Load(at);
            var s1 = Vector512.Load(at + 8);
            s0 += Avx512F.ConvertToVector512Double(la.GetLower());
            s1 += Avx512F.ConvertToVector512Double(la.GetUpper());
            s0 += Avx512F.ConvertToVector512Double(lb.GetLower());
            s1 += Avx512F.ConvertToVector512Double(lb.GetUpper());
            s0 += Avx512F.ConvertToVector512Double(lc.GetLower());
            s1 += Avx512F.ConvertToVector512Double(lc.GetUpper());
            s0 += Avx512F.ConvertToVector512Double(ld.GetLower());
            s1 += Avx512F.ConvertToVector512Double(ld.GetUpper());
            s0.Store(at);
            s1.Store(at + 8);
        }
    }

    /// <summary>The group's 16 keys of the feature that node <paramref name="node"/> splits on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Keys512(int* x, int* offset, int node) => Avx512F.LoadVector512(x + offset[node]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Compare512(int* x, int* split, int* offset, int node) =>
        Vector512.GreaterThan(Vector512.Load(x + offset[node]), Vector512.Create(split[node]));

    /// <summary>
    /// The first <paramref name="levels"/> levels (1 to 4) for 16 rows without gathers: each node's keys are one
    /// contiguous load of the group; a lane takes its node's result (levels 0–1), or its node's keys (levels 2–3),
    /// through selects on the bits decided above. Returns each lane's index within the next level.
    /// </summary>
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
                // Below level 1, select first and compare once: each lane's node's 16 keys are picked by the bits
                // already decided, and its split comes by a permute of the level's splits on j, instead of comparing
                // every node of the level and selecting among the results (the same bits, fewer compares).
                var lo = Vector512.ConditionalSelect(m1, Keys512(x, offset, 4), Keys512(x, offset, 3));
                var hi = Vector512.ConditionalSelect(m1, Keys512(x, offset, 6), Keys512(x, offset, 5));
                var m2 = Vector512.GreaterThan(Vector512.ConditionalSelect(m0, hi, lo),
                    Avx512F.PermuteVar16x32(Avx512F.LoadVector512(split + 3), j));
                j = j + j - m2;
                if (levels >= 4)
                {
                    var q0 = Vector512.ConditionalSelect(m2, Keys512(x, offset, 8), Keys512(x, offset, 7));
                    var q1 = Vector512.ConditionalSelect(m2, Keys512(x, offset, 10), Keys512(x, offset, 9));
                    var q2 = Vector512.ConditionalSelect(m2, Keys512(x, offset, 12), Keys512(x, offset, 11));
                    var q3 = Vector512.ConditionalSelect(m2, Keys512(x, offset, 14), Keys512(x, offset, 13));
                    var r0 = Vector512.ConditionalSelect(m1, q1, q0);
                    var r1 = Vector512.ConditionalSelect(m1, q3, q2);
                    j = j + j - Vector512.GreaterThan(Vector512.ConditionalSelect(m0, r1, r0),
                        Avx512F.PermuteVar16x32(Avx512F.LoadVector512(split + 7), j));
                }
            }
        }
        return j;
    }

    /// <summary>
    /// Entry j of a level's 32-bit table for each lane: one permute up to 16 nodes, two-table permutes and selects
    /// on j's high bits up to 128 nodes, a gather below (heights 9 and 10 only).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Lookup512(int* table, Vector512<int> j, int level)
    {
        var first = table + (1 << level) - 1;
        if (level <= 4)
        {
            return Avx512F.PermuteVar16x32(Vector512.Load(first), j);
        }
        if (level >= 8)
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

    /// <summary>A level's 16-bit feature offsets: 32 of them per register, so word permutes cover twice the nodes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> LookupNarrow512(short* table, Vector512<int> j, int level)
    {
        // j is below 2^level ≤ 128, so the high word of each lane indexes word 0, masked off below.
        var first = table + (1 << level) - 1;
        var index = j.AsInt16();
        Vector512<short> words;
        if (level <= 5)
        {
            words = Avx512BW.PermuteVar32x16(Vector512.Load(first), index);
        }
        else if (level == 6)
        {
            words = Avx512BW.PermuteVar32x16x2(Vector512.Load(first), index, Vector512.Load(first + 32));
        }
        else
        {
            words = Vector512.ConditionalSelect(
                Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(j, 25), 31).AsInt16(),
                Avx512BW.PermuteVar32x16x2(Vector512.Load(first + 64), index, Vector512.Load(first + 96)),
                Avx512BW.PermuteVar32x16x2(Vector512.Load(first), index, Vector512.Load(first + 32)));
        }
        return words.AsInt32() & Vector512.Create(0xFFFF);
    }

    /// <summary>One level below the top: split key and feature offset from the tables, the row's key gathered.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Step512(int* x, int* split, int leafCount, int level, bool narrow, Vector512<int> j)
    {
        var splitKey = Lookup512(split, j, level);
        var featureOffset = narrow && level < 8
            ? LookupNarrow512((short*)(split + (2 * leafCount)), j, level)
            : Lookup512(split + leafCount, j, level);
        var key = Gather512(x, featureOffset + Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 4);
        return j + j - Vector512.GreaterThan(key, splitKey);
    }

    /// <summary>A 16-lane gather as two AVX2 gathers (.NET exposes no AVX-512 gather).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Gather512(int* baseAddress, Vector512<int> index, [ConstantExpected(Min = 1, Max = 8)] byte scale) =>
        Avx2.GatherVector256(baseAddress, index.GetLower(), scale).ToVector512Unsafe()
            .WithUpper(Avx2.GatherVector256(baseAddress, index.GetUpper(), scale));

    /// <summary>
    /// <see cref="AccumulatePerfect"/> with 8 rows per 256-bit vector: a group's two halves walk one after the other,
    /// four trees in flight; levels 0–2 by compares, 3–5 by permutes of 8-entry tables, the deeper levels' split
    /// keys and offsets gathered.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void AccumulateAvx2(Span<int> keyBlock, int count, Span<double> sums)
    {
        var depth = MaxDepth;
        var leafCount = 1 << depth;
        var groupSize = Lanes * FeatureCount;
        var trees = _roots.Length;
        var top = Math.Min(3, depth);
        var tableSize = VectorTableInts(depth);
        Span<double> lanes = stackalloc double[Lanes];
        fixed (ulong* packed = _packed)
        fixed (float* leafPaths = _leafPaths)
        fixed (int* keys = keyBlock)
        fixed (double* laneSum = lanes)
        {
            var tables = (int*)(packed + (trees * (leafCount - 1)));
            for (var g = 0; g * Lanes < count; g++)
            {
                for (var half = 0; half < Lanes; half += 8)
                {
                    var x = keys + (g * groupSize) + half;
                    var s0 = Vector256<double>.Zero;
                    var s1 = Vector256<double>.Zero;
                    var t = 0;
                    for (; t + 4 <= trees; t += 4)
                    {
                        var ta = tables + (t * tableSize);
                        var tb = ta + tableSize;
                        var tc = tb + tableSize;
                        var td = tc + tableSize;
                        var ja = Top256(x, ta, leafCount, top);
                        var jb = Top256(x, tb, leafCount, top);
                        var jc = Top256(x, tc, leafCount, top);
                        var jd = Top256(x, td, leafCount, top);
                        for (var level = top; level < depth; level++)
                        {
                            ja = Step256(x, ta, leafCount, level, ja);
                            jb = Step256(x, tb, leafCount, level, jb);
                            jc = Step256(x, tc, leafCount, level, jc);
                            jd = Step256(x, td, leafCount, level, jd);
                        }
                        var leaves = leafPaths + (t * leafCount);
                        var la = Avx2.GatherVector256(leaves, ja, 4);
                        var lb = Avx2.GatherVector256(leaves + leafCount, jb, 4);
                        var lc = Avx2.GatherVector256(leaves + (2 * leafCount), jc, 4);
                        var ld = Avx2.GatherVector256(leaves + (3 * leafCount), jd, 4);
                        s0 += Avx.ConvertToVector256Double(la.GetLower());
                        s1 += Avx.ConvertToVector256Double(la.GetUpper());
                        s0 += Avx.ConvertToVector256Double(lb.GetLower());
                        s1 += Avx.ConvertToVector256Double(lb.GetUpper());
                        s0 += Avx.ConvertToVector256Double(lc.GetLower());
                        s1 += Avx.ConvertToVector256Double(lc.GetUpper());
                        s0 += Avx.ConvertToVector256Double(ld.GetLower());
                        s1 += Avx.ConvertToVector256Double(ld.GetUpper());
                    }
                    for (; t < trees; t++)
                    {
                        var ta = tables + (t * tableSize);
                        var j = Top256(x, ta, leafCount, top);
                        for (var level = top; level < depth; level++)
                        {
                            j = Step256(x, ta, leafCount, level, j);
                        }
                        var leaf = Avx2.GatherVector256(leafPaths + (t * leafCount), j, 4);
                        s0 += Avx.ConvertToVector256Double(leaf.GetLower());
                        s1 += Avx.ConvertToVector256Double(leaf.GetUpper());
                    }
                    s0.Store(laneSum + half);
                    s1.Store(laneSum + half + 4);
                }
                var n = Math.Min(Lanes, count - (g * Lanes));
                lanes[..n].CopyTo(sums.Slice(g * Lanes, n));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> Compare256(int* x, int* split, int* offset, int node) =>
        Vector256.GreaterThan(Vector256.Load(x + offset[node]), Vector256.Create(split[node]));

    /// <summary><see cref="Top512"/> for 8 rows, 1 to 3 levels (an 8-entry permute serves level 3 as well).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> Top256(int* x, int* split, int leafCount, int levels)
    {
        var offset = split + leafCount;
        var m0 = Compare256(x, split, offset, 0);
        var j = -m0;
        if (levels >= 2)
        {
            var m1 = Vector256.ConditionalSelect(m0, Compare256(x, split, offset, 2), Compare256(x, split, offset, 1));
            j = j + j - m1;
            if (levels >= 3)
            {
                var lo = Vector256.ConditionalSelect(m1, Compare256(x, split, offset, 4), Compare256(x, split, offset, 3));
                var hi = Vector256.ConditionalSelect(m1, Compare256(x, split, offset, 6), Compare256(x, split, offset, 5));
                j = j + j - Vector256.ConditionalSelect(m0, hi, lo);
            }
        }
        return j;
    }

    /// <summary>Entry j of a level's table for 8 lanes: permutes and selects up to 32 nodes, gathers below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> Lookup256(int* table, Vector256<int> j, int level)
    {
        var first = table + (1 << level) - 1;
        if (level <= 3)
        {
            return Avx2.PermuteVar8x32(Vector256.Load(first), j);
        }
        if (level >= 6)
        {
            return Avx2.GatherVector256(first, j, 4);
        }
        var low = Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(j, 28), 31);
        var a = Vector256.ConditionalSelect(low,
            Avx2.PermuteVar8x32(Vector256.Load(first + 8), j),
            Avx2.PermuteVar8x32(Vector256.Load(first), j));
        if (level == 4)
        {
            return a;
        }
        var b = Vector256.ConditionalSelect(low,
            Avx2.PermuteVar8x32(Vector256.Load(first + 24), j),
            Avx2.PermuteVar8x32(Vector256.Load(first + 16), j));
        return Vector256.ConditionalSelect(Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(j, 27), 31), b, a);
    }

    /// <summary><see cref="Step512"/> for 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> Step256(int* x, int* split, int leafCount, int level, Vector256<int> j)
    {
        var splitKey = Lookup256(split, j, level);
        var featureOffset = Lookup256(split + leafCount, j, level);
        var key = Avx2.GatherVector256(x, featureOffset + Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), 4);
        return j + j - Vector256.GreaterThan(key, splitKey);
    }
}
