using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Detection;

public sealed class BehaviorStateTests
{
    private const string Phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X)";
    private static readonly long T0 = RuleDriver.T0.ToUnixTimeMilliseconds();
    private int _next;

    private UserEvent Event(EventType type, double seconds, string user = "u-1", string? agent = Phone, string session = "s-1",
        double? amount = null) => new()
    {
        EventId = $"e-{_next++}",
        Type = type,
        TimestampMs = T0 + (long)(seconds * 1000),
        UserId = user,
        IpAddress = "198.51.100.1",
        SessionId = session,
        UserAgent = agent,
        Properties = amount is { } a ? new Dictionary<string, string> { ["amount"] = a.ToString(System.Globalization.CultureInfo.InvariantCulture) } : null,
    };

    private static (BehaviorAnomalyOperator Op, PartitionRuntime<UserEvent, Alert> Runtime) Build(BehaviorAnomalyOptions? options = null)
    {
        var op = new BehaviorAnomalyOperator(options ?? new BehaviorAnomalyOptions { Model = null }, FakeGeo.World(), RuleDriver.Clock);
        var runtime = new PartitionRuntime<UserEvent, Alert>([op], new PartitionRuntimeOptions
        {
            Watermarks = new WatermarkOptions { AllowedLateness = TimeSpan.FromMinutes(10), IdleTimeout = Timeout.InfiniteTimeSpan },
        });
        return (op, runtime);
    }

    private static void Feed(PartitionRuntime<UserEvent, Alert> runtime, ListOutput<Alert> output, params UserEvent[] events)
    {
        foreach (var e in events)
        {
            runtime.Process(e, e.TimestampMs, runtime.ResumeOffset(), output);
        }
    }

    [Fact]
    public void Activity_WatermarkTwoHoursPastTheLatest_IsReleased()
    {
        var (op, runtime) = Build();
        var output = new ListOutput<Alert>();
        Feed(runtime, output, Event(EventType.LoginSuccess, 0), Event(EventType.Search, 10), Event(EventType.Purchase, 20, amount: 12.5));
        Assert.True(op.State.TryGetValue("u-1", out var active));
        Assert.Equal(2, active.ActivityCount);
        Assert.Equal(new Activity(T0 + 20_000, true, 12.5, "e-2"), active.ActivityAt(1));

        // Another user's event three hours on moves the watermark past latest + 2 h + lateness.
        Feed(runtime, output, Event(EventType.PageView, 3 * 3600, user: "u-2"));
        runtime.AdvanceWatermark(T0 + (3 * 3_600_000), output);

        Assert.True(op.State.TryGetValue("u-1", out var idle));
        Assert.False(idle.HoldsActivity);
        Assert.Equal(0, idle.ActivityCount);
        Assert.Equal(1, idle.Logins);
    }

    [Fact]
    public void Activity_AfterARestore_IsStillReleased()
    {
        var (_, runtime) = Build();
        var output = new ListOutput<Alert>();
        Feed(runtime, output, Event(EventType.LoginSuccess, 0), Event(EventType.Search, 10), Event(EventType.Search, 10, user: "u-2"));
        var checkpoint = runtime.Snapshot();
        var (op, restored) = Build();
        Assert.Equal(CheckpointReadStatus.Ok, restored.Restore(checkpoint));
        Assert.True(op.State.TryGetValue("u-2", out var before));
        Assert.Equal(1, before.ActivityCount);

        restored.AdvanceWatermark(T0 + (3 * 3_600_000), output);

        Assert.True(op.State.TryGetValue("u-1", out var one));
        Assert.True(op.State.TryGetValue("u-2", out var two));
        Assert.False(one.HoldsActivity);
        Assert.False(two.HoldsActivity);
    }

    [Fact]
    public void Activity_MoreSearchesAfterFiling_PostponesTheRelease()
    {
        var (op, runtime) = Build();
        var output = new ListOutput<Alert>();
        Feed(runtime, output, Event(EventType.LoginSuccess, 0), Event(EventType.Search, 10), Event(EventType.Search, 3600));

        // Past the first search's release time, not the second's.
        runtime.AdvanceWatermark(T0 + 10_000 + (2 * 3_600_000) + 600_000 + 1000, output);
        Assert.True(op.State.TryGetValue("u-1", out var kept));
        Assert.Equal(2, kept.ActivityCount);

        runtime.AdvanceWatermark(T0 + 3_600_000 + (2 * 3_600_000) + 600_000 + 1000, output);
        Assert.True(op.State.TryGetValue("u-1", out var released));
        Assert.False(released.HoldsActivity);
    }

    [Fact]
    public void Activity_WatermarkOnlyOneHourPast_IsKept()
    {
        var (op, runtime) = Build();
        var output = new ListOutput<Alert>();
        Feed(runtime, output, Event(EventType.LoginSuccess, 0), Event(EventType.Search, 10));

        runtime.AdvanceWatermark(T0 + 10_000 + 3_600_000 + 600_000, output);

        Assert.True(op.State.TryGetValue("u-1", out var state));
        Assert.Equal(1, state.ActivityCount);
    }

    [Fact]
    public void Process_SpreeAfterTheRingWasReleased_AlertsAsAFreshUserWould()
    {
        // Day one: a session with a few searches, released; day two: a night spree. The baselines stay as numbers.
        var (op, runtime) = Build();
        var output = new ListOutput<Alert>();
        Feed(runtime, output, Event(EventType.LoginSuccess, 0, agent: "laptop", session: "s-0"),
            Event(EventType.Search, 10, agent: "laptop", session: "s-0"), Event(EventType.Search, 20, agent: "laptop", session: "s-0"));
        runtime.AdvanceWatermark(T0 + (4 * 3_600_000), output);
        Assert.True(op.State.TryGetValue("u-1", out var released));
        Assert.False(released.HoldsActivity);

        var spree = new List<UserEvent> { Event(EventType.LoginSuccess, 58_200, session: "s-1") };
        spree.AddRange(Enumerable.Range(0, 40).Select(i => Event(EventType.Search, 58_210 + (i * 30), session: "s-1")));
        Feed(runtime, output, [.. spree]);

        var alert = Assert.Single(output.Items);
        Assert.Equal(true, alert.Evidence["newDevice"]);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 58_210_000), alert.WindowStart);
        var ids = Assert.IsType<List<string>>(alert.Evidence[Evidence.EventIds]);
        Assert.Equal(spree[0].EventId, ids[0]);
        Assert.Equal(spree[1].EventId, ids[1]);
    }

    [Fact]
    public void Devices_MoreThanMaxDevices_ForgetsTheOldest()
    {
        var seen = new List<BehaviorFeatures>();
        var (op, runtime) = Build(new BehaviorAnomalyOptions
        {
            Model = null,
            MaxDevices = 6,
            Scorer = (in BehaviorFeatures f) =>
            {
                seen.Add(f);
                return 0;
            },
        });
        var output = new ListOutput<Alert>();
        for (var d = 0; d < 8; d++)
        {
            Feed(runtime, output, Event(EventType.LoginSuccess, d * 60, agent: $"agent-{d}", session: $"s-{d}"));
        }
        Assert.True(op.State.TryGetValue("u-1", out var state));
        Assert.Equal(6, state.DeviceCount);

        // A search outside any session asks whether its agent is known: 0 and 1 were forgotten, 2–7 are remembered.
        Feed(runtime, output, Event(EventType.Search, 600, agent: "agent-1", session: "none"),
            Event(EventType.Search, 601, agent: "agent-2", session: "none"), Event(EventType.Search, 602, agent: "agent-7", session: "none"));

        Assert.Equal([true, false, false], seen.Select(f => f.NewDevice));
    }

    [Fact]
    public void Hours_MoreThan255LoginsInOneHour_HalveAndKeepTheShares()
    {
        var state = default(BehaviorState);
        for (var i = 0; i < 300; i++)
        {
            state.CountLogin(10);
        }
        for (var i = 0; i < 100; i++)
        {
            state.CountLogin(20);
        }

        Assert.Equal(400, state.Logins);
        // 255 at 10:00, then halved to 128 and counted on to 173 (45 more); 20:00 had none when halved.
        Assert.Equal(173, state.NearHour(10));
        Assert.Equal(100, state.NearHour(20));
        Assert.Equal(273, state.HourTotal);
    }

    [Fact]
    public void Serializer_RoundTrip_KeepsEverythingTheRuleReads()
    {
        var (op, runtime) = Build();
        var output = new ListOutput<Alert>();
        Feed(runtime, output, Event(EventType.LoginSuccess, 0), Event(EventType.Search, 10), Event(EventType.Purchase, 20, amount: 99.99));
        Assert.True(op.State.TryGetValue("u-1", out var state));
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            state.Write(writer);
        }
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);

        var back = BehaviorState.Read(reader);

        Assert.Equal(buffer.Length, buffer.Position);
        Assert.Equal(state.Logins, back.Logins);
        Assert.Equal(state.DeviceCount, back.DeviceCount);
        Assert.Equal(state.ActivityAt(0), back.ActivityAt(0));
        Assert.Equal(state.ActivityAt(1), back.ActivityAt(1));
        Assert.True(back.InSession("s-1"));
        Assert.False(back.InSession("s-2"));
        Assert.Equal("e-0", back.SessionLoginEventId);
        Assert.Equal(state.SessionHourShare, back.SessionHourShare);
        Assert.Equal(state.MaxAmountHour, back.MaxAmountHour);
        Assert.Equal(state.NearHour(9), back.NearHour(9));
    }

    [Fact]
    public void SizeOf_IdleState_IsAtMost112Bytes()
    {
        Assert.InRange(System.Runtime.CompilerServices.Unsafe.SizeOf<BehaviorState>(), 64, 112);
        Assert.Equal(24, System.Runtime.CompilerServices.Unsafe.SizeOf<CompactId>());
    }

    [Fact]
    public void SideForms_ManyDevicesWithAndWithoutTheRing_RoundTripAndReleaseKeepTheDevices()
    {
        // Five devices (three past the inline two) and a ring of nine activities: the two share one side object.
        var state = default(BehaviorState);
        for (uint d = 1; d <= 5; d++)
        {
            state.AddDevice(d * 7919, 10);
        }
        Assert.False(state.HoldsActivity);
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(i == 0, state.AddActivity(T0 + i, i % 2 == 1, i * 1.5, $"e-{i}"));
        }
        var copy = state;
        state.AddDevice(6 * 7919, 10);

        var back = RoundTrip(state);

        Assert.Equal(6, back.DeviceCount);
        Assert.Equal(5, copy.DeviceCount);
        for (uint d = 1; d <= 6; d++)
        {
            Assert.True(back.KnowsDevice(d * 7919));
        }
        Assert.Equal(9, back.ActivityCount);
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(state.ActivityAt(i), back.ActivityAt(i));
            Assert.Equal(new Activity(T0 + i, i % 2 == 1, i * 1.5, $"e-{i}"), copy.ActivityAt(i));
        }

        back.RemoveFirstActivity();
        back.ReleaseActivity();
        Assert.False(back.HoldsActivity);
        Assert.True(back.KnowsDevice(6 * 7919));
        Assert.False(back.KnowsDevice(7 * 7919));

        var idle = RoundTrip(back);
        Assert.Equal(6, idle.DeviceCount);
        Assert.False(idle.HoldsActivity);
        Assert.True(idle.AddActivity(T0, true, 2.5, "e-x"));
        Assert.Equal(new Activity(T0, true, 2.5, "e-x"), idle.ActivityAt(0));
        Assert.True(idle.KnowsDevice(1 * 7919));
    }

    private static BehaviorState RoundTrip(BehaviorState state)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            state.Write(writer);
        }
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);
        return BehaviorState.Read(reader);
    }

    [Fact]
    public void Read_AnotherFormat_Throws()
    {
        using var reader = new BinaryReader(new MemoryStream([9, 0, 0, 0]));

        Assert.Throws<InvalidDataException>(() => BehaviorState.Read(reader));
    }
}
