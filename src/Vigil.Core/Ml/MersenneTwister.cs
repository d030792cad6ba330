using System.Numerics;
using System.Runtime.CompilerServices;

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
    private int _pos;

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
        var y = _key[_pos++];
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
    /// Shuffles <paramref name="values"/> in place as <c>RandomState.shuffle</c> does a one-dimensional array (so
    /// <c>permutation(n)</c> is this over 0 … n − 1): from the last position down to the second, swap with a position
    /// drawn by <see cref="NextBounded"/>.
    /// </summary>
    public void Shuffle(Span<int> values)
    {
        for (var i = values.Length - 1; i > 0; i--)
        {
            var j = (int)NextBounded((ulong)i);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static ulong Mask(ulong max)
    {
        // The smallest all-ones bit pattern at least max.
        return ulong.MaxValue >> BitOperations.LeadingZeroCount(max);
    }

    private void Twist()
    {
        var key = _key;
        int i;
        for (i = 0; i < N - M; i++)
        {
            var y = (key[i] & UpperMask) | (key[i + 1] & LowerMask);
            key[i] = key[i + M] ^ (y >> 1) ^ ((0u - (y & 1)) & MatrixA);
        }
        for (; i < N - 1; i++)
        {
            var y = (key[i] & UpperMask) | (key[i + 1] & LowerMask);
            key[i] = key[i + (M - N)] ^ (y >> 1) ^ ((0u - (y & 1)) & MatrixA);
        }
        var last = (key[N - 1] & UpperMask) | (key[0] & LowerMask);
        key[N - 1] = key[M - 1] ^ (last >> 1) ^ ((0u - (last & 1)) & MatrixA);
        _pos = 0;
    }
}
