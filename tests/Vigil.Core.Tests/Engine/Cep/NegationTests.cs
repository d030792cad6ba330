using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

/// <summary>NotNext and NotFollowedBy, on the scenarios FlinkCEP's NotPatternITCase checks, and at the end of a pattern.</summary>
public sealed class NegationTests
{
    [Fact]
    public void NotNext_ForbiddenEventNotDirectlyAfter_Matches()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).NotNext("not").Where(Is('b'))
            .FollowedByAny("middle").Where(Is('c')).FollowedBy("end").Where(Is('d'));
        Assert.Equal(["a1 c1 d", "a1 c2 d"], Run(p, "a1 c1 b1 c2 d").Order());
    }

    [Fact]
    public void NotNext_ForbiddenEventDirectlyAfter_NoMatch()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).NotNext("not").Where(Is('b'))
            .FollowedBy("middle").Where(Is('c')).FollowedBy("end").Where(Is('d'));
        Assert.Empty(Run(p, "a1 b1 c1 c2 d"));
    }

    [Fact]
    public void NotNext_AtTheEnd_ForbiddenEventNext_NoMatch()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).FollowedByAny("middle").Where(Is('c'))
            .FollowedByAny("end").Where(Is('d')).NotNext("not").Where(Is('b'));
        Assert.Empty(Run(p, "a1 c1 c2 d b1"));
    }

    [Fact]
    public void NotNext_AtTheEnd_OtherEventNext_MatchEmittedOnThatEvent()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).NotNext("not").Where(Is('b'));
        var matcher = p.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        var events = Stream("a1 x1");
        matcher.Process(events[0], events[0].Ts, matches);
        Assert.Empty(matches);
        matcher.Process(events[1], events[1].Ts, matches);
        Assert.Equal(["a1"], matches.Select(Render));
    }

    [Fact]
    public void NotFollowedBy_ForbiddenEventBeforeNextStage_DiscardsOnlyThatBranch()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).NotFollowedBy("not").Where(Is('b'))
            .FollowedByAny("middle").Where(Is('c')).FollowedBy("end").Where(Is('d'));
        Assert.Equal(["a1 c1 d"], Run(p, "a1 c1 b1 c2 d"));
    }

    [Fact]
    public void NotFollowedBy_BeforeOptionalStage_AppliesUntilTheOptionalStageAccepts()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).NotFollowedBy("not").Where(Is('b'))
            .FollowedByAny("middle").Where(Is('c')).Optional().FollowedBy("end").Where(Is('d'));
        Assert.Equal(["a1 c1 d"], Run(p, "a1 c1 b1 c2 d"));
    }

    [Fact]
    public void NotFollowedBy_AfterTimes_ForbiddenEventInsideTheRepetitions_NoMatch()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).FollowedByAny("middle").Where(Is('b')).Times(2)
            .NotFollowedBy("not").Where(Is('c')).FollowedBy("end").Where(Is('d'));
        Assert.Empty(Run(p, "a1 b1 c b2 d"));
    }

    [Fact]
    public void NotFollowedBy_BeforeOptionalTimes_SkippedStageStillMatches()
    {
        var p = Pattern<E>.Begin("start").Where(Is('a')).NotFollowedBy("not").Where(Is('b'))
            .FollowedByAny("middle").Where(Is('c')).Times(2).Optional().FollowedBy("end").Where(Is('d'));
        Assert.Equal(["a1 d1"], Run(p, "a1 d1 e b1 c1 c2 d2"));
    }

    [Theory]
    [InlineData(false, false, new[] { "a1 b1 b4 b5 b6 d1", "a1 b1 b4 b5 d1", "a1 b1 b4 d1", "a1 b1 d1" })]
    [InlineData(true, false, new[] { "a1 b1 b4 b5 b6 d1", "a1 b1 b4 b5 d1", "a1 b1 b4 d1", "a1 b1 d1" })]
    [InlineData(false, true, new[] { "a1 b1 b4 b5 b6 d1", "a1 b1 b4 b6 d1", "a1 b1 b4 b5 d1", "a1 b1 b4 d1", "a1 b1 b5 b6 d1", "a1 b1 b5 d1", "a1 b1 b6 d1", "a1 b1 d1" })]
    public void NotFollowedBy_BeforeOneOrMore_OnlyTheFirstEntryIsGuarded(bool followedByAny, bool combinations, string[] expected)
    {
        var head = Pattern<E>.Begin("a").Where(Is('a')).NotFollowedBy("not c").Where(Is('c'));
        var loop = (followedByAny ? head.FollowedByAny("b*") : head.FollowedBy("b*")).Where(Is('b')).OneOrMore();
        var p = (combinations ? loop.AllowCombinations() : loop).FollowedBy("d").Where(Is('d'));
        Assert.Equal(expected.Order(), Run(p, "a1 b1 c1 b4 b5 b6 d1").Order());
    }

    [Fact]
    public void NotFollowedBy_AfterOneOrMoreCombinations_ForbiddenEventEndsTheEarlierLoops()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedByAny("b*").Where(Is('b')).OneOrMore().AllowCombinations()
            .NotFollowedBy("not c").Where(Is('c')).FollowedBy("d").Where(Is('d'));
        var expected = new[] { "a1 b4 b5 b6 d1", "a1 b4 b5 d1", "a1 b4 b6 d1", "a1 b4 d1", "a1 b5 b6 d1", "a1 b5 d1", "a1 b6 d1" };
        Assert.Equal(expected.Order(), Run(p, "a1 b1 b2 b3 c1 b4 b5 b6 d1").Order());
    }

    [Fact]
    public void NotFollowedBy_EventCompletesTheMatchAndIsForbidden_MatchStands()
    {
        // The forbidden event must come *between* the stages; one that completes the match is not in between.
        var p = Pattern<E>.Begin("a").Where(Is('a')).NotFollowedBy("not").Where(e => e.Value == 1).FollowedBy("b").Where(Is('b'));
        var matcher = p.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        matcher.Process(new E("a1", 1), 1, matches);
        matcher.Process(new E("b1", 2, Value: 1), 2, matches);
        Assert.Equal(["a1 b1"], matches.Select(Render));
    }

    // ---- NotFollowedBy at the end: the match completes when the window closes without the forbidden event ----

    private static readonly Pattern<E> ANotB = Pattern<E>.Begin("a").Where(Is('a')).NotFollowedBy("no b").Where(Is('b'))
        .Within(TimeSpan.FromMilliseconds(10));

    [Fact]
    public void TrailingNotFollowedBy_WindowClosesQuietly_MatchAtWatermark()
    {
        var matcher = ANotB.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        matcher.Process(new E("a1", 100), 100, matches, timeouts);
        matcher.Process(new E("x1", 103), 103, matches, timeouts);

        matcher.AdvanceTime(109, matches, timeouts);
        Assert.Empty(matches);

        matcher.AdvanceTime(110, matches, timeouts);
        Assert.Equal(["a1"], matches.Select(Render));
        Assert.Empty(timeouts);
        Assert.False(matcher.HasState);
    }

    [Fact]
    public void TrailingNotFollowedBy_ForbiddenEventInWindow_NoMatch()
    {
        Assert.Empty(Run(ANotB, "a1@100 x@103 b1@105", finalWatermark: 1000));
    }

    [Fact]
    public void TrailingNotFollowedBy_ForbiddenEventAtWindowEnd_TooLateToPrevent()
    {
        // The window is [start, start + 10): at 110 the match has already completed.
        Assert.Equal(["a1"], Run(ANotB, "a1@100 b1@110", finalWatermark: 1000));
    }

    [Fact]
    public void TrailingNotFollowedBy_LaterEventPassesWindow_CompletesWithoutWatermark()
    {
        Assert.Equal(["a1"], Run(ANotB, "a1@100 x@200"));
    }

    [Fact]
    public void TrailingNotFollowedBy_AfterLoop_SkipPastLastEvent_OneMatchPerBurst()
    {
        var p = Pattern<E>.Begin("fails").Where(Is('f')).TimesOrMore(2).NotFollowedBy("no success").Where(Is('s'))
            .Within(TimeSpan.FromMilliseconds(100));
        var options = Skip(AfterMatchSkip.SkipPastLastEvent);
        Assert.Equal(["f1 f2"], Run(p, "f1@0 f2@10 f3@20", options, finalWatermark: 1000));
        Assert.Empty(Run(p, "f1@0 f2@10 f3@20 s@30", options, finalWatermark: 1000));
    }
}
