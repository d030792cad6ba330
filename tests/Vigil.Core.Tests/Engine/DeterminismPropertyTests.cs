using Vigil.Core.Engine;
using static Vigil.Core.Tests.Engine.EngineTestKit;

namespace Vigil.Core.Tests.Engine;

/// <summary>
/// The engine's contract as a property: for random disordered streams, random batch splits, and random checkpoints
/// and crashes (restore the last checkpoint, re-feed from its offset), the outputs equal one uninterrupted run.
/// A seeded generator over many cases stands in for FsCheck; a failure names its seed.
/// </summary>
public sealed class DeterminismPropertyTests
{
    private sealed class Keyed(string name) : KeyedProcessOperator<TestEvent, long, string>(name, TimeSpan.FromMilliseconds(200), Int64StateSerializer.Instance)
    {
        protected override string? KeyOf(in TestEvent evt) => evt.Key;

        protected override void Process(string key, ref long state, bool created, in TestEvent evt, long timestampMs, IOutput<string> output)
        {
            state++;
            if (created && state == 1)
            {
                Context.RegisterEventTimeTimer(key, timestampMs + 50, tag: 1);
            }
        }

        protected override void OnKeyTimer(in TimerFiring timer, IOutput<string> output)
        {
            var count = State.TryGetValue(timer.Key, out var c) ? c : -1;
            output.Emit($"{Name}:{timer.Key}@{timer.TimeMs}={count}");
        }
    }

    private static PartitionRuntime<TestEvent, string> Runtime(long boundMs, long latenessMs, IOutput<LateEvent<TestEvent>> late) =>
        new([
            Count("tumble", WindowSpec.Tumbling(TimeSpan.FromMilliseconds(50)), new EarlyFiring<long> { Mode = EarlyFiringMode.WhenConditionBecomesTrue, Condition = c => c >= 3 }),
            Distinct("slide", WindowSpec.Sliding(TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(10))),
            CountedDistinct("panes", WindowSpec.Sliding(TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(10))),
            Count("session", WindowSpec.Session(TimeSpan.FromMilliseconds(15)), new EarlyFiring<long> { Mode = EarlyFiringMode.EveryUpdate, Condition = c => c % 4 == 0 }),
            new Keyed("keyed"),
        ], Options(boundMs, latenessMs), new ManualTimeProvider(), late);

    [Fact]
    public void Outputs_RandomBatchesCheckpointsAndRestarts_EqualUninterruptedRun()
    {
        for (var seed = 1; seed <= 300; seed++)
        {
            var random = new Random(seed);
            var boundMs = random.Next(0, 30);
            var latenessMs = random.Next(0, 2) * random.Next(0, 20);
            var events = new List<TestEvent>();
            long t = random.Next(-100, 100);
            var n = random.Next(0, 400);
            for (var i = 0; i < n; i++)
            {
                t += random.Next(0, 6);
                var disorder = random.Next(0, 10) == 0 ? random.Next(0, 80) : random.Next(0, boundMs + 1);
                events.Add(new TestEvent("k" + random.Next(0, 5), t - disorder, "v" + random.Next(0, 4)));
            }

            var expectedLate = new ListOutput<LateEvent<TestEvent>>();
            var expected = Run(Runtime(boundMs, latenessMs, expectedLate), events);

            var late = new ListOutput<LateEvent<TestEvent>>();
            var runtime = Runtime(boundMs, latenessMs, late);
            var output = new ListOutput<string>();
            byte[]? checkpoint = null;
            var outputAtCheckpoint = 0;
            var lateAtCheckpoint = 0;
            var position = 0;
            var crashes = 0;
            while (position < events.Count)
            {
                var batch = random.Next(1, 40);
                for (var end = Math.Min(events.Count, position + batch); position < end; position++)
                {
                    runtime.Process(events[position], events[position].Ts, position, output);
                }
                runtime.Tick(output);
                var action = random.Next(0, 6);
                if (action == 0)
                {
                    checkpoint = runtime.Snapshot();
                    outputAtCheckpoint = output.Items.Count;
                    lateAtCheckpoint = late.Items.Count;
                }
                else if (action == 1 && crashes < 4)
                {
                    // Crash: what came after the checkpoint is lost downstream too, and the source rewinds.
                    crashes++;
                    output.Items.RemoveRange(outputAtCheckpoint, output.Items.Count - outputAtCheckpoint);
                    late.Items.RemoveRange(lateAtCheckpoint, late.Items.Count - lateAtCheckpoint);
                    runtime = Runtime(boundMs, latenessMs, late);
                    if (checkpoint is not null)
                    {
                        Assert.Equal(CheckpointReadStatus.Ok, runtime.Restore(checkpoint));
                    }
                    // Rewind a little further than needed: already-processed offsets must be skipped.
                    position = (int)Math.Max(0, runtime.ResumeOffset() - random.Next(0, 3));
                }
            }
            runtime.AdvanceWatermark(long.MaxValue, output);

            Assert.True(expected.SequenceEqual(output.Items), $"seed {seed}: outputs differ");
            Assert.True(expectedLate.Items.SequenceEqual(late.Items), $"seed {seed}: late events differ");
        }
    }
}
