using Vigil.Core.Engine;
using static Vigil.Core.Tests.Engine.EngineTestKit;

namespace Vigil.Core.Tests.Engine;

public sealed class CheckpointTests
{
    /// <summary>A keyed counter with TTL: the shape of a per-user rule.</summary>
    private sealed class KeyCounter(string name, TimeSpan ttl) : KeyedProcessOperator<TestEvent, long, string>(name, ttl, Int64StateSerializer.Instance)
    {
        protected override string? KeyOf(in TestEvent evt) => evt.Key;

        protected override void Process(string key, ref long state, bool created, in TestEvent evt, long timestampMs, IOutput<string> output)
        {
            state++;
            if (state % 3 == 0)
            {
                output.Emit($"{Name}:{key}#{state}");
            }
        }
    }

    private static PartitionRuntime<TestEvent, string> Runtime(bool withCounter = true, bool withSessions = true)
    {
        var ops = new List<IOperator<TestEvent, string>>
        {
            Count("tumble", WindowSpec.Tumbling(TimeSpan.FromMilliseconds(100)), new EarlyFiring<long> { Mode = EarlyFiringMode.WhenConditionBecomesTrue, Condition = c => c >= 4 }),
            Distinct("slide", WindowSpec.Sliding(TimeSpan.FromMilliseconds(60), TimeSpan.FromMilliseconds(20))),
        };
        if (withSessions)
        {
            ops.Add(Count("session", WindowSpec.Session(TimeSpan.FromMilliseconds(25))));
        }
        if (withCounter)
        {
            ops.Add(new KeyCounter("counter", TimeSpan.FromMilliseconds(300)));
        }
        return new PartitionRuntime<TestEvent, string>(ops, Options(boundMs: 30), new ManualTimeProvider());
    }

    private static List<TestEvent> Events(int n, int seed)
    {
        var random = new Random(seed);
        var events = new List<TestEvent>(n);
        long t = 0;
        for (var i = 0; i < n; i++)
        {
            t += random.Next(0, 12);
            events.Add(new TestEvent("k" + random.Next(0, 7), Math.Max(0, t - random.Next(0, 40)), "v" + random.Next(0, 5)));
        }
        return events;
    }

