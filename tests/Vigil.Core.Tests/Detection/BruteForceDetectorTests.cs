using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Detection;

public sealed class BruteForceDetectorTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);
    private int _next;

    private UserEvent Event(EventType type, double seconds, string user = "u-1", string ip = "203.0.113.7") => new()
    {
        EventId = $"e-{_next++}",
        Type = type,
        TimestampMs = s_t0.AddSeconds(seconds).ToUnixTimeMilliseconds(),
        UserId = user,
        IpAddress = ip,
    };

    private static List<Alert> Run(BruteForceDetector detector, IEnumerable<UserEvent> events)
    {
        var alerts = new List<Alert>();
        foreach (var e in events)
        {
            detector.Process(e, alerts);
        }
        return alerts;
    }

    private static BruteForceDetector NewDetector() => new(new BruteForceOptions(), TimeProvider.System);

    [Fact]
    public void Process_FiveFailuresWithinTwoMinutes_RaisesOneMediumAlert()
    {
        var events = Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, i * 20)).ToList();

        var alerts = Run(NewDetector(), events);

        var alert = Assert.Single(alerts);
        Assert.Equal("BRUTE_FORCE", alert.Rule);
        Assert.Equal(Severity.Medium, alert.Severity);
        Assert.Equal("u-1", alert.UserId);
        Assert.Equal(s_t0, alert.WindowStart);
        Assert.Equal(s_t0.AddSeconds(80), alert.WindowEnd);
        Assert.Equal(events.Select(e => e.EventId), Assert.IsType<List<string>>(alert.Evidence["eventIds"]));
        Assert.Contains("5 failed logins in 80 s", alert.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_FourFailures_RaisesNothing()
    {
        var alerts = Run(NewDetector(), Enumerable.Range(0, 4).Select(i => Event(EventType.LoginFailed, i)));

        Assert.Empty(alerts);
    }

    [Fact]
    public void Process_FiveFailuresSpreadOverMoreThanTwoMinutes_RaisesNothing()
    {
        var alerts = Run(NewDetector(), Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, i * 31)));

        Assert.Empty(alerts);
    }

    [Fact]
    public void Process_LongBurst_RaisesOneAlertNotOnePerFailure()
    {
        var alerts = Run(NewDetector(), Enumerable.Range(0, 40).Select(i => Event(EventType.LoginFailed, i * 2)));

        Assert.Single(alerts);
    }

    [Fact]
    public void Process_TwoBurstsSeparatedByQuiet_RaisesTwoAlertsWithDifferentIds()
    {
        var first = Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, i));
        var second = Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, 600 + i));

        var alerts = Run(NewDetector(), first.Concat(second).ToList());

        Assert.Equal(2, alerts.Count);
        Assert.NotEqual(alerts[0].AlertId, alerts[1].AlertId);
    }

    [Fact]
    public void Process_FailuresOfDifferentUsers_AreCountedSeparately()
    {
        var events = Enumerable.Range(0, 8).Select(i => Event(EventType.LoginFailed, i, user: i % 2 == 0 ? "a" : "b"));

        var alerts = Run(NewDetector(), events.ToList());

        Assert.Empty(alerts);
    }

    [Fact]
    public void Process_SuccessAfterBurstWithinTenMinutes_RaisesHighAlert()
    {
        var events = Enumerable.Range(0, 6).Select(i => Event(EventType.LoginFailed, i)).ToList();
        events.Add(Event(EventType.LoginSuccess, 300, ip: "198.51.100.9"));

        var alerts = Run(NewDetector(), events);

        Assert.Equal(2, alerts.Count);
        var high = alerts[1];
        Assert.Equal(Severity.High, high.Severity);
        Assert.Equal("198.51.100.9", high.IpAddress);
        Assert.Equal(events[^1].EventId, high.Evidence["successEventId"]);
        Assert.Equal(alerts[0].AlertId, high.Evidence["previousAlertId"]);
        Assert.Contains("then a success", high.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_SuccessAfterTenMinutes_RaisesNoHighAlert()
    {
        var events = Enumerable.Range(0, 6).Select(i => Event(EventType.LoginFailed, i)).ToList();
        events.Add(Event(EventType.LoginSuccess, 700));

        var alerts = Run(NewDetector(), events);

        Assert.Single(alerts);
    }

    [Fact]
    public void Process_SlightlyOutOfOrderFailures_StillCounted()
    {
        var seconds = new[] { 0, 10, 5, 30, 20 };
        var alerts = Run(NewDetector(), seconds.Select(s => Event(EventType.LoginFailed, s)).ToList());

        var alert = Assert.Single(alerts);
        Assert.Equal(s_t0, alert.WindowStart);
    }

    [Fact]
    public void Process_UnknownAccountFailures_KeyedByUsername()
    {
        var events = Enumerable.Range(0, 5).Select(i => new UserEvent
        {
            EventId = $"x-{i}",
            Type = EventType.LoginFailed,
            TimestampMs = s_t0.AddSeconds(i).ToUnixTimeMilliseconds(),
            Username = "ghost",
            IpAddress = "192.0.2.1",
        });

        var alert = Assert.Single(Run(NewDetector(), events.ToList()));

        Assert.Null(alert.UserId);
        Assert.Equal("ghost", alert.Evidence["username"]);
        Assert.Equal("192.0.2.1", alert.EntityKey);
    }

    [Fact]
    public void Process_SameInputTwice_GivesSameAlertIds()
    {
        var events = Enumerable.Range(0, 12).Select(i => Event(EventType.LoginFailed, i * 3)).ToList();

        var first = Run(NewDetector(), events);
        var second = Run(NewDetector(), events);

        Assert.Equal(first.Select(a => a.AlertId), second.Select(a => a.AlertId));
    }

    [Fact]
    public void EvictIdle_AfterWindowsPass_DropsState()
    {
        var detector = NewDetector();
        Run(detector, [Event(EventType.LoginFailed, 0), Event(EventType.LoginFailed, 1, user: "u-2")]);
        Assert.Equal(2, detector.TrackedUsers);

        var evicted = detector.EvictIdle(s_t0.AddMinutes(11).ToUnixTimeMilliseconds());

        Assert.Equal(2, evicted);
        Assert.Equal(0, detector.TrackedUsers);
    }
}
