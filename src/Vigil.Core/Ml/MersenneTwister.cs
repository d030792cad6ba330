using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Vigil.Core.Ml;

/// <summary>
/// MT19937 (Matsumoto and Nishimura) as numpy's legacy <c>RandomState</c> drives it: the same seeding, the same
/// 32- and 64-bit outputs, and the same rejection-based bounded integers as <c>RandomState.randint</c> and
/// <c>shuffle</c>/<c>permutation</c>, so that a sequence of calls here draws exactly the numbers the same calls draw
/// in numpy 1.24. It exists to reproduce scikit-learn's random choices (<see cref="IsolationForestRandomness.ScikitLearn"/>);
/// for anything else <see cref="Xoshiro256"/> is smaller and faster. Not thread-safe; not for cryptography.
/// </summary>
internal sealed class MersenneTwister
{
    private const int N = 624;
    private const int M = 397;
    private const uint MatrixA = 0x9908B0DFu;
    private const uint UpperMask = 0x80000000u;
    private const uint LowerMask = 0x7FFFFFFFu;

    private readonly uint[] _key = new uint[N];

    // The block's outputs, tempered at the twist (vectorised), so a draw is one load.
    private readonly uint[] _out = new uint[N];
    private int _pos;
    private uint[]? _draws;

    /// <summary>A generator seeded as <c>RandomState(seed)</c> seeds it.</summary>
    public MersenneTwister(uint seed) => Seed(seed);

    /// <summary>
    /// Reseeds as <c>RandomState(seed)</c> for a seed below 2^32 (Knuth's linear recurrence, init_genrand); a larger
    /// seed, which numpy refuses as an integer, is seeded as <c>RandomState([low 32 bits, high 32 bits])</c>.
    /// </summary>
    public void Seed(ulong seed)
    {
        if (seed <= uint.MaxValue)
        {
            Seed((uint)seed);
        }
        else
        {
            Span<uint> words = [(uint)seed, (uint)(seed >> 32)];
            SeedByArray(words);
        }
    }

    /// <summary>Reseeds as <c>RandomState(seed)</c> with an integer seed: init_genrand.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Seed(uint seed)
    {
        var key = _key;
        key[0] = seed;
        for (var i = 1; i < N; i++)
        {
            var prev = key[i - 1];
            key[i] = 1812433253u * (prev ^ (prev >> 30)) + (uint)i;
        }
        _pos = N;
    }

    /// <summary>Reseeds as <c>RandomState(array)</c> with an array of 32-bit words: init_by_array.</summary>
    public void SeedByArray(ReadOnlySpan<uint> words)
    {
        if (words.IsEmpty)
        {
            throw new ArgumentException("init_by_array needs at least one word.", nameof(words));
        }
        Seed(19650218u);
        var key = _key;
        int i = 1, j = 0;
        for (var k = Math.Max(N, words.Length); k > 0; k--)
        {
            var prev = key[i - 1];
            key[i] = (key[i] ^ ((prev ^ (prev >> 30)) * 1664525u)) + words[j] + (uint)j;
            i++;
            j++;
            if (i >= N)
            {
                key[0] = key[N - 1];
                i = 1;
            }
            if (j >= words.Length)
            {
                j = 0;
            }
        }
        for (var k = N - 1; k > 0; k--)
        {
            var prev = key[i - 1];
            key[i] = (key[i] ^ ((prev ^ (prev >> 30)) * 1566083941u)) - (uint)i;
            i++;
            if (i >= N)
            {
                key[0] = key[N - 1];
                i = 1;
            }
        }
        key[0] = 0x80000000u; // the most significant bit set: the state is never all zero
        _pos = N;
    }

