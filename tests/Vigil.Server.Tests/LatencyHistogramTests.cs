using Vigil.Server.Pipeline;

namespace Vigil.Server.Tests;

public sealed class LatencyHistogramTests
{
    /// <summary>The ingest loop records into a thread-local histogram and adds it once per batch: the result must be
    /// what recording each value into the shared one gives, and the local one must start again empty.</summary>
    [Fact]
    public void LocalThenAdd_SameAsRecordingEachValue_AndLocalEmptied()
    {
        double[] values = [0.4, 1, 1.5, 3, 7, 7, 19, 49.9, 120, 240, 260, 999, 4000, 70_000, -3, double.NaN];
        var direct = new LatencyHistogram();
        var batched = new LatencyHistogram();
        var local = new LatencyHistogram.Local();
        foreach (var v in values)
        {
            direct.Record(v);
            local.Record(v);
        }

        batched.Add(local);
        batched.Add(local);

        Assert.Equal(direct.CumulativeCounts(), batched.CumulativeCounts());
        Assert.Equal(direct.Count, batched.Count);
        Assert.Equal(15, batched.Count);
        Assert.Equal(direct.SumMs, batched.SumMs);
        Assert.Equal(direct.Quantile(0.99), batched.Quantile(0.99));
        local.Record(5);
        batched.Add(local);
        Assert.Equal(16, batched.Count);
    }
}
