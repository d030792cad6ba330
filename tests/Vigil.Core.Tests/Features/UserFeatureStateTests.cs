using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Features;
using Vigil.Core.Geo;
using static Vigil.Core.Tests.Features.FeatureStreams;

namespace Vigil.Core.Tests.Features;

public sealed class UserFeatureStateTests
{
    [Fact]
    public void Events_FourEvents_CountsFour()
    {
        var f = FeaturesOf(
            Event(EventType.LoginSuccess, At(0, 9)), Event(EventType.Search, At(0, 9, 1)),
            Event(EventType.PageView, At(0, 9, 2)), Event(EventType.Logout, At(0, 9, 3)));

        Assert.Equal(4, f.Get(UserFeature.Events));
    }

    [Fact]
    public void Sessions_ThreeSessionIds_CountsThreeAndEventsPerSession()
    {
        var f = FeaturesOf(
            Event(EventType.LoginSuccess, At(0, 9), session: "a"), Event(EventType.Search, At(0, 9, 1), session: "a"),
            Event(EventType.LoginSuccess, At(0, 12), session: "b"),
            Event(EventType.LoginSuccess, At(0, 18), session: "c"), Event(EventType.Search, At(0, 18, 1), session: "c"),
            Event(EventType.Search, At(0, 18, 2), session: "c"));

        Assert.Equal(3, f.Get(UserFeature.Sessions));
        Assert.Equal(2, f.Get(UserFeature.EventsPerSession));
    }

    [Fact]
    public void Sessions_NoSessionIds_SplitOnSilenceLongerThanTimeout()
    {
        // 10 min apart stays one session; 31 min apart starts another (timeout 30 min).
        var f = FeaturesOf(
            Event(EventType.PageView, At(0, 9), session: null), Event(EventType.PageView, At(0, 9, 10), session: null),
            Event(EventType.PageView, At(0, 9, 41), session: null));

        Assert.Equal(2, f.Get(UserFeature.Sessions));
    }

    [Fact]
    public void MeanActiveHour_EventsAt23And01_IsMidnightNot12()
    {
        // The arithmetic mean of 23 and 1 is 12; the circular mean is 0.
        var f = FeaturesOf(Event(EventType.PageView, At(0, 23)), Event(EventType.PageView, At(1, 1)));

        var hour = f.Get(UserFeature.MeanActiveHour);
        Assert.True(hour < 0.01 || hour > 23.99, $"mean hour {hour}");
    }

    [Fact]
    public void MeanActiveHour_EventsAt9And11_Is10()
    {
        var f = FeaturesOf(Event(EventType.PageView, At(0, 9)), Event(EventType.PageView, At(0, 11)));

        Assert.Equal(10, f.Get(UserFeature.MeanActiveHour), 3);
    }

    [Fact]
    public void NightShare_OneOfFourBetweenMidnightAnd6_IsQuarter()
    {
        var f = FeaturesOf(
            Event(EventType.PageView, At(0, 3)), Event(EventType.PageView, At(0, 6)),
            Event(EventType.PageView, At(0, 12)), Event(EventType.PageView, At(0, 23, 59)));

        Assert.Equal(0.25f, f.Get(UserFeature.NightShare));
    }

    [Fact]
    public void FailedLoginRatio_ThreeFailuresOneSuccess_IsThreeQuarters()
    {
        var f = FeaturesOf(
            Event(EventType.LoginFailed, At(0, 9)), Event(EventType.LoginFailed, At(0, 9, 1)),
            Event(EventType.LoginFailed, At(0, 9, 2)), Event(EventType.LoginSuccess, At(0, 9, 3)),
            Event(EventType.Search, At(0, 9, 4)));

        Assert.Equal(0.75f, f.Get(UserFeature.FailedLoginRatio));
        Assert.Equal(1, f.Get(UserFeature.Logins));
    }

    [Fact]
    public void FailedLoginRatio_NoLogins_IsZero()
    {
        var f = FeaturesOf(Event(EventType.Search, At(0, 9)));

        Assert.Equal(0, f.Get(UserFeature.FailedLoginRatio));
    }

    [Fact]
    public void DistinctIps_RepeatsCountOnce()
    {
        var f = FeaturesOf(
            Event(EventType.PageView, At(0, 9), ip: "198.51.100.1"), Event(EventType.PageView, At(0, 9, 1), ip: "198.51.100.2"),
            Event(EventType.PageView, At(0, 9, 2), ip: "198.51.100.1"), Event(EventType.PageView, At(0, 9, 3), ip: "2001:db8::1"));

        Assert.Equal(3, f.Get(UserFeature.DistinctIps));
    }

