using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

/// <summary>The runtime calls operators through <see cref="Operator{TIn, TOut}"/>; one that only implements the
/// interface is wrapped and must see exactly the calls it would see unwrapped.</summary>
public sealed class OperatorDispatchTests
{
    /// <summary>Implements only the interface and writes down every call.</summary>
    private sealed class InterfaceOnly : IOperator<TestEvent, string>
    {
        public List<string> Calls { get; } = [];

        public string Name => "interface-only";

        public void Open(OperatorContext context) => Calls.Add("open");

        public void OnEvent(in TestEvent evt, long timestampMs, IOutput<string> output)
        {
            Calls.Add($"event {evt.Key}@{timestampMs}");
            output.Emit(evt.Key);
        }

        public void OnTimer(in TimerFiring timer, IOutput<string> output) => Calls.Add($"timer {timer.Key}");

        public void OnWatermark(long watermarkMs, IOutput<string> output) => Calls.Add($"watermark {watermarkMs}");

        public void Snapshot(BinaryWriter writer)
        {
            Calls.Add("snapshot");
            writer.Write(Calls.Count);
        }

        public void Restore(BinaryReader reader) => Calls.Add($"restore {reader.ReadInt32()}");
    }

    [Fact]
    public void Of_KeepsAnOperatorDerivedFromTheBase()
    {
        var window = EngineTestKit.Count("w", WindowSpec.Tumbling(TimeSpan.FromSeconds(1)));
        Assert.Same(window, Operator<TestEvent, string>.Of(window));
    }

    [Fact]
    public void Of_ForwardsEveryCallOfAnInterfaceOnlyOperator()
    {
        var inner = new InterfaceOnly();
        var wrapped = Operator<TestEvent, string>.Of(inner);
        Assert.NotSame(inner, wrapped);
        Assert.Equal("interface-only", wrapped.Name);
        var output = new ListOutput<string>();
        wrapped.OnEvent(new TestEvent("a", 5), 5, output);
        wrapped.OnTimer(new TimerFiring("k", 7, 0, TimeDomain.EventTime), output);
        wrapped.OnWatermark(9, output);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            wrapped.Snapshot(writer);
        }
        stream.Position = 0;
        using (var reader = new BinaryReader(stream))
        {
            wrapped.Restore(reader);
        }
        Assert.Equal(["event a@5", "timer k", "watermark 9", "snapshot", "restore 4"], inner.Calls);
        Assert.Equal(["a"], output.Items);
    }

    [Fact]
    public void Runtime_DrivesAnInterfaceOnlyOperatorBesideDerivedOnes()
    {
        var inner = new InterfaceOnly();
        var runtime = new PartitionRuntime<TestEvent, string>(
            [EngineTestKit.Count("w", WindowSpec.Tumbling(TimeSpan.FromMilliseconds(10))), inner], EngineTestKit.Options());
        var output = EngineTestKit.Run(runtime, [new TestEvent("a", 1), new TestEvent("b", 12)]);
        Assert.Equal("open", inner.Calls[0]);
        Assert.Contains("event a@1", inner.Calls);
        Assert.Contains("event b@12", inner.Calls);
        Assert.Contains(inner.Calls, c => c.StartsWith("watermark ", StringComparison.Ordinal));
        // The window's firings and the interface-only operator's emits both reach the output.
        Assert.Contains("a", output);
        Assert.Contains(output, o => o.StartsWith("a[0,10)=1", StringComparison.Ordinal));
    }
}
