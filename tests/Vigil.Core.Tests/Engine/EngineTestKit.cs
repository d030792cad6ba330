using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

/// <summary>A minimal event for engine tests.</summary>
internal sealed record TestEvent(string Key, long Ts, string Value = "");

/// <summary>Builds runtimes and drives them deterministically.</summary>
internal static class EngineTestKit
{
    public static PartitionRuntimeOptions Options(long boundMs = 0, long latenessMs = 0) => new()
    {
        Watermarks = new WatermarkOptions
        {
            OutOfOrderness = TimeSpan.FromMilliseconds(boundMs),
            AllowedLateness = TimeSpan.FromMilliseconds(latenessMs),
            IdleTimeout = Timeout.InfiniteTimeSpan,
        },
    };

    public static string Describe<TResult>(in WindowFiring<TestEvent, TResult> f) =>
        $"{f.Key}[{f.Window.StartMs},{f.Window.EndMs}){(f.Kind == WindowFireKind.Early ? "~" : "=")}{f.Result}";

    /// <summary>A tumbling/sliding/session count or distinct-count operator that emits "key[start,end)=result".</summary>
    public static WindowOperator<TestEvent, long, long, string> Count(string name, WindowSpec spec, EarlyFiring<long>? early = null) =>
        new(name, spec, e => e.Key, new CountAggregator<TestEvent>(), Int64StateSerializer.Instance,
            (in WindowFiring<TestEvent, long> f, IOutput<string> o) => o.Emit(Describe(f)), early);

    public static WindowOperator<TestEvent, HashSet<string>, int, string> Distinct(string name, WindowSpec spec) =>
        new(name, spec, e => e.Key, new DistinctCountAggregator<TestEvent>(e => e.Value), StringSetSerializer.Instance,
            (in WindowFiring<TestEvent, int> f, IOutput<string> o) => o.Emit(Describe(f)));

    /// <summary>A distinct count on the retractable multiset; sliding windows over it are pane-sliced unless
    /// <paramref name="slicePanes"/> is false.</summary>
    public static WindowOperator<TestEvent, DistinctCounter, int, string> CountedDistinct(string name, WindowSpec spec, bool slicePanes = true) =>
        new(name, spec, e => e.Key, new CountedDistinctAggregator<TestEvent>(e => e.Value), DistinctCounterSerializer.Instance,
            (in WindowFiring<TestEvent, int> f, IOutput<string> o) => o.Emit(Describe(f)), slicePanes: slicePanes);

    public static List<string> Run(PartitionRuntime<TestEvent, string> runtime, IEnumerable<TestEvent> events, bool flush = true)
    {
        var output = new ListOutput<string>();
        var offset = runtime.ResumeOffset();
        foreach (var e in events)
        {
            runtime.Process(e, e.Ts, offset++, output);
        }
        if (flush)
        {
            runtime.AdvanceWatermark(long.MaxValue, output);
        }
        return output.Items;
    }
}
