using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

public sealed class KeyedPatternOperatorTests
{
    private static readonly CompiledPattern<E> AThenB = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b'))
        .Within(TimeSpan.FromMilliseconds(10)).Compile(Skip(AfterMatchSkip.SkipPastLastEvent));

    private static KeyedPatternOperator<E> Operator(CompiledPattern<E>? pattern = null, CepOrdering ordering = CepOrdering.ArrivalOrder, int maxBuffered = 1_000_000) =>
        new(pattern ?? AThenB, e => e.Key, e => e.Ts, new KeyedPatternOptions { Ordering = ordering, MaxBufferedEvents = maxBuffered });

    [Fact]
    public void Process_InterleavedKeys_MatchesNeverMixKeys()
    {
        var op = Operator();
        var matches = new List<PatternMatch<E>>();
        op.Process(new E("a1", 1, "alice"), matches);
        op.Process(new E("a2", 2, "bob"), matches);
        op.Process(new E("b1", 3, "alice"), matches);
        op.Process(new E("x", 4, "bob"), matches);

        var m = Assert.Single(matches);
        Assert.Equal("alice", m.Key);
        Assert.Equal("a1 b1", Render(m));
        Assert.Equal(1, op.KeyCount);
        Assert.Equal(1, op.PartialMatchCount);
    }

    [Fact]
    public void Process_EventsLeavingNoState_CreateNoKeys()
    {
        var op = Operator();
        var matches = new List<PatternMatch<E>>();
        for (var i = 0; i < 100; i++)
        {
            op.Process(new E("x", i, $"user{i}"), matches);
        }
        Assert.Equal(0, op.KeyCount);
        Assert.Empty(matches);
    }

    [Fact]
    public void Process_MatchCompletesLastPartial_KeyRemoved()
    {
        var op = Operator();
        var matches = new List<PatternMatch<E>>();
        op.Process(new E("a", 1, "u"), matches);
        Assert.Equal(1, op.KeyCount);
        op.Process(new E("b", 2, "u"), matches);
        Assert.Single(matches);
        Assert.Equal(0, op.KeyCount);
        Assert.Equal(0, op.PartialMatchCount);
    }

    [Fact]
    public void AdvanceTime_ManyKeys_TimeoutsInWindowEndThenKeyOrder()
    {
        var op = Operator();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        // Keys inserted in reverse order and with two start times, so neither insertion order nor hashing decides.
        for (var i = 99; i >= 0; i--)
        {
            op.Process(new E($"a{i}", i % 2 == 0 ? 100 : 50, $"k{i:D3}"), matches, timeouts);
        }
        Assert.Equal(100, op.KeyCount);

        op.AdvanceTime(59, matches, timeouts);
        Assert.Empty(timeouts);

        op.AdvanceTime(60, matches, timeouts);
        Assert.Equal(50, timeouts.Count);
        Assert.All(timeouts, t => Assert.Equal(60, t.TimeoutTimestampMs));
        Assert.Equal(timeouts.Select(t => t.Key).Order(StringComparer.Ordinal), timeouts.Select(t => t.Key));

        op.AdvanceTime(1_000, matches, timeouts);
        Assert.Equal(100, timeouts.Count);
        Assert.Equal(0, op.KeyCount);
        Assert.Equal(0, op.PartialMatchCount);
    }

    [Fact]
    public void AdvanceTime_KeyWhosePartialEndedEarly_NotReportedTwice()
    {
        var op = Operator();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        op.Process(new E("a1", 0, "u"), matches, timeouts);
        op.Process(new E("b1", 5, "u"), matches, timeouts);
        op.Process(new E("a2", 8, "u"), matches, timeouts);
        op.AdvanceTime(10, matches, timeouts);
        Assert.Empty(timeouts);
        op.AdvanceTime(18, matches, timeouts);
        Assert.Equal(["a2"], timeouts.Select(Render));
    }

    [Fact]
    public void ArrivalOrder_DisorderedInput_MatchedAsItArrives()
    {
        var op = Operator();
        var matches = new List<PatternMatch<E>>();
        Assert.Equal(CepProcessStatus.Processed, op.Process(new E("b", 5, "u"), matches));
        Assert.Equal(CepProcessStatus.Processed, op.Process(new E("a", 3, "u"), matches));
        op.AdvanceTime(100, matches);
        Assert.Empty(matches);
    }

