namespace Vigil.Server.Pipeline;

/// <summary>
/// A lock-free histogram of latencies in milliseconds with fixed, roughly logarithmic buckets: cheap enough to
/// record every event, exported to Prometheus as a histogram and summarised as p50/p99 for the dashboard.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Upper bounds of the buckets, in milliseconds; a last bucket catches everything above.</summary>
    public static readonly double[] BoundsMs =
        [1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

    private readonly long[] _counts = new long[BoundsMs.Length + 1];
    private long _count;
    private long _sumMicros;

    public void Record(double ms)
    {
        if (double.IsNaN(ms))
        {
            return;
        }
        ms = Math.Max(0, ms);
        var i = BucketOf(ms);
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, (long)(ms * 1000));
    }

    /// <summary>Adds what <paramref name="local"/> recorded and empties it.</summary>
    public void Add(Local local)
    {
        ArgumentNullException.ThrowIfNull(local);
        if (local.Count == 0)
        {
            return;
        }
        for (var i = 0; i < local.Counts.Length; i++)
        {
            if (local.Counts[i] != 0)
            {
                Interlocked.Add(ref _counts[i], local.Counts[i]);
                local.Counts[i] = 0;
            }
        }
        Interlocked.Add(ref _count, local.Count);
        Interlocked.Add(ref _sumMicros, local.SumMicros);
        local.Count = 0;
        local.SumMicros = 0;
    }

    /// <summary>Recordings kept by one thread without atomics, added to the shared histogram in a batch.</summary>
    public sealed class Local
    {
        internal readonly long[] Counts = new long[BoundsMs.Length + 1];
        internal long Count;
        internal long SumMicros;

        public void Record(double ms)
        {
            if (!double.IsNaN(ms))
            {
                ms = Math.Max(0, ms);
                Counts[BucketOf(ms)]++;
                Count++;
                SumMicros += (long)(ms * 1000);
            }
        }
    }

    /// <summary>The bucket of a latency of <paramref name="ms"/> ≥ 0.</summary>
    private static int BucketOf(double ms)
    {
        var i = 0;
        while (i < BoundsMs.Length && ms > BoundsMs[i])
        {
            i++;
        }
        return i;
    }

    public long Count => Interlocked.Read(ref _count);

    public double SumMs => Interlocked.Read(ref _sumMicros) / 1000.0;

    /// <summary>Cumulative counts per bucket (the last is +Inf), as Prometheus wants them.</summary>
    public long[] CumulativeCounts()
    {
        var result = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            running += Interlocked.Read(ref _counts[i]);
            result[i] = running;
        }
        return result;
    }

    /// <summary>The quantile, interpolated linearly inside its bucket; 0 when empty.</summary>
    public double Quantile(double q)
    {
        var cumulative = CumulativeCounts();
        var total = cumulative[^1];
        if (total == 0)
        {
            return 0;
        }
        var rank = q * total;
        for (var i = 0; i < cumulative.Length; i++)
        {
            if (cumulative[i] >= rank)
            {
                var lower = i == 0 ? 0 : BoundsMs[i - 1];
                var upper = i < BoundsMs.Length ? BoundsMs[i] : BoundsMs[^1] * 2;
                var below = i == 0 ? 0 : cumulative[i - 1];
                var inBucket = cumulative[i] - below;
                return inBucket == 0 ? upper : lower + ((upper - lower) * (rank - below) / inBucket);
            }
        }
        return BoundsMs[^1];
    }
}