    /// <summary>The next 32 random bits (numpy's <c>next_uint32</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint NextUInt32()
    {
        if (_pos >= N)
        {
            Twist();
        }
        return _out[_pos++];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Temper(uint y)
    {
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C5680u;
        y ^= (y << 15) & 0xEFC60000u;
        return y ^ (y >> 18);
    }

    /// <summary>The next 64 random bits: two 32-bit outputs, the first in the high half (numpy's <c>next_uint64</c>).</summary>
    public ulong NextUInt64()
    {
        ulong high = NextUInt32();
        return (high << 32) | NextUInt32();
    }

    /// <summary>
    /// A uniform integer in [0, <paramref name="max"/>] as <c>RandomState.randint(0, max + 1)</c> draws it, and as
    /// the legacy <c>random_interval</c> behind <c>shuffle</c> draws a position: masked rejection (an output is masked
    /// to the smallest all-ones pattern covering max and drawn again while above it). A range of one value draws
    /// nothing; a max within 32 bits takes one 32-bit output per try, a larger one a 64-bit output.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextBounded(ulong max)
    {
        if (max == 0)
        {
            return 0;
        }
        if (max <= uint.MaxValue)
        {
            var mask32 = (uint)Mask(max);
            uint value;
            while ((value = NextUInt32() & mask32) > max)
            {
            }
            return value;
        }
        var mask = Mask(max);
        ulong wide;
        while ((wide = NextUInt64() & mask) > max)
        {
        }
        return wide;
    }

    /// <summary>
    /// <c>RandomState(seed).randint(2^31 − 1)</c>, the one number scikit-learn takes from a fresh generator to seed a
    /// tree and its splitter, without building the whole state: the first output of MT19937 depends only on words 0,
    /// 1 and 397 of init_genrand's array, so the recurrence stops there (about 400 steps instead of 624 plus a
    /// 624-word twist). The rare rejected first output (probability 2^−31) falls back to the full generator.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static uint FirstBelowInt32Max(uint seed)
    {
        uint word0 = seed, word1 = 0, word = seed;
        for (var i = 1; i <= M; i++)
        {
            word = 1812433253u * (word ^ (word >> 30)) + (uint)i;
            if (i == 1)
            {
                word1 = word;
            }
        }
        var y = (word0 & UpperMask) | (word1 & LowerMask);
        var value = Temper(word ^ (y >> 1) ^ ((0u - (y & 1)) & MatrixA)) & LowerMask;
        if (value <= int.MaxValue - 1)
        {
            return value;
        }
        return (uint)new MersenneTwister(seed).NextBounded(int.MaxValue - 1);
    }

    /// <summary>
    /// Shuffles <paramref name="values"/> in place as <c>RandomState.shuffle</c> does a one-dimensional array (so
    /// <c>permutation(n)</c> is this over 0 … n − 1): from the last position down to the second, swap with a position
    /// drawn by <see cref="NextBounded"/>.
    /// </summary>
    public void Shuffle(Span<int> values) => Shuffle(values, values.Length);

    /// <summary>
    /// <see cref="Shuffle(Span{int})"/> when only the first <paramref name="head"/> positions are wanted (as in
    /// <c>permutation(n)[:head]</c>): the same draws, and those positions get the same values; the others are left
    /// in an unspecified order, which saves the writes a full shuffle makes to them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Shuffle(Span<int> values, int head)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(head);
        if (values.Length < 2)
        {
            return;
        }
        // This is most of a ScikitLearn fit's draws (n − 1 positions per tree), so it runs in two passes. First the
        // positions are drawn without a data-dependent branch: about 28 % of the masked outputs are rejected, at
        // random, and a branch on that mispredicts often. Each output's candidate is stored at the next free slot and
        // the slot (and the position) advance only when it is accepted, so the loop carries just two counters. Then
        // the swaps, in the same order. (Swapping in the first pass, a position with itself on a rejection, chains
        // each step to the previous one's store and measured slower than branching.)
        var count = values.Length - 1;
        if (_draws is null || _draws.Length < count)
        {
            _draws = new uint[Math.Max(count, 2 * (_draws?.Length ?? 0))];
        }
        // Bounds: slot < count ≤ draws.Length while i > 0, pos < N = outputs.Length, and every draw is at most the
        // position it is for, below values.Length; the loops index without checks.
        ref var draws = ref MemoryMarshal.GetArrayDataReference(_draws);
        ref var outputs = ref MemoryMarshal.GetArrayDataReference(_out);
        ref var first = ref MemoryMarshal.GetReference(values);
        var pos = _pos;
        var i = (uint)count;
        nuint slot = 0;
        while (i > 0)
        {
            if (pos >= N)
            {
                Twist();
                pos = 0;
            }
            // Positions i with the same highest bit share the mask.
            var mask = uint.MaxValue >> BitOperations.LeadingZeroCount(i);
            var low = (mask >> 1) + 1;
            while (pos < N && i >= low)
            {
                var j = Unsafe.Add(ref outputs, pos++) & mask;
                var accept = j <= i ? 1u : 0u;
                Unsafe.Add(ref draws, slot) = j;
                slot += accept;
                i -= accept;
            }
        }
        _pos = pos;
        var k = 0;
        // A position at or past head is never read again once its step is done: move its value down, no swap.
        for (; k < count && count - k >= head; k++)
        {
            Unsafe.Add(ref first, Unsafe.Add(ref draws, k)) = Unsafe.Add(ref first, count - k);
        }
        for (; k < count; k++)
        {
            ref var at = ref Unsafe.Add(ref first, count - k);
            ref var other = ref Unsafe.Add(ref first, Unsafe.Add(ref draws, k));
            (at, other) = (other, at);
        }
    }

