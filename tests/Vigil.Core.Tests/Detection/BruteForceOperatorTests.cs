using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Detection;

public sealed class BruteForceOperatorTests
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

    private static PartitionRuntime<UserEvent, Alert> NewRuntime(out BruteForceOperator op)
    {
        op = new BruteForceOperator(new BruteForceOptions(), TimeProvider.System);
        return new PartitionRuntime<UserEvent, Alert>([op], new PartitionRuntimeOptions
        {
            Watermarks = new WatermarkOptions { AllowedLateness = TimeSpan.FromMinutes(10), IdleTimeout = Timeout.InfiniteTimeSpan },
        });
    }

    private static List<Alert> Run(IEnumerable<UserEvent> events) => Run(NewRuntime(out _), events);

    private static List<Alert> Run(PartitionRuntime<UserEvent, Alert> runtime, IEnumerable<UserEvent> events)
    {
        var output = new ListOutput<Alert>();
        var offset = runtime.ResumeOffset();
        foreach (var e in events)
        {
            runtime.Process(e, e.TimestampMs, offset++, output);
        }
        return output.Items;
    }

    [Fact]
    public void Process_FiveFailuresWithinTwoMinutes_RaisesOneMediumAlert()
    {
        var events = Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, i * 20)).ToList();

        var alert = Assert.Single(Run(events));

        Assert.Equal("BRUTE_FORCE", alert.Rule);
        Assert.Equal(Severity.Medium, alert.Severity);
        Assert.Equal("u-1", alert.UserId);
        Assert.Equal(s_t0, alert.WindowStart);
        Assert.Equal(s_t0.AddSeconds(80), alert.WindowEnd);
        Assert.Equal(events.Select(e => e.EventId), Assert.IsType<List<string>>(alert.Evidence["eventIds"]));
        Assert.Contains("5 failed logins in 80 s", alert.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_FourFailures_RaisesNothing() =>
        Assert.Empty(Run(Enumerable.Range(0, 4).Select(i => Event(EventType.LoginFailed, i)).ToList()));

    [Fact]
    public void Process_FiveFailuresSpreadOverMoreThanTwoMinutes_RaisesNothing() =>
        Assert.Empty(Run(Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, i * 31)).ToList()));

    [Fact]
    public void Process_LongBurst_RaisesOneAlertNotOnePerFailure() =>
        Assert.Single(Run(Enumerable.Range(0, 40).Select(i => Event(EventType.LoginFailed, i * 2)).ToList()));

    [Fact]
    public void Process_TwoBurstsSeparatedByQuiet_RaisesTwoAlertsWithDifferentIds()
    {
        var events = Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, i))
            .Concat(Enumerable.Range(0, 5).Select(i => Event(EventType.LoginFailed, 600 + i))).ToList();

        var alerts = Run(events);

        Assert.Equal(2, alerts.Count);
        Assert.NotEqual(alerts[0].AlertId, alerts[1].AlertId);
    }

    [Fact]
    public void Process_FailuresOfDifferentUsers_AreCountedSeparately() =>
        Assert.Empty(Run(Enumerable.Range(0, 8).Select(i => Event(EventType.LoginFailed, i, user: i % 2 == 0 ? "a" : "b")).ToList()));

    [Fact]
    public void Process_SuccessAfterBurstWithinTenMinutes_RaisesHighAlert()
    {
        var events = Enumerable.Range(0, 6).Select(i => Event(EventType.LoginFailed, i)).ToList();
        events.Add(Event(EventType.LoginSuccess, 300, ip: "198.51.100.9"));

        var alerts = Run(events);

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

        Assert.Single(Run(events));
    }

    [Fact]
    public void Process_SlightlyOutOfOrderFailures_StillCounted()
    {
        var alert = Assert.Single(Run(new[] { 0, 10, 5, 30, 20 }.Select(s => Event(EventType.LoginFailed, s)).ToList()));

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
        }).ToList();

        var alert = Assert.Single(Run(events));

        Assert.Null(alert.UserId);
        Assert.Equal("ghost", alert.Evidence["username"]);
        Assert.Equal("192.0.2.1", alert.EntityKey);
    }

    [Fact]
    public void Process_StateIdleLongerThanTheWindows_IsEvicted()
    {
        var runtime = NewRuntime(out var op);
        Run(runtime, [Event(EventType.LoginFailed, 0), Event(EventType.LoginFailed, 1, user: "u-2")]);
        Assert.Equal(2, op.State.Count);

        Run(runtime, [Event(EventType.PageView, 3600, user: "u-3")]);

        Assert.Equal(0, op.State.Count);
    }

    [Fact]
    public void Snapshot_MidBurst_RestoredRuntimeFinishesTheSameAlerts()
    {
        var events = Enumerable.Range(0, 3).Select(i => Event(EventType.LoginFailed, i)).ToList();
        var rest = Enumerable.Range(3, 4).Select(i => Event(EventType.LoginFailed, i)).Append(Event(EventType.LoginSuccess, 60)).ToList();
        var uninterrupted = Run(events.Concat(rest).ToList());

        var first = NewRuntime(out _);
        var before = Run(first, events);
        var checkpoint = first.Snapshot();
        var second = NewRuntime(out _);
        Assert.Equal(CheckpointReadStatus.Ok, second.Restore(checkpoint));
        var after = Run(second, rest);

        Assert.Empty(before);
        Assert.Equal(uninterrupted.Select(a => (a.AlertId, a.Severity, a.Summary)), after.Select(a => (a.AlertId, a.Severity, a.Summary)));
    }
}
