using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

public sealed class QuantifierTests
{
    [Fact]
    public void Times_Exact_RelaxedInside_SkipsOtherEvents()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Times(2);
        Assert.Equal(["a1 a2", "a2 a3"], Run(p, "a1 x a2 a3"));
    }

    [Fact]
    public void Times_Exact_Consecutive_OtherEventBreaksIt()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Times(2).Consecutive();
        Assert.Equal(["a2 a3"], Run(p, "a1 x a2 a3"));
    }

    [Fact]
    public void Times_Range_EmitsEachLengthInRange()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Times(2, 3);
        Assert.Equal(["a1 a2", "a1 a2 a3", "a2 a3"], Run(p, "a1 a2 a3"));
    }

    [Fact]
    public void Times_Range_FollowedBy_EachLengthWaitsForTheEnd()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Times(2, 3).FollowedBy("b").Where(Is('b'));
        Assert.Equal(["a1 a2 a3 b", "a1 a2 b", "a2 a3 b"], Run(p, "a1 a2 a3 b").Order());
    }

    [Fact]
    public void Times_Range_Greedy_NextStageSeesOnlyRefusedEvents()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Times(2, 3).Greedy().FollowedBy("b").Where(Is('b'));
        Assert.Equal(["a1 a2 a3 b", "a2 a3 b"], Run(p, "a1 a2 a3 b").Order());
    }

    [Fact]
    public void TimesOrMore_FollowedBy_EveryLengthFromTheMinimum()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).TimesOrMore(2).FollowedBy("b").Where(Is('b'));
        Assert.Equal(["a1 a2 a3 b", "a1 a2 b", "a2 a3 b"], Run(p, "a1 a2 a3 b").Order());
    }

    [Fact]
    public void TimesOrMore_Greedy_OnlyTheLongestPerStart()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).TimesOrMore(2).Greedy().FollowedBy("b").Where(Is('b'));
        Assert.Equal(["a1 a2 a3 b", "a2 a3 b"], Run(p, "a1 a2 a3 b").Order());
    }

    [Fact]
    public void OneOrMore_AtTheEnd_EmitsOnEveryAcceptedEvent()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b')).OneOrMore();
        Assert.Equal(["a b1", "a b1 b2"], Run(p, "a b1 x b2"));
    }

    [Fact]
    public void OneOrMore_WithFollowedByAny_BranchesOnEveryCandidate()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedByAny("b").Where(Is('b')).OneOrMore();
        // Every b may start the loop (followedByAny), and the loop itself is relaxed.
        Assert.Equal(["a b1", "a b1 b2", "a b2"], Run(p, "a b1 b2").Order());
    }

    [Fact]
    public void OneOrMore_Until_StopsTheLoop()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).OneOrMore().Until(Is('u')).FollowedBy("b").Where(Is('b'));
        // The stop event ends every loop: a1 a2 can still be followed by b, but a3 comes too late for them.
        var matches = Run(p, "a1 a2 u a3 b");
        Assert.Contains("a1 a2 b", matches);
        Assert.Contains("a3 b", matches);
        Assert.DoesNotContain("a1 a2 a3 b", matches);
    }

    [Fact]
    public void Optional_Middle_WithAndWithoutTheOptionalEvent()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b')).Optional().FollowedBy("c").Where(Is('c'));
        Assert.Equal(["a b c", "a c"], Run(p, "a b c").Order());
        Assert.Equal(["a c"], Run(p, "a x c"));
    }

    [Fact]
    public void Optional_AtTheEnd_EmitsBothTheShortAndTheLongMatch()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Next("b").Where(Is('b')).Optional();
        Assert.Equal(["a1", "a1 b"], Run(p, "a1 b"));
    }

    [Fact]
    public void Optional_First_PatternStartsAtTheSecondStage()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Optional().Next("b").Where(Is('b'));
        Assert.Equal(["a b1", "b1", "b2"], Run(p, "a b1 x b2"));
    }

    [Fact]
    public void Times_Optional_ZeroOrExactlyN()
    {
        var p = Pattern<E>.Begin("s").Where(Is('s')).FollowedBy("a").Where(Is('a')).Times(2).Optional().FollowedBy("e").Where(Is('e'));
        Assert.Equal(["s a1 a2 e", "s e"], Run(p, "s a1 a2 e").Order());
        Assert.Equal(["s e"], Run(p, "s a1 e"));
    }

    [Fact]
    public void Or_EitherConditionAccepts()
    {
        var p = Pattern<E>.Begin("ab").Where(Is('a')).Or(Is('b')).Next("c").Where(Is('c'));
        Assert.Equal(["a c1", "b c2"], Run(p, "a c1 b c2"));
    }

    [Fact]
    public void Where_Twice_BothMustHold()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).Where(e => e.Name.EndsWith('2'));
        Assert.Equal(["a2"], Run(p, "a1 a2 b2"));
    }
}