    [Fact]
    public void DistinctCountries_WithGeo_CountsCountriesNotIps()
    {
        var geo = new TableGeo(new() { ["198.51.100.1"] = "DE", ["198.51.100.2"] = "DE", ["203.0.113.9"] = "JP" });

        var f = FeaturesOf(geo,
            Event(EventType.PageView, At(0, 9), ip: "198.51.100.1"), Event(EventType.PageView, At(0, 9, 1), ip: "198.51.100.2"),
            Event(EventType.PageView, At(0, 9, 2), ip: "203.0.113.9"), Event(EventType.PageView, At(0, 9, 3), ip: "192.0.2.77"));

        Assert.Equal(2, f.Get(UserFeature.DistinctCountries));
        Assert.Equal(4, f.Get(UserFeature.DistinctIps));
    }

    [Fact]
    public void AddWithGeo_LooksUpOnlyANewAddress_SameFeaturesAsACountryPerEvent()
    {
        var table = new TableGeo(new() { ["198.51.100.1"] = "DE", ["198.51.100.2"] = "FR", ["203.0.113.9"] = "JP" });
        var geo = new CountingGeo(table);
        string?[] ips = ["198.51.100.1", "198.51.100.1", null, "198.51.100.1", "198.51.100.2", "198.51.100.2", "203.0.113.9", "198.51.100.1", "192.0.2.77"];
        var byGeo = new UserFeatureState();
        var byCountry = new UserFeatureState();
        for (var i = 0; i < ips.Length; i++)
        {
            var e = Event(EventType.PageView, At(0, 9, i), ip: ips[i]);
            byGeo.Add(e, geo, 1_800_000);
            var country = ips[i] is { } ip && table.TryLookup(ip, out var location) ? location.CountryCode : null;
            byCountry.Add(e, country, 1_800_000);
        }
        var a = new float[UserFeatures.Count];
        var b = new float[UserFeatures.Count];
        byGeo.WriteTo(a);
        byCountry.WriteTo(b);

        Assert.Equal(b, a);
        Assert.Equal(3, a.Get(UserFeature.DistinctCountries));
        Assert.Equal(4, a.Get(UserFeature.DistinctIps));
        // Each change of address is looked up once: .1, .2, .9, .1 again, .77; the repeats and the event without one are not.
        Assert.Equal(5, geo.Lookups);
    }

    private sealed class CountingGeo(IGeoLocator inner) : IGeoLocator
    {
        public int Lookups { get; private set; }

        public bool TryLookup(ReadOnlySpan<char> ip, out GeoLocation location)
        {
            Lookups++;
            return inner.TryLookup(ip, out location);
        }
    }

    [Fact]
    public void DistinctCountries_WithoutGeo_IsZero()
    {
        var f = FeaturesOf(Event(EventType.PageView, At(0, 9)));

        Assert.Equal(0, f.Get(UserFeature.DistinctCountries));
    }

    [Fact]
    public void DistinctDevices_TwoUserAgents_CountsTwo()
    {
        var f = FeaturesOf(
            Event(EventType.PageView, At(0, 9), agent: "phone"), Event(EventType.PageView, At(0, 9, 1), agent: "laptop"),
            Event(EventType.PageView, At(0, 9, 2), agent: "phone"));

        Assert.Equal(2, f.Get(UserFeature.DistinctDevices));
    }

    [Fact]
    public void DistinctIps_SixtyValuesEach_EstimatesAverageWithinFivePercent()
    {
        // Past the exact slots the count is an estimate (≈7% standard error at 60): check its bias over 40 users.
        var aggregator = new UserFeatureAggregator();
        for (var u = 0; u < 40; u++)
        {
            for (var i = 0; i < 60; i++)
            {
                aggregator.Add(Event(EventType.PageView, At(0, 9, u, i), user: $"u-{u}", ip: $"10.{u}.{i / 256}.{i % 256}"));
            }
        }
        var f = new float[UserFeatures.Count];
        double sum = 0;
        for (var u = 0; u < 40; u++)
        {
            Assert.True(aggregator.TryGetFeatures($"u-{u}", f));
            Assert.InRange(f.Get(UserFeature.DistinctIps), 40, 80);
            sum += f.Get(UserFeature.DistinctIps);
        }

        Assert.InRange(sum / 40, 57, 63);
    }

    [Fact]
    public void SearchesPerSession_FourSearchesTwoSessions_IsTwo()
    {
        var f = FeaturesOf(
            Event(EventType.Search, At(0, 9), session: "a"), Event(EventType.Search, At(0, 9, 1), session: "a"),
            Event(EventType.Search, At(0, 9, 2), session: "a"), Event(EventType.Search, At(0, 20), session: "b"),
            Event(EventType.PageView, At(0, 20, 1), session: "b"));

        Assert.Equal(2, f.Get(UserFeature.SearchesPerSession));
    }

    [Fact]
    public void GapStatistics_GapsOf10And30Seconds_MeanAndSampleStd()
    {
        var f = FeaturesOf(
            Event(EventType.PageView, At(0, 9, 0, 0)), Event(EventType.PageView, At(0, 9, 0, 10)),
            Event(EventType.PageView, At(0, 9, 0, 40)));

        Assert.Equal(20, f.Get(UserFeature.GapMeanSeconds), 4);
        // Sample standard deviation of {10, 30}: sqrt(200) = 14.142.
        Assert.Equal(Math.Sqrt(200), f.Get(UserFeature.GapStdSeconds), 3);
    }

