using Vigil.Core.Ml;

namespace Vigil.Simulator.Internal;

/// <summary>
/// xoshiro256** seeded through SplitMix64. Our own generator rather than System.Random so the output
/// stays byte-identical across runtime versions, whose Random implementation is free to change.
/// </summary>
internal struct Prng(ulong seed)
{
    // The generator itself is the core's xoshiro256**; this adds the distributions the simulator draws from.
    private Xoshiro256 _random = new(seed);

    /// <summary>An independent stream for one entity: the same (seed, stream, id) always gives the same numbers.</summary>
    public static Prng For(long seed, ulong stream, long id) =>
        new(Mix64(Mix64((ulong)seed ^ 0x5DEECE66DUL) ^ Mix64(stream * 0x9E3779B97F4A7C15UL) ^ (ulong)id));

    /// <summary>The SplitMix64 finaliser: a bijection on 64 bits, so distinct inputs give distinct outputs.</summary>
    public static ulong Mix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64() => _random.NextUInt64();

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => _random.NextDouble();

    /// <summary>Uniform in [0, n).</summary>
    public int Next(int n) => n <= 0 ? 0 : (int)((NextUInt64() >> 33) * (ulong)n >> 31);

    /// <summary>Uniform in [min, max].</summary>
    public int Between(int min, int max) => min + Next(max - min + 1);

    public double Between(double min, double max) => min + (NextDouble() * (max - min));

    public bool Chance(double p) => NextDouble() < p;

    /// <summary>Exponential with the given mean.</summary>
    public double Exponential(double mean) => -mean * Math.Log(1.0 - NextDouble());

    /// <summary>Log-normal with the given median and shape.</summary>
    public double LogNormal(double median, double sigma) => median * Math.Exp(sigma * Normal());

    public double Normal()
    {
        // Box–Muller; one of the pair is dropped, which keeps the stream stateless beyond the four words.
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>Index drawn in proportion to the weights.</summary>
    public int PickWeighted(ReadOnlySpan<double> cumulative)
    {
        var x = NextDouble() * cumulative[^1];
        var lo = 0;
        var hi = cumulative.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (cumulative[mid] > x)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }
}
