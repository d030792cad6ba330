using BenchmarkDotNet.Attributes;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Benchmarks;

/// <summary>Pre-decoded traffic for the engine benchmarks: users, IPs, a steady event-time clock.</summary>
internal static class Traffic
{
    /// <summary>Events with one millisecond of event time between them and a little disorder.</summary>
    public static (UserEvent[] Events, long[] Timestamps) Build(int count, int users, int ips, int seed)
    {
        var random = new Random(seed);
        var userIds = new string[users];
        for (var i = 0; i < users; i++)
        {
            userIds[i] = "user-" + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
        }
        var ipTexts = new string[ips];
        for (var i = 0; i < ips; i++)
        {
            ipTexts[i] = $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}";
        }
        var events = new UserEvent[count];
        var timestamps = new long[count];
        for (var i = 0; i < count; i++)
        {
            timestamps[i] = i - random.Next(0, 2_000);
            events[i] = new UserEvent
            {
                EventId = "e" + i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Type = random.Next(0, 4) == 0 ? EventType.LoginFailed : EventType.PageView,
                TimestampMs = timestamps[i],
                UserId = userIds[random.Next(0, users)],
                IpAddress = ipTexts[random.Next(0, ips)],
            };
        }
        return (events, timestamps);
    }
}

/// <summary>Counts outputs without keeping them.</summary>
internal sealed class CountingOutput<T> : IOutput<T>
{
    public long Count;

    public void Emit(T value) => Count++;
}

/// <summary>
/// Steady-state throughput of the window operators, single thread. One runtime lives across invocations and each
/// invocation feeds the next 1M events (event time keeps moving on), so windows open, fire and recycle as in a
/// long-running job. Results are per event.
/// </summary>
[MemoryDiagnoser]
public class WindowBenchmarks
{
    private const int N = 1_000_000;
    private UserEvent[] _events = [];
    private long[] _timestamps = [];
    private PartitionRuntime<UserEvent, long> _runtime = null!;
    private readonly CountingOutput<long> _output = new();
    private long _base;
    private long _offset;

    [Params("tumbling-count", "sliding-distinct", "sliding-distinct-panes", "sliding-count-panes", "session-count")]
    public string Case { get; set; } = "tumbling-count";

    [GlobalSetup]
    public void Setup()
    {
        (_events, _timestamps) = Traffic.Build(N, users: 10_000, ips: 2_000, seed: 42);
        IOperator<UserEvent, long> op = Case switch
        {
            "tumbling-count" => new WindowOperator<UserEvent, long, long, long>("count", WindowSpec.Tumbling(TimeSpan.FromMinutes(1)),
                e => e.UserId, new CountAggregator<UserEvent>(), Int64StateSerializer.Instance, EmitResult),
            "sliding-distinct" => new WindowOperator<UserEvent, HashSet<string>, int, long>("distinct",
                WindowSpec.Sliding(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1)), e => e.IpAddress,
                new DistinctCountAggregator<UserEvent>(e => e.UserId), StringSetSerializer.Instance, EmitDistinct),
            "sliding-distinct-panes" => new WindowOperator<UserEvent, DistinctCounter, int, long>("distinct",
                WindowSpec.Sliding(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1)), e => e.IpAddress,
                new CountedDistinctAggregator<UserEvent>(e => e.UserId), DistinctCounterSerializer.Instance, EmitDistinct),
            "sliding-count-panes" => new WindowOperator<UserEvent, long, long, long>("count",
                WindowSpec.Sliding(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1)), e => e.IpAddress,
                new CountAggregator<UserEvent>(), Int64StateSerializer.Instance, EmitResult),
            _ => new WindowOperator<UserEvent, long, long, long>("session", WindowSpec.Session(TimeSpan.FromSeconds(30)),
                e => e.UserId, new CountAggregator<UserEvent>(), Int64StateSerializer.Instance, EmitResult),
        };
        _runtime = new PartitionRuntime<UserEvent, long>([op], new PartitionRuntimeOptions
        {
            Watermarks = new WatermarkOptions { OutOfOrderness = TimeSpan.FromSeconds(5), IdleTimeout = Timeout.InfiniteTimeSpan },
        });
        // Warm the state to its steady size before measuring.
        Feed();
        Feed();
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long Feed()
    {
        var runtime = _runtime;
        var events = _events;
        var timestamps = _timestamps;
        var baseMs = _base;
        var offset = _offset;
        for (var i = 0; i < events.Length; i++)
        {
            runtime.Process(events[i], baseMs + timestamps[i], offset++, _output);
        }
        _offset = offset;
        _base += N;
        return _output.Count;
    }

    private static void EmitResult(in WindowFiring<UserEvent, long> firing, IOutput<long> output) => output.Emit(firing.Result);

    private static void EmitDistinct(in WindowFiring<UserEvent, int> firing, IOutput<long> output) => output.Emit(firing.Result);
}