    private static ulong Mask(ulong max)
    {
        // The smallest all-ones bit pattern at least max.
        return ulong.MaxValue >> BitOperations.LeadingZeroCount(max);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Twist()
    {
        var key = _key;
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Eight words at a time. Word i needs words i + 1 (not yet rewritten: chunks go up) and i + 397 (not yet
            // rewritten below 227; above, i − 227, already rewritten, as the recurrence wants).
            // All indices below stay within the 624 words (the loop bounds), so the loads go unchecked.
            ref var first = ref MemoryMarshal.GetArrayDataReference(key);
            for (; i + 8 <= N - M; i += 8)
            {
                TwistVector(ref first, (nuint)i, (nuint)(i + M));
            }
            for (; i < N - M; i++)
            {
                key[i] = TwistWord(key[i], key[i + 1], key[i + M]);
            }
            for (; i + 8 <= N - 1; i += 8)
            {
                TwistVector(ref first, (nuint)i, (nuint)(i + (M - N)));
            }
        }
        for (; i < N - M; i++)
        {
            key[i] = TwistWord(key[i], key[i + 1], key[i + M]);
        }
        for (; i < N - 1; i++)
        {
            key[i] = TwistWord(key[i], key[i + 1], key[i + (M - N)]);
        }
        key[N - 1] = TwistWord(key[N - 1], key[0], key[M - 1]);

        var outputs = _out;
        i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var words = ref MemoryMarshal.GetArrayDataReference(key);
            ref var tempered = ref MemoryMarshal.GetArrayDataReference(outputs);
            for (; i + 8 <= N; i += 8)
            {
                var y = Vector256.LoadUnsafe(ref words, (nuint)i);
                y ^= Vector256.ShiftRightLogical(y, 11);
                y ^= Vector256.ShiftLeft(y, 7) & Vector256.Create(0x9D2C5680u);
                y ^= Vector256.ShiftLeft(y, 15) & Vector256.Create(0xEFC60000u);
                y ^= Vector256.ShiftRightLogical(y, 18);
                y.StoreUnsafe(ref tempered, (nuint)i);
            }
        }
        for (; i < N; i++)
        {
            outputs[i] = Temper(key[i]);
        }
        _pos = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint TwistWord(uint current, uint next, uint far)
    {
        var y = (current & UpperMask) | (next & LowerMask);
        return far ^ (y >> 1) ^ ((0u - (y & 1)) & MatrixA);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwistVector(ref uint key, nuint i, nuint far)
    {
        var current = Vector256.LoadUnsafe(ref key, i);
        var next = Vector256.LoadUnsafe(ref key, i + 1);
        var y = (current & Vector256.Create(UpperMask)) | (next & Vector256.Create(LowerMask));
        var odd = Vector256<uint>.Zero - (y & Vector256<uint>.One);
        var result = Vector256.LoadUnsafe(ref key, far) ^ Vector256.ShiftRightLogical(y, 1) ^ (odd & Vector256.Create(MatrixA));
        result.StoreUnsafe(ref key, i);
    }
}
