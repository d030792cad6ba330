using Vigil.Core.Engine;
using static Vigil.Core.Tests.Engine.EngineTestKit;

namespace Vigil.Core.Tests.Engine;

public sealed class WindowOperatorTests
{
    private static PartitionRuntime<TestEvent, string> Runtime(IOperator<TestEvent, string> op, long boundMs = 0, long latenessMs = 0,
        IOutput<LateEvent<TestEvent>>? late = null) =>
        new([op], Options(boundMs, latenessMs), new ManualTimeProvider(), late);

    [Fact]
    public void Tumbling_CountsPerKey_EmittedWhenWatermarkPassesWindowEnd()
    {
        var runtime = Runtime(Count("c", WindowSpec.Tumbling(TimeSpan.FromMilliseconds(100))), boundMs: 10);
        var output = new ListOutput<string>();
        var offset = 0;
        foreach (var e in new[] { new TestEvent("a", 5), new TestEvent("b", 20), new TestEvent("a", 99), new TestEvent("a", 105) })
        {
            runtime.Process(e, e.Ts, offset++, output);
        }
        Assert.Empty(output.Items);
        runtime.Process(new TestEvent("a", 109), 109, offset++, output);
        Assert.Empty(output.Items);
        runtime.Process(new TestEvent("b", 110), 110, offset++, output);
        Assert.Equal(["a[0,100)=2", "b[0,100)=1"], output.Items);
        runtime.AdvanceWatermark(long.MaxValue, output);
        Assert.Equal(["a[0,100)=2", "b[0,100)=1", "a[100,200)=2", "b[100,200)=1"], output.Items);
    }

    [Fact]
    public void Sliding_EventInOverlappingWindows_CountedInEach()
    {
        var output = Run(Runtime(Count("s", WindowSpec.Sliding(TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(10)))),
            [new TestEvent("a", 25), new TestEvent("a", 31)]);

        Assert.Equal(["a[0,30)=1", "a[10,40)=2", "a[20,50)=2", "a[30,60)=1"], output);
    }

    [Fact]
    public void Sliding_DistinctCount_CountsDistinctValues()
    {
        var output = Run(Runtime(Distinct("d", WindowSpec.Sliding(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(10)))),
            [new TestEvent("ip", 1, "u1"), new TestEvent("ip", 2, "u1"), new TestEvent("ip", 12, "u2"), new TestEvent("ip", 15, "u3")]);

        Assert.Equal(["ip[-10,10)=1", "ip[0,20)=3", "ip[10,30)=2"], output);
    }

    [Fact]
    public void Session_EventsWithinGap_OneSessionPerBurst()
    {
        var output = Run(Runtime(Count("s", WindowSpec.Session(TimeSpan.FromMilliseconds(10)))),
            [new TestEvent("a", 0), new TestEvent("a", 5), new TestEvent("a", 14), new TestEvent("a", 24), new TestEvent("b", 30)]);

        // 14 → 24 is exactly the gap: a new session.
        Assert.Equal(["a[0,24)=3", "a[24,34)=1", "b[30,40)=1"], output);
    }

    [Fact]
    public void Session_OutOfOrderEventBridgingTwoSessions_MergesThem()
    {
        var runtime = Runtime(Count("s", WindowSpec.Session(TimeSpan.FromMilliseconds(10))), boundMs: 100);
        var output = Run(runtime, [new TestEvent("a", 0), new TestEvent("a", 15), new TestEvent("a", 30), new TestEvent("a", 8), new TestEvent("a", 22)], flush: false);
        Assert.Empty(output);
        Assert.Equal(1, ((WindowOperator<TestEvent, long, long, string>)runtime.Operators[0]).OpenWindows);
        output.AddRange(Run(runtime, [], flush: true));
        Assert.Equal(["a[0,40)=5"], output);
    }