    [Fact]
    public void GapStatistics_OutOfOrderEvent_IsCountedButAddsNoGap()
    {
        var f = FeaturesOf(
            Event(EventType.PageView, At(0, 9, 0, 0)), Event(EventType.PageView, At(0, 9, 0, 10)),
            Event(EventType.PageView, At(0, 9, 0, 5)), Event(EventType.PageView, At(0, 9, 0, 40)));

        Assert.Equal(4, f.Get(UserFeature.Events));
        Assert.Equal(20, f.Get(UserFeature.GapMeanSeconds), 4);
    }

    [Fact]
    public void DaysActive_ThreeDistinctDaysWithRepeats_CountsThree()
    {
        var f = FeaturesOf(
            Event(EventType.PageView, At(0, 9)), Event(EventType.PageView, At(0, 22)),
            Event(EventType.PageView, At(2, 9)), Event(EventType.PageView, At(2, 10)), Event(EventType.PageView, At(5, 0, 1)));

        Assert.Equal(3, f.Get(UserFeature.DaysActive));
    }

    [Fact]
    public void AccountChanges_CountsPasswordEmailMfaAndResets()
    {
        var f = FeaturesOf(
            Event(EventType.PasswordChanged, At(0, 9)), Event(EventType.EmailChanged, At(0, 9, 1)),
            Event(EventType.MfaChanged, At(0, 9, 2)), Event(EventType.PasswordResetRequested, At(0, 9, 3)),
            Event(EventType.ProfileUpdated, At(0, 9, 4)));

        Assert.Equal(4, f.Get(UserFeature.AccountChanges));
    }

    [Fact]
    public void Serializer_RoundTrip_GivesTheSameFeaturesAndContinuesIdentically()
    {
        var events = new[]
        {
            Event(EventType.LoginSuccess, At(0, 9), ip: "198.51.100.1"), Event(EventType.Search, At(0, 9, 1), ip: "198.51.100.2"),
            Event(EventType.LoginFailed, At(1, 2), session: "x", agent: "b"),
        };
        var original = new UserFeatureState();
        foreach (var e in events)
        {
            original.Add(e, "DE", 1_800_000);
        }
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            UserFeatureState.Serializer.Instance.Write(writer, original);
        }
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);
        var restored = UserFeatureState.Serializer.Instance.Read(reader);

        var next = Event(EventType.Search, At(1, 3), ip: "203.0.113.1");
        original.Add(next, "FR", 1_800_000);
        restored.Add(next, "FR", 1_800_000);
        var a = new float[UserFeatures.Count];
        var b = new float[UserFeatures.Count];
        original.WriteTo(a);
        restored.WriteTo(b);
        Assert.Equal(a, b);
        Assert.Equal(buffer.Length, buffer.Position);
    }

    [Fact]
    public void SizeInBytes_IsSmall()
    {
        Assert.InRange(UserFeatureState.SizeInBytes, 100, 152);
    }

    [Fact]
    public void Names_OnePerFeature_AndUnique()
    {
        Assert.Equal(UserFeatures.Count, Enum.GetValues<UserFeature>().Length);
        Assert.Equal(UserFeatures.Count, UserFeatures.Names.Distinct().Count());
    }
}

public sealed class DistinctSketchTests
{
    private static ulong Top(int bit, uint low = 0) => ((ulong)bit << 57) | low;

    [Fact]
    public void Estimate_FourValuesAndRepeats_IsExactlyFour()
    {
        var sketch = default(DistinctSketch);
        for (var round = 0; round < 3; round++)
        {
            for (var v = 0; v < 4; v++)
            {
                sketch.Add(Top(v, (uint)v));
            }
        }

        Assert.Equal(4, sketch.Estimate());
    }

    [Fact]
    public void Estimate_FiveValuesOnFiveBits_IsLinearCountingOverAllFive()
    {
        // The fifth value turns the four kept hashes into bitmap bits: all five must be set.
        var sketch = default(DistinctSketch);
        for (var v = 0; v < 5; v++)
        {
            sketch.Add(Top(v * 20));
        }

        Assert.Equal(-128 * Math.Log(123 / 128.0), sketch.Estimate(), 12);
    }

    [Fact]
    public void Estimate_ValuesSharingABit_CountOnceInTheBitmap()
    {
        var sketch = default(DistinctSketch);
        for (var v = 0; v < 10; v++)
        {
            sketch.Add(Top(v % 6, (uint)v << 8));
        }

        Assert.Equal(Math.Max(5, -128 * Math.Log(122 / 128.0)), sketch.Estimate(), 12);
    }

    [Fact]
    public void SizeInBytes_IsSeventeen()
    {
        Assert.Equal(17, System.Runtime.CompilerServices.Unsafe.SizeOf<DistinctSketch>());
    }
}