/// <summary>The per-user state of a threshold rule: a small struct.</summary>
public struct UserRuleState
{
    public long WindowStartMs;
    public long LastAlertMs;
    public int Failures;
}

internal sealed class UserRuleStateSerializer : IStateSerializer<UserRuleState>
{
    public void Write(BinaryWriter writer, UserRuleState value)
    {
        writer.Write(value.WindowStartMs);
        writer.Write(value.LastAlertMs);
        writer.Write(value.Failures);
    }

    public UserRuleState Read(BinaryReader reader) =>
        new() { WindowStartMs = reader.ReadInt64(), LastAlertMs = reader.ReadInt64(), Failures = reader.ReadInt32() };
}

/// <summary>A per-user rule on <see cref="KeyedProcessOperator{TIn, TState, TOut}"/>: counts failures per 2-minute window.</summary>
internal sealed class FailureCounter() : KeyedProcessOperator<UserEvent, UserRuleState, long>("failures", TimeSpan.FromHours(1), new UserRuleStateSerializer())
{
    protected override string? KeyOf(in UserEvent evt) => evt.UserId;

    protected override void Process(string key, ref UserRuleState state, bool created, in UserEvent evt, long timestampMs, IOutput<long> output)
    {
        var window = timestampMs - (timestampMs % 120_000);
        if (window != state.WindowStartMs)
        {
            state.WindowStartMs = window;
            state.Failures = 0;
        }
        if (++state.Failures == 5)
        {
            state.LastAlertMs = timestampMs;
            output.Emit(timestampMs);
        }
    }
}

/// <summary>Checkpoint and restore of a partition holding 1M users' rule state.</summary>
[MemoryDiagnoser]
public class CheckpointBenchmarks
{
    private const int Users = 1_000_000;
    private PartitionRuntime<UserEvent, long> _runtime = null!;
    private byte[] _checkpoint = [];

    [GlobalSetup]
    public void Setup()
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        _runtime = NewRuntime();
        var output = new CountingOutput<long>();
        for (var i = 0; i < Users; i++)
        {
            var evt = new UserEvent
            {
                EventId = "e",
                Type = EventType.LoginFailed,
                TimestampMs = i,
                UserId = "user-" + i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture),
            };
            _runtime.Process(evt, i, i, output);
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        _checkpoint = _runtime.Snapshot();
        var state = ((FailureCounter)_runtime.Operators[0]).State;
        Console.WriteLine($"// state: {state.Count} keys, {(after - before) / (double)Users:F0} heap bytes/key measured, "
            + $"{state.ApproximateBytes / (double)Users:F0} estimated; checkpoint {_checkpoint.Length} bytes ({_checkpoint.Length / (double)Users:F1}/key)");
    }

    [Benchmark]
    public int Snapshot() => _runtime.Snapshot().Length;

    [Benchmark]
    public int Restore()
    {
        var runtime = NewRuntime();
        runtime.Restore(_checkpoint);
        return ((FailureCounter)runtime.Operators[0]).State.Count;
    }

    private static PartitionRuntime<UserEvent, long> NewRuntime() =>
        new([new FailureCounter()], new PartitionRuntimeOptions
        {
            Watermarks = new WatermarkOptions { IdleTimeout = Timeout.InfiniteTimeSpan },
        });
}
