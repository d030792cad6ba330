using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

public sealed class TimeAndConditionTests
{
    private static readonly Pattern<E> AThenB = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b'))
        .Within(TimeSpan.FromMilliseconds(10));

    [Fact]
    public void Within_LastEventInsideWindow_Matches()
    {
        Assert.Equal(["a b"], Run(AThenB, "a@100 b@109"));
    }

    [Fact]
    public void Within_LastEventAtWindowEnd_TimesOutInstead()
    {
        var (matches, timeouts) = RunWithTimeouts(AThenB, "a@100 b@110");
        Assert.Empty(matches);
        Assert.Equal(["a"], timeouts);
    }

    [Fact]
    public void AdvanceTime_PastWindow_ReportsTimedOutPartialMatchWithItsWindowEnd()
    {
        var matcher = AThenB.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        matcher.Process(new E("a", 100), 100, matches, timeouts);
        Assert.Equal(110, matcher.NextExpiryMs);

        matcher.AdvanceTime(109, matches, timeouts);
        Assert.Empty(timeouts);
        Assert.Equal(1, matcher.PartialMatchCount);

        matcher.AdvanceTime(110, matches, timeouts);
        var timedOut = Assert.Single(timeouts);
        Assert.Equal(110, timedOut.TimeoutTimestampMs);
        Assert.Equal(100, timedOut.FirstTimestampMs);
        Assert.Equal("a", Assert.Single(timedOut.Events("a")).Name);
        Assert.Empty(timedOut.Events("b"));
        Assert.False(matcher.HasState);
        Assert.Equal(long.MaxValue, matcher.NextExpiryMs);
    }

    [Fact]
    public void AdvanceTime_WithoutTimeoutsCollection_DiscardsSilentlyButStillExpires()
    {
        var matcher = AThenB.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        matcher.Process(new E("a", 100), 100, matches);
        matcher.AdvanceTime(200, matches);
        Assert.Equal(0, matcher.PartialMatchCount);
        Assert.Equal(0, matcher.BufferedEventNodes);
    }

    [Fact]
    public void Within_SmallestOfSeveralApplies()
    {
        var p = AThenB.Within(TimeSpan.FromMilliseconds(50)).Within(TimeSpan.FromMilliseconds(5));
        Assert.Equal(5, p.WithinMs);
        Assert.Empty(Run(p, "a@100 b@106"));
    }

    [Fact]
    public void Match_ReportsEventsByStageAndTimestamps()
    {
        var p = Pattern<E>.Begin("fails").Where(Is('f')).Times(2).FollowedBy("ok").Where(Is('s'));
        var matcher = p.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        foreach (var e in Stream("f1@10 x@11 f2@12 s@15"))
        {
            matcher.Process(e, e.Ts, matches);
        }
        var m = Assert.Single(matches);
        Assert.Equal(["f1", "f2"], m.Events("fails").Select(e => e.Name));
        Assert.Equal(["s"], m.Events("ok").Select(e => e.Name));
        Assert.Equal(3, m.EventCount);
        Assert.Equal(["f1", "f2", "s"], m.AllEvents.Select(e => e.Name));
        Assert.Equal(10, m.FirstTimestampMs);
        Assert.Equal(15, m.LastTimestampMs);
        Assert.Null(m.Key);
    }

    [Fact]
    public void IterativeCondition_SumOfAcceptedSoFar_BoundsTheLoop()
    {
        // FlinkCEP's documentation example: accept into "middle" while the running total stays under 5.
        var p = Pattern<E>.Begin("start").Where(Is('s'))
            .FollowedBy("middle").Where((e, ctx) =>
            {
                if (e.Kind != 'm')
                {
                    return false;
                }
                var sum = e.Value;
                foreach (var prior in ctx.Events("middle"))
                {
                    sum += prior.Value;
                }
                return sum < 5;
            }).OneOrMore().Consecutive()
            .Next("end").Where(Is('e'));
        var matcher = p.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        E[] events = [new("s", 1), new("m1", 2, Value: 1), new("m2", 3, Value: 2), new("m3", 4, Value: 3), new("e", 5)];
        foreach (var e in events)
        {
            matcher.Process(e, e.Ts, matches);
        }
        // m3 would bring the total to 6, so the loop refuses it, and a consecutive loop cannot skip it: no match.
        Assert.Empty(matches);

        matcher = p.Compile().CreateMatcher();
        matches.Clear();
        E[] fits = [new("s", 1), new("m1", 2, Value: 1), new("m2", 3, Value: 2), new("e", 4)];
        foreach (var e in fits)
        {
            matcher.Process(e, e.Ts, matches);
        }
        Assert.Equal(["s m1 m2 e"], matches.Select(Render));
    }

    [Fact]
    public void IterativeCondition_ComparesWithEarlierStage()
    {
        // "b" must carry the same value as the "a" that started the match.
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where((e, ctx) => e.Kind == 'b' && e.Value == ctx.Events("a")[0].Value);
        var matcher = p.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        E[] events = [new("a1", 1, Value: 7), new("a2", 2, Value: 8), new("b1", 3, Value: 8), new("b2", 4, Value: 7)];
        foreach (var e in events)
        {
            matcher.Process(e, e.Ts, matches);
        }
        Assert.Equal(["a2 b1", "a1 b2"], matches.Select(Render));
    }

    [Fact]
    public void IterativeCondition_CountAndTimestamps_SeeThePartialMatch()
    {
        long seenStart = -1;
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where((e, ctx) =>
        {
            seenStart = ctx.StartTimestampMs;
            return e.Kind == 'b' && ctx.Count("a") == 1 && ctx.TimestampMs == e.Ts;
        });
        Assert.Equal(["a b"], Run(p, "a@5 b@9"));
        Assert.Equal(5, seenStart);
    }

    [Fact]
    public void IterativeCondition_UnknownStageName_Throws()
    {
        var p = Pattern<E>.Begin("a").Where((e, ctx) => ctx.Count("nope") == 0);
        Assert.Throws<ArgumentException>(() => Run(p, "a"));
    }
}
