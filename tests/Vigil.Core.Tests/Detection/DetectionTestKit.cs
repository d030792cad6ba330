using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Geo;

namespace Vigil.Core.Tests.Detection;

/// <summary>A deterministic driver for one rule: events at second offsets from a fixed start, offsets counted, and a
/// checkpoint/restore into a fresh runtime built by the same factory.</summary>
internal sealed class RuleDriver
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    /// <summary>A still clock for alerts' detectedAt, so runs compare byte for byte.</summary>
    public static readonly TimeProvider Clock = new Vigil.Core.Tests.Events.FixedTimeProvider(T0);

    private readonly Func<IOperator<UserEvent, Alert>> _factory;
    private PartitionRuntime<UserEvent, Alert> _runtime;
    private int _next;

    public RuleDriver(Func<IOperator<UserEvent, Alert>> factory)
    {
        _factory = factory;
        _runtime = NewRuntime();
    }

    public List<Alert> Alerts { get; } = [];

    public UserEvent Event(EventType type, double seconds, string? user = "u-1", string? ip = "203.0.113.7", string? username = null,
        string? session = null, string? agent = null, Dictionary<string, string>? properties = null) => new()
    {
        EventId = $"e-{_next++}",
        Type = type,
        TimestampMs = T0.AddSeconds(seconds).ToUnixTimeMilliseconds(),
        UserId = user,
        Username = username,
        IpAddress = ip,
        SessionId = session,
        UserAgent = agent,
        Properties = properties,
    };

    public List<Alert> Feed(params UserEvent[] events)
    {
        var output = new ListOutput<Alert>();
        var offset = _runtime.ResumeOffset();
        foreach (var e in events)
        {
            _runtime.Process(e, e.TimestampMs, offset++, output);
        }
        Alerts.AddRange(output.Items);
        return output.Items;
    }

    public List<Alert> Feed(IEnumerable<UserEvent> events) => Feed(events.ToArray());

    /// <summary>Checkpoints, then continues in a new runtime restored from the checkpoint.</summary>
    public void Restart()
    {
        var checkpoint = _runtime.Snapshot();
        _runtime = NewRuntime();
        Assert.Equal(CheckpointReadStatus.Ok, _runtime.Restore(checkpoint));
    }

    private PartitionRuntime<UserEvent, Alert> NewRuntime() => new([_factory()], new PartitionRuntimeOptions
    {
        Watermarks = new WatermarkOptions { AllowedLateness = TimeSpan.FromMinutes(10), IdleTimeout = Timeout.InfiniteTimeSpan },
    });

    /// <summary>What a rule emits, compared across runs (ids, severities, summaries, evidence bytes).</summary>
    public static List<string> Describe(IEnumerable<Alert> alerts) =>
        alerts.Select(a => System.Text.Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(a))).ToList();
}

/// <summary>A geolocator over a fixed table, for the geo rules.</summary>
internal sealed class FakeGeo : IGeoLocator
{
    private readonly Dictionary<string, GeoLocation> _table = new(StringComparer.Ordinal);

    public FakeGeo Add(string ip, string country, double lat, double lon, string? city = null, bool hosting = false, int radiusKm = 50)
    {
        _table[ip] = new GeoLocation(city, null, country, lat, lon, null, radiusKm, 0, null, hosting);
        return this;
    }

    public bool TryLookup(ReadOnlySpan<char> ip, out GeoLocation location) => _table.TryGetValue(ip.ToString(), out location);

    /// <summary>A few places: Paris, Lyon (390 km away), New York, Frankfurt (hosting), Tokyo.</summary>
    public static FakeGeo World() => new FakeGeo()
        .Add("198.51.100.1", "FR", 48.8566, 2.3522, "Paris")
        .Add("198.51.100.2", "FR", 48.8566, 2.3522, "Paris")
        .Add("198.51.100.3", "FR", 45.7640, 4.8357, "Lyon")
        .Add("203.0.113.50", "US", 40.7128, -74.0060, "New York")
        .Add("192.0.2.80", "DE", 50.1109, 8.6821, "Frankfurt", hosting: true)
        .Add("203.0.113.90", "JP", 35.6762, 139.6503, "Tokyo");
}
