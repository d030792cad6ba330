namespace Vigil.Simulator.Tests;

public sealed class DeterminismTests
{
    private static SimulatorOptions Options(int seed) => new() { Seed = seed, Users = 300, Start = Run.Start, Duration = TimeSpan.FromMinutes(40) };

    [Fact]
    public void Messages_SameSeed_ByteIdenticalMessagesAndLabels()
    {
        var a = Run.Of(Options(3));
        var b = Run.Of(Options(3));
        Assert.Equal(a.Messages.Count, b.Messages.Count);
        for (var i = 0; i < a.Messages.Count; i++)
        {
            Assert.Equal(a.Messages[i].Topic, b.Messages[i].Topic);
            Assert.Equal(a.Messages[i].Key, b.Messages[i].Key);
            Assert.Equal(a.Messages[i].TimestampMs, b.Messages[i].TimestampMs);
            Assert.Equal(a.Messages[i].Value, b.Messages[i].Value);
        }

        Assert.Equal(a.Labels.Count, b.Labels.Count);
        for (var i = 0; i < a.Labels.Count; i++)
        {
            Assert.Equal(a.Labels[i].CampaignId, b.Labels[i].CampaignId);
            Assert.Equal(a.Labels[i].EventIds, b.Labels[i].EventIds);
            Assert.Equal(a.Labels[i].Ips, b.Labels[i].Ips);
            Assert.Equal(a.Labels[i].UserIds, b.Labels[i].UserIds);
        }
    }

    [Fact]
    public void Messages_EnumeratedTwice_SameOutput()
    {
        var sim = new Simulation(Options(5));
        var first = sim.Messages().Select(m => Convert.ToHexString(m.Value)).ToList();
        var labels = sim.Campaigns.Count;
        var second = sim.Messages().Select(m => Convert.ToHexString(m.Value)).ToList();
        Assert.Equal(first, second);
        Assert.Equal(labels, sim.Campaigns.Count);
    }

    [Fact]
    public void Messages_DifferentSeed_DifferentOutput()
    {
        var a = Run.Of(Options(3));
        var b = Run.Of(Options(4));
        var n = Math.Min(a.Messages.Count, b.Messages.Count);
        var same = 0;
        for (var i = 0; i < n; i++)
        {
            if (a.Messages[i].Value.AsSpan().SequenceEqual(b.Messages[i].Value))
            {
                same++;
            }
        }

        Assert.Equal(0, same);
        Assert.Empty(a.Events.Select(e => e.Id).Intersect(b.Events.Select(e => e.Id)));
    }

    [Fact]
    public void Messages_EndlessMode_StreamsLazily()
    {
        var sim = new Simulation(new SimulatorOptions { Seed = 1, Users = 200, Start = Run.Start, Duration = null });
        var taken = sim.Messages().Take(20_000).ToList();
        Assert.Equal(20_000, taken.Count);
        Assert.True(taken[^1].TimestampMs > Run.Start.ToUnixTimeMilliseconds());
    }
}