    [Fact]
    public void EarlyFiring_ConditionBecomesTrue_EmitsOnceImmediatelyThenOnTime()
    {
        var op = Count("t", WindowSpec.Tumbling(TimeSpan.FromMinutes(2)),
            new EarlyFiring<long> { Mode = EarlyFiringMode.WhenConditionBecomesTrue, Condition = c => c >= 3 });
        var runtime = Runtime(op, boundMs: 5_000);
        var output = new ListOutput<string>();
        for (var i = 0; i < 5; i++)
        {
            runtime.Process(new TestEvent("u", 1_000 + i), 1_000 + i, i, output);
            Assert.Equal(i >= 2 ? 1 : 0, output.Items.Count);
        }
        Assert.Equal(["u[0,120000)~3"], output.Items);
        runtime.AdvanceWatermark(long.MaxValue, output);
        Assert.Equal(["u[0,120000)~3", "u[0,120000)=5"], output.Items);
    }

    [Fact]
    public void EarlyFiring_EveryUpdateWithoutOnTime_EmitsEachUpdateOnly()
    {
        var results = new List<(WindowFireKind Kind, long Count, string? Trigger, int Early)>();
        var op = new WindowOperator<TestEvent, long, long, string>("e", WindowSpec.Tumbling(TimeSpan.FromSeconds(1)), e => e.Key,
            new CountAggregator<TestEvent>(), Int64StateSerializer.Instance,
            (in WindowFiring<TestEvent, long> f, IOutput<string> o) => results.Add((f.Kind, f.Result, f.Trigger?.Value, f.EarlyFirings)),
            new EarlyFiring<long> { Mode = EarlyFiringMode.EveryUpdate, EmitOnTime = false });

        Run(Runtime(op), [new TestEvent("u", 1, "x"), new TestEvent("u", 2, "y")]);

        Assert.Equal([(WindowFireKind.Early, 1L, "x", 1), (WindowFireKind.Early, 2L, "y", 2)], results);
    }

    [Fact]
    public void LateEvent_BehindWatermark_GoesToSideOutputAndIsCountedNotWindowed()
    {
        var late = new ListOutput<LateEvent<TestEvent>>();
        var runtime = Runtime(Count("c", WindowSpec.Tumbling(TimeSpan.FromMilliseconds(100))), boundMs: 10, late: late);
        var output = Run(runtime, [new TestEvent("a", 50), new TestEvent("a", 200), new TestEvent("a", 60), new TestEvent("a", 195)]);

        Assert.Equal(["a[0,100)=1", "a[100,200)=1", "a[200,300)=1"], output);
        var only = Assert.Single(late.Items);
        Assert.Equal(60, only.TimestampMs);
        Assert.Equal(2, only.Offset);
        Assert.Equal(190, only.WatermarkMs);
        Assert.Equal(1, runtime.Metrics.LateEvents);
    }

    [Fact]
    public void AllowedLateness_EventWithinIt_StillCountsAndWindowWaits()
    {
        var runtime = Runtime(Count("c", WindowSpec.Tumbling(TimeSpan.FromMilliseconds(100))), boundMs: 0, latenessMs: 50);
        var output = Run(runtime, [new TestEvent("a", 50), new TestEvent("a", 120), new TestEvent("a", 90), new TestEvent("a", 149)], flush: false);
        Assert.Empty(output);
        output.AddRange(Run(runtime, [new TestEvent("a", 150)], flush: false));
        Assert.Equal(["a[0,100)=2"], output);
    }

    [Fact]
    public void KeySelectorReturnsNull_EventSkipped()
    {
        var op = new WindowOperator<TestEvent, long, long, string>("f", WindowSpec.Tumbling(TimeSpan.FromSeconds(1)),
            e => e.Value == "fail" ? e.Key : null, new CountAggregator<TestEvent>(), Int64StateSerializer.Instance,
            (in WindowFiring<TestEvent, long> f, IOutput<string> o) => o.Emit(Describe(f)));
        var output = Run(Runtime(op), [new TestEvent("u", 1, "fail"), new TestEvent("u", 2, "ok"), new TestEvent("u", 3, "fail")]);
        Assert.Equal(["u[0,1000)=2"], output);
        Assert.Equal(0, op.ActiveKeys);
    }
}
