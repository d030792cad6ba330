using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

/// <summary>Snapshot → restore → continue gives exactly the output of an uninterrupted run, on seeded random streams.</summary>
public sealed class SnapshotTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(20);

    /// <summary>Patterns covering every construct, each with a skip strategy, so the random streams exercise them all.</summary>
    public static IEnumerable<(string Name, CompiledPattern<E> Pattern)> Patterns()
    {
        yield return ("a b+ c relaxed", Pattern<E>.Begin("a").Where(Is('a')).FollowedByAny("b").Where(Is('b')).OneOrMore()
            .FollowedBy("c").Where(Is('c')).Within(Window).Compile());
        yield return ("combinations skip-past-last", Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b')).OneOrMore().AllowCombinations()
            .FollowedBy("c").Where(Is('c')).Within(Window).Compile(Skip(AfterMatchSkip.SkipPastLastEvent)));
        yield return ("times range greedy skip-to-next", Pattern<E>.Begin("a").Where(Is('a')).Times(2, 4).Greedy()
            .Next("b").Where(Is('b')).Within(Window).Compile(Skip(AfterMatchSkip.SkipToNext)));
        yield return ("optional + notFollowedBy", Pattern<E>.Begin("a").Where(Is('a')).NotFollowedBy("no d").Where(Is('d'))
            .FollowedByAny("b").Where(Is('b')).Optional().FollowedBy("c").Where(Is('c')).Within(Window).Compile(Skip(AfterMatchSkip.SkipToLast("a"))));
        yield return ("notNext + iterative", Pattern<E>.Begin("a").Where(Is('a')).NotNext("no x").Where(Is('x'))
            .FollowedBy("b").Where((e, ctx) => e.Kind == 'b' && e.Value >= ctx.Events("a")[0].Value).Within(Window).Compile());
        yield return ("trailing notFollowedBy skip-to-first", Pattern<E>.Begin("a").Where(Is('a')).TimesOrMore(2)
            .NotFollowedBy("no c").Where(Is('c')).Within(Window).Compile(Skip(AfterMatchSkip.SkipToFirst("a"))));
        yield return ("bounded", Pattern<E>.Begin("a").Where(Is('a')).FollowedByAny("b").Where(Is('b')).OneOrMore().AllowCombinations()
            .Within(Window).Compile(new PatternOptions { MaxPartialMatches = 8, MaxEventsPerMatch = 4 }));
    }

    [Fact]
    public void Matcher_SnapshotRestoreAtRandomPoints_EqualsUninterruptedRun()
    {
        foreach (var (name, pattern) in Patterns())
        {
            int matches = 0, timeouts = 0;
            for (var seed = 0; seed < 60; seed++)
            {
                var steps = RandomSteps(new Random(seed), 80, keys: 1, disorder: 0);
                var expected = RunMatcher(pattern, steps, cut: -1);
                var cut = new Random(seed + 1000).Next(1, steps.Count);
                var actual = RunMatcher(pattern, steps, cut);
                Assert.True(expected.SequenceEqual(actual), $"{name}, seed {seed}, cut {cut}:\n{string.Join('\n', expected)}\n---\n{string.Join('\n', actual)}");
                matches += expected.Count(l => l.StartsWith("M ", StringComparison.Ordinal));
                timeouts += expected.Count(l => l.StartsWith("T ", StringComparison.Ordinal));
            }
            // The streams must exercise the pattern, or the equality above proves nothing.
            Assert.True(matches > 20, $"{name}: only {matches} matches");
            Assert.True(timeouts > 20 || name.StartsWith("trailing", StringComparison.Ordinal), $"{name}: only {timeouts} timeouts");
        }
    }

    [Fact]
    public void Matcher_SnapshotOfRestoredState_IsByteIdentical()
    {
        foreach (var (name, pattern) in Patterns())
        {
            var steps = RandomSteps(new Random(7), 40, keys: 1, disorder: 0);
            var matcher = pattern.CreateMatcher();
            var sink = new List<PatternMatch<E>>();
            foreach (var step in steps)
            {
                Apply(matcher, step, sink, null);
            }
            var first = Snap(matcher);
            var restored = pattern.CreateMatcher();
            using (var reader = new BinaryReader(new MemoryStream(first)))
            {
                restored.Restore(reader, ESerializer.Instance);
            }
            Assert.True(first.AsSpan().SequenceEqual(Snap(restored)), name);
            Assert.Equal(matcher.PartialMatchCount, restored.PartialMatchCount);
            Assert.Equal(matcher.DroppedPartialMatches, restored.DroppedPartialMatches);
        }
    }

    [Fact]
    public void Restore_SnapshotOfAnotherPattern_Rejected()
    {
        var a = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Compile().CreateMatcher();
        var other = Pattern<E>.Begin("x").Where(Is('a')).FollowedBy("y").Compile().CreateMatcher();
        a.Process(new E("a", 1), 1, new List<PatternMatch<E>>());
        var bytes = Snap(a);
        using var reader = new BinaryReader(new MemoryStream(bytes));
        Assert.Throws<InvalidDataException>(() => other.Restore(reader, ESerializer.Instance));
    }

    [Theory]
    [InlineData(CepOrdering.ArrivalOrder, 0)]
    [InlineData(CepOrdering.EventTimeOrdered, 0)]
    [InlineData(CepOrdering.EventTimeOrdered, 6)]
    public void KeyedOperator_SnapshotRestoreAtRandomPoints_EqualsUninterruptedRun(CepOrdering ordering, int disorder)
    {
        foreach (var (name, pattern) in Patterns())
        {
            for (var seed = 0; seed < 25; seed++)
            {
                var steps = RandomSteps(new Random(seed), 150, keys: 4, disorder);
                var expected = RunKeyed(pattern, ordering, steps, cut: -1);
                var cut = new Random(seed + 77).Next(1, steps.Count);
                var actual = RunKeyed(pattern, ordering, steps, cut);
                Assert.True(expected.SequenceEqual(actual), $"{name}, {ordering}, seed {seed}, cut {cut}:\n{string.Join('\n', expected)}\n---\n{string.Join('\n', actual)}");
            }
        }
    }

    /// <summary>One step of a driver script: an event, or a watermark when <see cref="Event"/> is null.</summary>
    internal sealed record Step(E? Event, long Watermark);

    internal static List<Step> RandomSteps(Random rnd, int count, int keys, int disorder)
    {
        const string kinds = "aabbcdx";
        var steps = new List<Step>();
        var ts = 0L;
        for (var i = 0; i < count; i++)
        {
            ts += rnd.Next(0, 4);
            var eventTs = Math.Max(0, ts - (disorder > 0 ? rnd.Next(0, disorder + 1) : 0));
            var kind = kinds[rnd.Next(kinds.Length)];
            steps.Add(new Step(new E($"{kind}{i}", eventTs, $"u{rnd.Next(keys)}", rnd.Next(0, 4)), 0));
            if (rnd.Next(5) == 0)
            {
                steps.Add(new Step(null, ts - disorder - 1));
            }
        }
        steps.Add(new Step(null, ts + 1000));
        return steps;
    }

    private static void Apply(PatternMatcher<E> matcher, Step step, List<PatternMatch<E>> matches, List<TimedOutMatch<E>>? timeouts)
    {
        if (step.Event is { } e)
        {
            matcher.Process(e, e.Ts, matches, timeouts);
        }
        else
        {
            matcher.AdvanceTime(step.Watermark, matches, timeouts);
        }
    }

    private static List<string> RunMatcher(CompiledPattern<E> pattern, List<Step> steps, int cut)
    {
        var matcher = pattern.CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        var log = new List<string>();
        for (var i = 0; i < steps.Count; i++)
        {
            if (i == cut)
            {
                var bytes = Snap(matcher);
                matcher = pattern.CreateMatcher();
                using var reader = new BinaryReader(new MemoryStream(bytes));
                matcher.Restore(reader, ESerializer.Instance);
                Assert.Equal(reader.BaseStream.Length, reader.BaseStream.Position);
            }
            Apply(matcher, steps[i], matches, timeouts);
            Drain(log, matches, timeouts);
        }
        log.Add($"dropped {matcher.DroppedPartialMatches}, left {matcher.PartialMatchCount}");
        return log;
    }

    private static List<string> RunKeyed(CompiledPattern<E> pattern, CepOrdering ordering, List<Step> steps, int cut)
    {
        var options = new KeyedPatternOptions { Ordering = ordering, MaxBufferedEvents = 60 };
        KeyedPatternOperator<E> Create() => new(pattern, e => e.Key, e => e.Ts, options);
        var op = Create();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        var log = new List<string>();
        for (var i = 0; i < steps.Count; i++)
        {
            if (i == cut)
            {
                var stream = new MemoryStream();
                using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
                {
                    op.Snapshot(writer, ESerializer.Instance);
                }
                op = Create();
                stream.Position = 0;
                using var reader = new BinaryReader(stream);
                op.Restore(reader, ESerializer.Instance);
            }
            if (steps[i].Event is { } e)
            {
                log.Add($"{e.Name}: {op.Process(e, matches, timeouts)}");
            }
            else
            {
                op.AdvanceTime(steps[i].Watermark, matches, timeouts);
            }
            Drain(log, matches, timeouts);
            log.Add($"keys {op.KeyCount} partials {op.PartialMatchCount} buffered {op.BufferedEventCount}");
        }
        log.Add($"dropped {op.DroppedPartialMatches} late {op.LateEventCount} forced {op.ForcedReleaseCount}");
        return log;
    }

    private static void Drain(List<string> log, List<PatternMatch<E>> matches, List<TimedOutMatch<E>> timeouts)
    {
        foreach (var m in matches)
        {
            log.Add($"M {m.Key} [{Render(m)}] {m.FirstTimestampMs}-{m.LastTimestampMs}");
        }
        foreach (var t in timeouts)
        {
            log.Add($"T {t.Key} [{Render(t)}] {t.TimeoutTimestampMs}");
        }
        matches.Clear();
        timeouts.Clear();
    }

    private static byte[] Snap(PatternMatcher<E> matcher)
    {
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            matcher.Snapshot(writer, ESerializer.Instance);
        }
        return stream.ToArray();
    }
}
