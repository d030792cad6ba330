using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

/// <summary>The after-match skip strategy tables of the FlinkCEP documentation.</summary>
public sealed class SkipStrategyTests
{
    // "b+ c" over "b1 b2 b3 c".
    // With relaxed contiguity inside the loop the b partial matches would outlive c and hold the later matches back
    // (see SkipPastLastEvent_HeldMatch_...); the documentation's table is for a loop that c ends.
    private static readonly Pattern<E> BPlusC = Pattern<E>.Begin("b").Where(Is('b')).OneOrMore().Consecutive().Next("c").Where(Is('c'));

    public static TheoryData<string, string[]> BPlusCCases => new()
    {
        { "NoSkip", ["b1 b2 b3 c", "b2 b3 c", "b3 c"] },
        { "SkipToNext", ["b1 b2 b3 c", "b2 b3 c", "b3 c"] },
        { "SkipPastLastEvent", ["b1 b2 b3 c"] },
        { "SkipToFirst", ["b1 b2 b3 c", "b2 b3 c", "b3 c"] },
        { "SkipToLast", ["b1 b2 b3 c", "b3 c"] },
    };

    [Theory]
    [MemberData(nameof(BPlusCCases))]
    public void Process_BPlusC_MatchesPerStrategy(string strategy, string[] expected)
    {
        Assert.Equal(expected, Run(BPlusC, "b1 b2 b3 c", Skip(Strategy(strategy, "b"))));
    }

    [Fact]
    public void SkipToNext_APlusB_DiscardsLongerMatchesFromTheSameStart()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b')).OneOrMore();
        Assert.Equal(["a b1", "a b1 b2", "a b1 b2 b3"], Run(p, "a b1 b2 b3"));
        Assert.Equal(["a b1"], Run(p, "a b1 b2 b3", Skip(AfterMatchSkip.SkipToNext)));
    }

    // "(a | b | c) (b | c) c+.greedy d" over "a b c1 c2 c3 d".
    private static readonly Pattern<E> GreedyC = Pattern<E>.Begin("ab").Where(e => e.Kind is 'a' or 'b' or 'c')
        .Next("bc").Where(e => e.Kind is 'b' or 'c')
        .Next("c").Where(Is('c')).OneOrMore().Greedy()
        .Next("d").Where(Is('d'));

    [Fact]
    public void NoSkip_GreedyExample_ThreeMatches()
    {
        Assert.Equal(["a b c1 c2 c3 d", "b c1 c2 c3 d", "c1 c2 c3 d"], Run(GreedyC, "a b c1 c2 c3 d"));
    }

    [Fact]
    public void SkipToFirst_GreedyExample_DiscardsMatchesStartedBeforeFirstC()
    {
        Assert.Equal(["a b c1 c2 c3 d", "c1 c2 c3 d"], Run(GreedyC, "a b c1 c2 c3 d", Skip(AfterMatchSkip.SkipToFirst("c"))));
    }

    [Fact]
    public void SkipPastLastEvent_OverlappingBursts_EachEventReportedOnce()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Times(2);
        Assert.Equal(["a1 a2", "a2 a3", "a3 a4"], Run(p, "a1 a2 a3 a4"));
        Assert.Equal(["a1 a2", "a3 a4"], Run(p, "a1 a2 a3 a4", Skip(AfterMatchSkip.SkipPastLastEvent)));
    }

    // "s e" where the event that completes a partial match depends on how it started: p needs a d, q needs a c.
    private static readonly Pattern<E> StartDependent = Pattern<E>.Begin("s").Where(e => e.Kind is 'p' or 'q')
        .FollowedBy("e").Where((e, ctx) => e.Kind == (ctx.Events("s")[0].Kind == 'p' ? 'd' : 'c'))
        .Within(TimeSpan.FromMilliseconds(100));

    [Fact]
    public void NoSkip_LaterStartCompletesFirst_EmittedAtOnce()
    {
        Assert.Equal(["q1 c1", "p1 d1"], Run(StartDependent, "p1 q1 c1 d1"));
    }

    [Fact]
    public void SkipPastLastEvent_EarlierPartialCompletesLater_ItWinsAndPrunesTheOther()
    {
        // q1 c1 completes while p1 is still waiting: it is held, p1 d1 completes, goes out first (earlier start) and,
        // ending after q1 c1 began, prunes it — FlinkCEP's order of emission.
        Assert.Equal(["p1 d1"], Run(StartDependent, "p1 q1 c1 d1", Skip(AfterMatchSkip.SkipPastLastEvent)));
    }

    [Fact]
    public void SkipPastLastEvent_HeldMatch_ReleasedWhenEarlierPartialTimesOut()
    {
        var matcher = StartDependent.Compile(Skip(AfterMatchSkip.SkipPastLastEvent)).CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        foreach (var e in Stream("p1@1 q1@2 c1@3"))
        {
            matcher.Process(e, e.Ts, matches, timeouts);
        }
        Assert.Empty(matches);
        Assert.Equal(1, matcher.PendingMatchCount);

        matcher.AdvanceTime(101, matches, timeouts);

        Assert.Equal(["q1 c1"], matches.Select(Render));
        Assert.Equal(["p1"], timeouts.Select(Render));
        Assert.False(matcher.HasState);
    }

    [Fact]
    public void SkipToLast_StageWithoutEvents_FallsBackToNoSkip()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("x").Where(Is('x')).Optional().FollowedBy("b").Where(Is('b'))
            .Within(TimeSpan.FromMilliseconds(10));
        Assert.Equal(["a1 b", "a2 b"], Run(p, "a1@1 a2@2 b@3", Skip(AfterMatchSkip.SkipToLast("x")), finalWatermark: 100));
    }

    private static AfterMatchSkip Strategy(string name, string stage) => name switch
    {
        "NoSkip" => AfterMatchSkip.NoSkip,
        "SkipToNext" => AfterMatchSkip.SkipToNext,
        "SkipPastLastEvent" => AfterMatchSkip.SkipPastLastEvent,
        "SkipToFirst" => AfterMatchSkip.SkipToFirst(stage),
        _ => AfterMatchSkip.SkipToLast(stage),
    };
}
