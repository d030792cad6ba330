using Vigil.Core.Engine;
using static Vigil.Core.Tests.Engine.EngineTestKit;

namespace Vigil.Core.Tests.Engine;

/// <summary>Pane-sliced sliding windows give exactly the results of one accumulator per window.</summary>
public sealed class PaneSlicingTests
{
    private static PartitionRuntime<TestEvent, string> Runtime(IOperator<TestEvent, string> op, long boundMs, long latenessMs) =>
        new([op], Options(boundMs, latenessMs), new ManualTimeProvider());

    [Fact]
    public void Constructor_RetractingAggregatorWithoutEarlyFiring_SlicesPanes()
    {
        var spec = WindowSpec.Sliding(TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(10));

        Assert.True(CountedDistinct("a", spec).SlicesPanes);
        Assert.True(Count("b", spec).SlicesPanes);
        Assert.False(CountedDistinct("c", spec, slicePanes: false).SlicesPanes);
        Assert.False(Distinct("d", spec).SlicesPanes); // a plain set cannot retract
        Assert.False(Count("e", spec, new EarlyFiring<long> { Mode = EarlyFiringMode.EveryUpdate }).SlicesPanes);
        Assert.False(Count("f", WindowSpec.Sliding(TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(10))).SlicesPanes);
        Assert.False(CountedDistinct("g", WindowSpec.Tumbling(TimeSpan.FromMilliseconds(10))).SlicesPanes);
    }

    [Fact]
    public void SlidingDistinct_Panes_DropOldestPaneAsWindowSlides()
    {
        var output = Run(Runtime(CountedDistinct("d", WindowSpec.Sliding(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(10))), 0, 0),
            [new TestEvent("ip", 1, "u1"), new TestEvent("ip", 2, "u1"), new TestEvent("ip", 12, "u2"), new TestEvent("ip", 15, "u3"),
             new TestEvent("ip", 25, "u2")]);

        // [10,30) no longer holds u1 (its pane left), and u2 is counted once though it came in two panes.
        Assert.Equal(["ip[-10,10)=1", "ip[0,20)=3", "ip[10,30)=2", "ip[20,40)=1"], output);
    }

    [Fact]
    public void SlidingDistinct_GapBetweenBursts_SkipsEmptyWindows()
    {
        var output = Run(Runtime(CountedDistinct("d", WindowSpec.Sliding(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(10))), 0, 0),
            [new TestEvent("ip", 5, "u1"), new TestEvent("ip", 105, "u2"), new TestEvent("ip", 106, "u2")]);

        Assert.Equal(["ip[-10,10)=1", "ip[0,20)=1", "ip[90,110)=1", "ip[100,120)=1"], output);
    }

    [Fact]
    public void SlidingCount_EventForClosedWindows_CountedLateNotEmitted()
    {
        var op = Count("c", WindowSpec.Sliding(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(10)));
        var runtime = Runtime(op, 0, 0);
        var output = new ListOutput<string>();
        runtime.Process(new TestEvent("a", 5), 5, 0, output);
        runtime.Process(new TestEvent("b", 100), 100, 1, output);
        Assert.Equal(["a[-10,10)=1", "a[0,20)=1"], output.Items);

        // The runtime's own lateness filter lets this one through only if it allows lateness; with none it is a
        // late event before the operator sees it, so nothing new is emitted either way.
        runtime.Process(new TestEvent("a", 6), 6, 2, output);
        runtime.AdvanceWatermark(long.MaxValue, output);

        Assert.Equal(["a[-10,10)=1", "a[0,20)=1", "b[90,110)=1", "b[100,120)=1"], output.Items);
    }

    [Fact]
    public void SlidingWindows_RandomDisorderedStreams_PanesEqualPerWindowAccumulators()
    {
        for (var seed = 1; seed <= 200; seed++)
        {
            var random = new Random(seed);
            var slide = random.Next(1, 15);
            var size = slide * random.Next(1, 6);
            var boundMs = random.Next(0, 30);
            var latenessMs = random.Next(0, 2) * random.Next(0, 40);
            var events = new List<TestEvent>();
            long t = random.Next(-200, 200);
            for (var i = random.Next(0, 500); i > 0; i--)
            {
                t += random.Next(0, 8);
                var disorder = random.Next(0, 8) == 0 ? random.Next(0, 120) : random.Next(0, boundMs + 1);
                events.Add(new TestEvent("k" + random.Next(0, 4), t - disorder, "v" + random.Next(0, 6)));
            }
            var spec = WindowSpec.Sliding(TimeSpan.FromMilliseconds(size), TimeSpan.FromMilliseconds(slide));

            var perWindow = Run(Runtime(CountedDistinct("d", spec, slicePanes: false), boundMs, latenessMs), events);
            var sliced = Run(Runtime(CountedDistinct("d", spec), boundMs, latenessMs), events);
            var setBased = Run(Runtime(Distinct("d", spec), boundMs, latenessMs), events);
            var counts = Run(Runtime(Count("c", spec, null), boundMs, latenessMs), events);
            var countsPerWindow = Run(Runtime(new WindowOperator<TestEvent, long, long, string>("c", spec, e => e.Key,
                new CountAggregator<TestEvent>(), Int64StateSerializer.Instance,
                (in WindowFiring<TestEvent, long> f, IOutput<string> o) => o.Emit(Describe(f)), slicePanes: false), boundMs, latenessMs), events);

            // Timers of different keys due at the same time may fire in another order; per key the order is the same.
            perWindow.Sort(StringComparer.Ordinal);
            sliced.Sort(StringComparer.Ordinal);
            setBased.Sort(StringComparer.Ordinal);
            counts.Sort(StringComparer.Ordinal);
            countsPerWindow.Sort(StringComparer.Ordinal);
            Assert.True(perWindow.SequenceEqual(sliced), $"seed {seed}: distinct differs");
            Assert.True(setBased.SequenceEqual(sliced), $"seed {seed}: set-based distinct differs");
            Assert.True(countsPerWindow.SequenceEqual(counts), $"seed {seed}: count differs");
        }
    }

    [Fact]
    public void Restore_PerWindowCheckpointIntoSlicedOperator_DiscardsItWithoutError()
    {
        var spec = WindowSpec.Sliding(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(10));
        var old = Runtime(CountedDistinct("d", spec, slicePanes: false), 0, 0);
        old.Process(new TestEvent("ip", 5, "u1"), 5, 0, new ListOutput<string>());
        var checkpoint = old.Snapshot();

        var op = CountedDistinct("d", spec);
        var restored = Runtime(op, 0, 0);
        restored.Restore(checkpoint);

        Assert.Equal(0, op.ActiveKeys);
    }

    [Fact]
    public void SnapshotRestore_MidWindow_ContinuesWithSameResults()
    {
        var spec = WindowSpec.Sliding(TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(10));
        TestEvent[] first = [new("ip", 1, "u1"), new("ip", 12, "u2"), new("ip", 14, "u1")];
        TestEvent[] second = [new("ip", 23, "u3"), new("ip", 41, "u4")];
        var expected = Run(Runtime(CountedDistinct("d", spec), 0, 0), [.. first, .. second]);

        var runtime = Runtime(CountedDistinct("d", spec), 0, 0);
        var output = Run(runtime, first, flush: false);
        var checkpoint = runtime.Snapshot();
        var resumed = Runtime(CountedDistinct("d", spec), 0, 0);
        resumed.Restore(checkpoint);
        output.AddRange(Run(resumed, second));

        Assert.Equal(expected, output);
    }
}
