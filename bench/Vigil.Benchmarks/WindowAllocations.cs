using System.Diagnostics.Tracing;
using System.Globalization;

namespace Vigil.Benchmarks;

/// <summary>
/// `window-allocs [case] [passes]`: what a window case allocates in steady state, by type. The runtime's allocation
/// sampling names the type of the object that crosses each ~100 KB mark, so with the bytes allocated per pass it
/// shows whether the few bytes per event are many small objects or a few large ones (growing arrays).
/// </summary>
internal static class WindowAllocations
{
    /// <summary>
    /// `window-allocs resizes [passes]`: the pane-sliced distinct count with an aggregator that counts, without
    /// allocating, every time one of its multisets had to grow (a dictionary resize is two allocations: entries and
    /// buckets) and every multiset it created, so allocations per 100 events are counted, not estimated.
    /// </summary>
    public static void CountResizes(int passes)
    {
        var counting = new CountingDistinct();
        var (events, timestamps) = Traffic.Build(1_000_000, users: 10_000, ips: 2_000, seed: 42);
        var op = new Vigil.Core.Engine.WindowOperator<Vigil.Core.Events.UserEvent, Vigil.Core.Engine.DistinctCounter, int, long>("distinct",
            Vigil.Core.Engine.WindowSpec.Sliding(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1)), e => e.IpAddress,
            counting, Vigil.Core.Engine.DistinctCounterSerializer.Instance, (in Vigil.Core.Engine.WindowFiring<Vigil.Core.Events.UserEvent, int> f, Vigil.Core.Engine.IOutput<long> o) => o.Emit(f.Result));
        var runtime = new Vigil.Core.Engine.PartitionRuntime<Vigil.Core.Events.UserEvent, long>([op], new Vigil.Core.Engine.PartitionRuntimeOptions
        {
            Watermarks = new Vigil.Core.Engine.WatermarkOptions { OutOfOrderness = TimeSpan.FromSeconds(5), IdleTimeout = Timeout.InfiniteTimeSpan },
        });
        var output = new CountingOutput<long>();
        long baseMs = 0, offset = 0;
        for (var p = 0; p < passes + 2; p++)
        {
            if (p == 2)
            {
                counting.Resizes = 0;
                counting.Created = 0;
            }
            for (var i = 0; i < events.Length; i++)
            {
                runtime.Process(events[i], baseMs + timestamps[i], offset++, output);
            }
            baseMs += events.Length;
        }
        var total = (long)passes * events.Length;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sliding-distinct-panes, steady state over {total:N0} events: {counting.Resizes:N0} multiset resizes (2 allocations each), {counting.Created:N0} multisets created: {100.0 * ((2 * counting.Resizes) + (3 * counting.Created)) / total:F3} allocations per 100 events"));
    }

    private sealed class CountingDistinct : Vigil.Core.Engine.IRetractingAggregator<Vigil.Core.Events.UserEvent, Vigil.Core.Engine.DistinctCounter, int>
    {
        private readonly Vigil.Core.Engine.CountedDistinctAggregator<Vigil.Core.Events.UserEvent> _inner = new(e => e.UserId);
        public long Resizes;
        public long Created;

        public Vigil.Core.Engine.DistinctCounter Create()
        {
            Created++;
            return _inner.Create();
        }

        public void Add(ref Vigil.Core.Engine.DistinctCounter accumulator, in Vigil.Core.Events.UserEvent value)
        {
            var before = accumulator.Capacity;
            _inner.Add(ref accumulator, value);
            Resizes += accumulator.Capacity != before ? 1 : 0;
        }

        public void Merge(ref Vigil.Core.Engine.DistinctCounter target, in Vigil.Core.Engine.DistinctCounter other)
        {
            var before = target.Capacity;
            _inner.Merge(ref target, other);
            Resizes += target.Capacity != before ? 1 : 0;
        }

        public void Retract(ref Vigil.Core.Engine.DistinctCounter target, in Vigil.Core.Engine.DistinctCounter other) => _inner.Retract(ref target, other);

        public bool TryReset(ref Vigil.Core.Engine.DistinctCounter accumulator) => _inner.TryReset(ref accumulator);

        public int Result(in Vigil.Core.Engine.DistinctCounter accumulator) => _inner.Result(accumulator);
    }

    public static void Run(string @case, int passes)
    {
        var bench = new WindowBenchmarks { Case = @case };
        bench.Setup();
        bench.Feed();
        using var listener = new TickListener();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var collections = GC.CollectionCount(0);
        listener.Recording = true;
        for (var p = 0; p < passes; p++)
        {
            bench.Feed();
        }
        listener.Recording = false;
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        var events = (long)passes * 1_000_000;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{@case}: {events:N0} events, {bytes:N0} B allocated ({(double)bytes / events:F3} B/event), gen0 collections {GC.CollectionCount(0) - collections}"));
        foreach (var (type, (samples, largest)) in listener.Types.OrderByDescending(t => t.Value.Samples))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {type}: {samples} samples, largest object {largest:N0} B"));
        }
    }

    private sealed class TickListener : EventListener
    {
        public volatile bool Recording;

        public Dictionary<string, (int Samples, long Largest)> Types { get; } = new(StringComparer.Ordinal);

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (!Recording || eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true
                || eventData.PayloadNames is not { } names || eventData.Payload is not { } payload)
            {
                return;
            }
            var type = "?";
            long size = 0;
            for (var i = 0; i < names.Count; i++)
            {
                if (names[i] == "TypeName")
                {
                    type = payload[i] as string ?? "?";
                }
                else if (names[i] == "ObjectSize")
                {
                    size = Convert.ToInt64(payload[i], CultureInfo.InvariantCulture);
                }
            }
            lock (Types)
            {
                var (samples, largest) = Types.GetValueOrDefault(type);
                Types[type] = (samples + 1, Math.Max(largest, size));
            }
        }
    }
}
