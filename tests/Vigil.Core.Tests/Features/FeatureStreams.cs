using Vigil.Core.Events;
using Vigil.Core.Features;
using Vigil.Core.Geo;

namespace Vigil.Core.Tests.Features;

/// <summary>Hand-made event streams for the feature tests.</summary>
internal static class FeatureStreams
{
    /// <summary>Monday 2026-01-05 00:00 UTC.</summary>
    public static readonly long T0 = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static int s_next;

    public static UserEvent Event(EventType type, long ts, string user = "u-1", string? session = "s-1", string? ip = "198.51.100.1",
        string? agent = "agent-a") => new()
    {
        EventId = $"e-{Interlocked.Increment(ref s_next)}",
        Type = type,
        TimestampMs = ts,
        UserId = user,
        SessionId = session,
        IpAddress = ip,
        UserAgent = agent,
    };

    public static long At(int day, int hour, int minute = 0, int second = 0) =>
        T0 + (((((day * 24L) + hour) * 60) + minute) * 60 + second) * 1000;

    public static float[] FeaturesOf(params UserEvent[] events) => FeaturesOf(null, events);

    public static float[] FeaturesOf(IGeoLocator? geo, params UserEvent[] events)
    {
        var aggregator = new UserFeatureAggregator(geo: geo);
        foreach (var e in events)
        {
            aggregator.Add(e);
        }
        var features = new float[UserFeatures.Count];
        Assert.True(aggregator.TryGetFeatures(events[0].UserId!, features));
        return features;
    }

    public static float Get(this float[] features, UserFeature feature) => features[(int)feature];
}

/// <summary>Maps addresses to countries from a table.</summary>
internal sealed class TableGeo(Dictionary<string, string> countries) : IGeoLocator
{
    public bool TryLookup(ReadOnlySpan<char> ip, out GeoLocation location)
    {
        if (countries.TryGetValue(ip.ToString(), out var cc))
        {
            location = new GeoLocation(null, null, cc, 0, 0, null, 1000, 0, null, false);
            return true;
        }
        location = default;
        return false;
    }
}
