using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

public sealed class TimerTests
{
    /// <summary>Registers the timers an event's Value asks for ("e:time:tag" or "p:time") and reports firings.</summary>
    private sealed class TimerProbe : IOperator<TestEvent, string>
    {
        private OperatorContext? _context;

        public string Name => "probe";

        public void Open(OperatorContext context) => _context = context;

        public void OnEvent(in TestEvent evt, long timestampMs, IOutput<string> output)
        {
            foreach (var request in evt.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = request.Split(':');
                var time = long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                var tag = parts.Length > 2 ? int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) : 0;
                var added = parts[0] switch
                {
                    "e" => _context!.RegisterEventTimeTimer(evt.Key, time, tag),
                    "d" => _context!.DeleteEventTimeTimer(evt.Key, time, tag),
                    _ => _context!.RegisterProcessingTimeTimer(evt.Key, time, tag),
                };
                if (!added)
                {
                    output.Emit($"dup {evt.Key}:{request}");
                }
            }
        }

        public void OnTimer(in TimerFiring timer, IOutput<string> output) =>
            output.Emit($"{timer.Domain} {timer.Key}@{timer.TimeMs}#{timer.Tag}");

        public void OnWatermark(long watermarkMs, IOutput<string> output)
        {
        }

        public void Snapshot(BinaryWriter writer)
        {
        }

        public void Restore(BinaryReader reader)
        {
        }
    }

    private static PartitionRuntime<TestEvent, string> Runtime(ManualTimeProvider? clock = null) =>
        new([new TimerProbe()], EngineTestKit.Options(), clock ?? new ManualTimeProvider());

    [Fact]
    public void EventTimeTimers_RegisteredOutOfOrder_FireInTimeThenRegistrationOrder()
    {
        var output = EngineTestKit.Run(Runtime(), [
            new TestEvent("b", 0, "e:300 e:100"),
            new TestEvent("a", 1, "e:300 e:200:7"),
            new TestEvent("c", 2, "e:100"),
            new TestEvent("x", 250),
        ], flush: false);

        Assert.Equal(["EventTime b@100#0", "EventTime c@100#0", "EventTime a@200#7"], output);
    }

    [Fact]
    public void EventTimeTimers_SameKeyTimeAndTag_DeduplicatedAndDeletable()
    {
        var output = EngineTestKit.Run(Runtime(), [
            new TestEvent("a", 0, "e:100 e:100 e:100:1 e:150"),
            new TestEvent("a", 1, "d:150"),
            new TestEvent("x", 1_000),
        ], flush: false);

        Assert.Equal(["dup a:e:100", "EventTime a@100#0", "EventTime a@100#1"], output);
    }

    [Fact]
    public void EventTimeTimer_AtWatermarkMinusOne_FiresOnlyOnceWatermarkPassesIt()
    {
        var runtime = Runtime();
        var output = new ListOutput<string>();
        runtime.Process(new TestEvent("a", 0, "e:100"), 0, 0, output);
        runtime.Process(new TestEvent("a", 100), 100, 1, output);
        Assert.Empty(output.Items);
        runtime.Process(new TestEvent("a", 101), 101, 2, output);
        Assert.Equal(["EventTime a@100#0"], output.Items);
    }

    [Fact]
    public void ProcessingTimeTimers_ClockPassesThem_FireOnTickInOrder()
    {
        var clock = new ManualTimeProvider();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var runtime = Runtime(clock);
        var output = new ListOutput<string>();
        runtime.Process(new TestEvent("a", 0, $"p:{now + 2_000} p:{now + 1_000}"), 0, 0, output);
        Assert.Equal(0, runtime.Tick(output));
        clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(1, runtime.Tick(output));
        clock.Advance(TimeSpan.FromSeconds(1));
        runtime.Tick(output);
        Assert.Equal([$"ProcessingTime a@{now + 1_000}#0", $"ProcessingTime a@{now + 2_000}#0"], output.Items);
    }

    [Fact]
    public void Timers_SnapshotAndRestore_FireAfterRestore()
    {
        var runtime = Runtime();
        var output = new ListOutput<string>();
        runtime.Process(new TestEvent("a", 0, "e:100 e:50"), 0, 0, output);
        var bytes = runtime.Snapshot();
        var back = Runtime();
        Assert.Equal(CheckpointReadStatus.Ok, back.Restore(bytes));
        Assert.Equal(2, back.Metrics.EventTimeTimers);
        back.Process(new TestEvent("a", 1_000), 1_000, 1, output);
        Assert.Equal(["EventTime a@50#0", "EventTime a@100#0"], output.Items);
    }
}
