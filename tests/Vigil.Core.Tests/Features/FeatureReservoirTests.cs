using Vigil.Core.Events;
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
    public void OfferState_SnapshotAndTryGet_GiveTheFeaturesOfTheStateAsOffered()
    {
        var reservoir = new FeatureReservoir(10);
        var state = new UserFeatureState();
        state.Add(FeatureStreams.Event(EventType.LoginSuccess, FeatureStreams.At(0, 9), ip: "198.51.100.1"), "DE", 1_800_000);
        state.Add(FeatureStreams.Event(EventType.Search, FeatureStreams.At(0, 9, 5), ip: "198.51.100.2", agent: "agent-b"), "FR", 1_800_000);
        var expected = new float[UserFeatures.Count];
        state.WriteTo(expected);
        reservoir.Offer("u-1", in state, 5);
        // The caller's state moves on; the reservoir holds what was offered.
        state.Add(FeatureStreams.Event(EventType.LoginFailed, FeatureStreams.At(2, 3)), "US", 1_800_000);
        reservoir.Offer("u-2", Vector(3), 6);

        var sample = reservoir.Snapshot();
        var got = new float[UserFeatures.Count];

        Assert.Equal(["u-1", "u-2"], sample.UserIds);
        Assert.Equal(expected, sample.Rows.AsSpan(0, UserFeatures.Count).ToArray());
        Assert.Equal(Vector(3), sample.Rows.AsSpan(UserFeatures.Count, UserFeatures.Count).ToArray());
        Assert.True(reservoir.TryGet("u-1", got));
        Assert.Equal(expected, got);
        // A vector offered after a state replaces it, and the other way round.
        reservoir.Offer("u-1", Vector(9), 7);
        Assert.True(reservoir.TryGet("u-1", got));
        Assert.Equal(Vector(9), got);
        reservoir.Offer("u-1", in state, 8);
        state.WriteTo(expected);
        Assert.True(reservoir.TryGet("u-1", got));
        Assert.Equal(expected, got);
    }

    [Fact]
    public void OfferWithHint_RightStaleAndMissingHints_SameSampleAsWithout()
    {
        // Two reservoirs fed the same offers, one with the hints a caller keeps per user and deliberately wrong hints
        // now and then: the samples must be the same, and the hint must end up at the user's slot or −1.
        var plain = new FeatureReservoir(40);
        var hinted = new FeatureReservoir(40);
        var hints = new Dictionary<string, ReservoirHint>();
        var rng = new Random(3);
        var state = new UserFeatureState();
        for (var i = 0; i < 5_000; i++)
        {
            var user = $"u-{rng.Next(200)}";
            state.Add(FeatureStreams.Event(EventType.Search, FeatureStreams.At(0, 1, 0, i % 60), user: user), "DE", 1_800_000);
            plain.Offer(user, in state, i);
            var hint = hints.GetValueOrDefault(user);
            if (rng.Next(10) == 0)
            {
                // Another user's hint, or one for a slot out of range: stale or foreign.
                hint = rng.Next(3) == 0 ? new ReservoirHint(rng.Next(-5, 45), rng.Next(3)) : hints.Values.ElementAtOrDefault(rng.Next(hints.Count));
            }
            hinted.Offer(user, in state, i, ref hint);
            hints[user] = hint;
            if (hint.Slot >= 0)
            {
                var row = new float[UserFeatures.Count];
                Assert.True(hinted.TryGet(user, row));
            }
            else
            {
                Assert.False(hinted.TryGet(user, new float[UserFeatures.Count]));
            }
        }

        var a = plain.Snapshot();
        var b = hinted.Snapshot();
        Assert.Equal(40, a.Count);
        Assert.Equal(a.UserIds, b.UserIds);
        Assert.Equal(a.Rows, b.Rows);
        Assert.Equal(plain.Offers, hinted.Offers);
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

    [Fact]
    public async Task OfferWithHint_WhileTheTrainerReads_NeverGivesAHalfCopiedState()
    {
        // Two writers refresh their users (hinted, so without the lock) with states whose every event is a login, while
        // a reader snapshots: a row copied half before and half after a refresh would show more events than logins.
        var reservoir = new FeatureReservoir(8);
        using var stop = new CancellationTokenSource();
        var offered = new long[2];
        Task Writer(int first) => Task.Run(() =>
        {
            var states = new UserFeatureState[4];
            var hints = new ReservoirHint[4];
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var u = i % 4;
                states[u].Add(FeatureStreams.Event(EventType.LoginSuccess, FeatureStreams.At(0, 1, 0, i % 60), user: $"u-{first + u}"), "DE", 1_800_000);
                reservoir.Offer($"u-{first + u}", in states[u], i, ref hints[u]);
                Interlocked.Increment(ref offered[first / 4]);
                i++;
            }
        });
        var writers = new[] { Writer(0), Writer(4) };
        var rows = 0;
        // Until both writers have refreshed their users many times (a pool thread may start late) and many rows were read.
        while (Interlocked.Read(ref offered[0]) < 20_000 || Interlocked.Read(ref offered[1]) < 20_000 || rows < 1_000)
        {
            var sample = reservoir.Snapshot();
            for (var r = 0; r < sample.Count; r++)
            {
                var row = sample.Rows.AsSpan(r * UserFeatures.Count, UserFeatures.Count);
                Assert.Equal(row[(int)UserFeature.Events], row[(int)UserFeature.Logins]);
                rows++;
            }
        }
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.Equal(8, reservoir.Count);
        Assert.True(reservoir.Offers > 8, $"offers {reservoir.Offers}");
    }

    [Fact]
    public void NewestUpdateMs_IsTheLatestRefreshOfAUserInTheSample()
    {
        var reservoir = new FeatureReservoir(2);
        Assert.Equal(long.MinValue, reservoir.NewestUpdateMs);
        reservoir.Offer("a", Vector(1), 5_000);
        reservoir.Offer("b", Vector(1), 3_000);
        Assert.Equal(5_000, reservoir.NewestUpdateMs);
        var state = new UserFeatureState();
        ReservoirHint hint = default;
        reservoir.Offer("b", in state, 9_000, ref hint);
        Assert.Equal(9_000, reservoir.NewestUpdateMs);
        Assert.Equal(1, hint.Slot);
    }
}
