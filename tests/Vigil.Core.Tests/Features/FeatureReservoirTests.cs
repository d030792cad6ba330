using Vigil.Core.Features;

namespace Vigil.Core.Tests.Features;

public sealed class FeatureReservoirTests
{
    private static float[] Vector(float events)
    {
        var v = new float[UserFeatures.Count];
        v[0] = events;
        return v;
    }

    [Fact]
    public void Offer_MoreUsersThanCapacity_KeepsCapacityAndTheSameUsersWhateverTheOrder()
    {
        var forward = new FeatureReservoir(50);
        var backward = new FeatureReservoir(50);
        for (var u = 0; u < 1000; u++)
        {
            forward.Offer($"u-{u}", Vector(u), u);
            backward.Offer($"u-{999 - u}", Vector(999 - u), u);
        }

        Assert.Equal(50, forward.Count);
        Assert.Equal(forward.Snapshot().UserIds, backward.Snapshot().UserIds);
    }

    [Fact]
    public void Offer_ActiveUserOfferedOftenGetsNoExtraChance()
    {
        var reservoir = new FeatureReservoir(10);
        for (var u = 0; u < 100; u++)
        {
            reservoir.Offer($"u-{u}", Vector(u), u);
        }
        var before = reservoir.Snapshot().UserIds;

        // A user outside the sample stays outside however often it is offered.
        var outsider = Enumerable.Range(0, 100).Select(u => $"u-{u}").First(u => !before.Contains(u));
        for (var i = 0; i < 1000; i++)
        {
            reservoir.Offer(outsider, Vector(i), 100 + i);
        }

        Assert.Equal(before, reservoir.Snapshot().UserIds);
    }

    [Fact]
    public void Offer_SampledUserAgain_RefreshesItsVector()
    {
        var reservoir = new FeatureReservoir(10);
        reservoir.Offer("u-1", Vector(1), 1);
        reservoir.Offer("u-1", Vector(7), 2);
        var v = new float[UserFeatures.Count];

        Assert.True(reservoir.TryGet("u-1", v));
        Assert.Equal(7, v[0]);
        Assert.Equal(1, reservoir.Count);
    }

    [Fact]
    public void Snapshot_UpdatedSince_LeavesOutStaleUsers()
    {
        var reservoir = new FeatureReservoir(10);
        reservoir.Offer("old", Vector(1), 1_000);
        reservoir.Offer("new", Vector(2), 9_000);

        var sample = reservoir.Snapshot(updatedSinceMs: 5_000);

        Assert.Equal(["new"], sample.UserIds);
        Assert.Equal(2, sample.Rows[0]);
    }
}