    [Fact]
    public void EventTimeOrdered_DisorderedInput_MatchedInTimestampOrderOnceWatermarkPasses()
    {
        var op = Operator(ordering: CepOrdering.EventTimeOrdered);
        var matches = new List<PatternMatch<E>>();
        Assert.Equal(CepProcessStatus.Buffered, op.Process(new E("b", 5, "u"), matches));
        Assert.Equal(CepProcessStatus.Buffered, op.Process(new E("a", 3, "u"), matches));
        Assert.Equal(2, op.BufferedEventCount);

        op.AdvanceTime(4, matches);
        Assert.Empty(matches);
        Assert.Equal(1, op.BufferedEventCount);

        op.AdvanceTime(5, matches);
        Assert.Equal(["a b"], matches.Select(Render));
        Assert.Equal(0, op.BufferedEventCount);
        Assert.Equal(0, op.KeyCount);
    }

    [Fact]
    public void EventTimeOrdered_EventBehindWatermark_LateAndCounted()
    {
        var op = Operator(ordering: CepOrdering.EventTimeOrdered);
        var matches = new List<PatternMatch<E>>();
        op.AdvanceTime(10, matches);
        Assert.Equal(CepProcessStatus.Late, op.Process(new E("a", 10, "u"), matches));
        Assert.Equal(CepProcessStatus.Buffered, op.Process(new E("a", 11, "u"), matches));
        Assert.Equal(1, op.LateEventCount);
        Assert.Equal(10, op.CurrentWatermarkMs);
    }

    [Fact]
    public void EventTimeOrdered_BufferFull_OldestMatchedEarlyAndCounted()
    {
        var op = Operator(ordering: CepOrdering.EventTimeOrdered, maxBuffered: 2);
        var matches = new List<PatternMatch<E>>();
        op.Process(new E("a", 1, "u"), matches);
        op.Process(new E("x", 2, "u"), matches);
        op.Process(new E("b", 3, "u"), matches);
        Assert.Equal(1, op.ForcedReleaseCount);
        Assert.Equal(2, op.BufferedEventCount);
        op.AdvanceTime(3, matches);
        Assert.Equal(["a b"], matches.Select(Render));
    }

    [Fact]
    public void AdvanceTime_WatermarkGoingBack_Ignored()
    {
        var op = Operator(ordering: CepOrdering.EventTimeOrdered);
        var matches = new List<PatternMatch<E>>();
        op.AdvanceTime(50, matches);
        op.AdvanceTime(20, matches);
        Assert.Equal(50, op.CurrentWatermarkMs);
    }

    [Fact]
    public void Snapshot_KeysInsertedInDifferentOrders_ByteIdentical()
    {
        var first = Operator();
        var second = Operator();
        var sink = new List<PatternMatch<E>>();
        string[] keys = ["zed", "alice", "Bob", "émile", "bob"];
        foreach (var k in keys)
        {
            first.Process(new E("a", 1, k), sink);
        }
        foreach (var k in keys.Reverse())
        {
            second.Process(new E("a", 1, k), sink);
        }
        Assert.Equal(Snap(first), Snap(second));
    }

    [Fact]
    public void Restore_OtherOrdering_Rejected()
    {
        var arrival = Operator();
        arrival.Process(new E("a", 1, "u"), new List<PatternMatch<E>>());
        var bytes = Snap(arrival);
        var eventTime = Operator(ordering: CepOrdering.EventTimeOrdered);
        using var reader = new BinaryReader(new MemoryStream(bytes));
        Assert.Throws<InvalidDataException>(() => eventTime.Restore(reader, ESerializer.Instance));
    }

    [Fact]
    public void Metrics_DroppedAcrossKeys_Summed()
    {
        var pattern = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b'))
            .Compile(new PatternOptions { MaxPartialMatches = 2 });
        var op = Operator(pattern);
        var sink = new List<PatternMatch<E>>();
        foreach (var key in new[] { "u1", "u2" })
        {
            for (var i = 0; i < 5; i++)
            {
                op.Process(new E("a", i, key), sink);
            }
        }
        Assert.Equal(6, op.DroppedPartialMatches);
        Assert.Equal(4, op.PartialMatchCount);
        Assert.Equal(2, op.KeyCount);
    }

    private static byte[] Snap(KeyedPatternOperator<E> op)
    {
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            op.Snapshot(writer, ESerializer.Instance);
        }
        return stream.ToArray();
    }
}