    [Fact]
    public void Crc32_StandardCheckValue_Matches()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        var big = new byte[1000];
        new Random(1).NextBytes(big);
        var bytewise = 0xFFFFFFFFu;
        foreach (var b in big)
        {
            bytewise ^= b;
            for (var k = 0; k < 8; k++)
            {
                bytewise = (bytewise & 1) != 0 ? 0xEDB88320u ^ (bytewise >> 1) : bytewise >> 1;
            }
        }
        Assert.Equal(~bytewise, Crc32.Compute(big));
    }

    [Fact]
    public void Snapshot_RestoreThenSnapshot_BytesIdentical()
    {
        var runtime = Runtime();
        Run(runtime, Events(500, 1), flush: false);
        var first = runtime.Snapshot(7);

        var back = Runtime();
        Assert.Equal(CheckpointReadStatus.Ok, back.Restore(first));

        Assert.Equal(first, back.Snapshot(7));
        Assert.Equal(7, back.LastCheckpointId);
        Assert.Equal(499, back.LastOffset());
        Assert.Equal(runtime.Watermark, back.Watermark);
    }

    [Fact]
    public void Restore_ThenContinue_SameOutputAsUninterrupted()
    {
        var events = Events(2_000, 2);
        var expected = Run(Runtime(), events);

        var first = Runtime();
        var output = Run(first, events.Take(1_234), flush: false);
        var bytes = first.Snapshot();
        var second = Runtime();
        second.Restore(bytes);
        output.AddRange(Run(second, events.Skip(1_234)));

        Assert.True(expected.Count > 100);
        Assert.Equal(expected, output);
    }

    [Fact]
    public void Process_OffsetsAlreadyInCheckpoint_Skipped()
    {
        var events = Events(100, 3);
        var first = Runtime();
        var output = new ListOutput<string>();
        for (var i = 0; i < 50; i++)
        {
            first.Process(events[i], events[i].Ts, i, output);
        }
        var second = Runtime();
        second.Restore(first.Snapshot());
        Assert.Equal(50, second.ResumeOffset());
        Assert.Equal(EventTimeStatus.AlreadyProcessed, second.Process(events[10], events[10].Ts, 10, output));
        Assert.Equal(1, second.Metrics.AlreadyProcessed);
    }

    [Fact]
    public void RebaseOffset_LowerThanProcessed_NextLowerOffsetsAreProcessedNotSkipped()
    {
        var events = Events(60, 4);
        var output = new ListOutput<string>();
        var runtime = Runtime();
        for (var i = 0; i < 50; i++)
        {
            runtime.Process(events[i], events[i].Ts, i, output);
        }

        // The source's log was replaced: offset 0 of the new log holds a new event.
        runtime.RebaseOffset(0, -1);
        var status = runtime.Process(events[50], events[50].Ts, 0, output);

        Assert.NotEqual(EventTimeStatus.AlreadyProcessed, status);
        Assert.Equal(1, runtime.ResumeOffset());
        Assert.Equal(0, runtime.Metrics.AlreadyProcessed);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(-1)]
    [InlineData(-3)]
    public void Restore_CorruptedByte_DetectedByChecksum(int position)
    {
        var runtime = Runtime();
        Run(runtime, Events(200, 4), flush: false);
        var bytes = runtime.Snapshot();
        var at = position >= 0 ? position : bytes.Length + position;
        bytes[at] ^= 0x40;

        Assert.Equal(CheckpointReadStatus.ChecksumMismatch, CheckpointReader.Verify(bytes));
        Assert.Equal(CheckpointReadStatus.ChecksumMismatch, Runtime().Restore(bytes));
    }

    [Fact]
    public void Restore_TornOrForeignBytes_Rejected()
    {
        var runtime = Runtime();
        Run(runtime, Events(200, 5), flush: false);
        var bytes = runtime.Snapshot();

        Assert.Equal(CheckpointReadStatus.ChecksumMismatch, CheckpointReader.Verify(bytes.AsSpan(0, bytes.Length / 2)));
        Assert.Equal(CheckpointReadStatus.Truncated, CheckpointReader.Verify(bytes.AsSpan(0, 10)));
        Assert.Equal(CheckpointReadStatus.BadMagic, CheckpointReader.Verify("not a checkpoint at all"u8));
    }

    [Fact]
    public void Restore_OperatorRemovedAndAdded_SectionSkippedAndNewOneStartsEmpty()
    {
        var runtime = Runtime(withCounter: true, withSessions: false);
        Run(runtime, Events(300, 6), flush: false);
        var bytes = runtime.Snapshot();
        Assert.Equal(CheckpointReadStatus.Ok, CheckpointReader.TryRead(bytes, out var parsed));
        Assert.Equal(["tumble", "slide", "counter"], parsed!.Operators.Select(o => o.Name));

        var changed = Runtime(withCounter: false, withSessions: true);
        Assert.Equal(CheckpointReadStatus.Ok, changed.Restore(bytes));
        Assert.Equal(1, changed.SectionsSkippedOnRestore);
        Assert.Equal(1, changed.OperatorsWithoutSectionOnRestore);
        var session = (WindowOperator<TestEvent, long, long, string>)changed.Operators[2];
        Assert.Equal(0, session.OpenWindows);
    }

    [Fact]
    public void Restore_IntoUsedRuntime_Throws()
    {
        var runtime = Runtime();
        Run(runtime, Events(10, 7), flush: false);
        Assert.Throws<InvalidOperationException>(() => runtime.Restore(runtime.Snapshot()));
    }

    [Fact]
    public void Snapshot_RecordsSizeAndIdAsMetrics()
    {
        var runtime = Runtime();
        Run(runtime, Events(100, 8), flush: false);
        var bytes = runtime.Snapshot();
        var metrics = runtime.Metrics;
        Assert.Equal(bytes.Length, metrics.LastCheckpointBytes);
        Assert.Equal(1, metrics.LastCheckpointId);
    }
}
