using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

/// <summary>The contiguity examples of the FlinkCEP documentation, with the match sets it lists.</summary>
public sealed class ContiguityTests
{
    private static Pattern<E> AB(Func<Pattern<E>, string, Pattern<E>> join) =>
        join(Pattern<E>.Begin("a").Where(Is('a')), "b").Where(Is('b'));

    [Fact]
    public void Next_NonMatchingEventInBetween_NoMatch()
    {
        Assert.Empty(Run(AB((p, n) => p.Next(n)), "a c b1 b2"));
    }

    [Fact]
    public void Next_DirectlyFollowing_Matches()
    {
        Assert.Equal(["a b1"], Run(AB((p, n) => p.Next(n)), "a b1 b2"));
    }

    [Fact]
    public void FollowedBy_SkipsNonMatching_TakesFirstMatchOnly()
    {
        Assert.Equal(["a b1"], Run(AB((p, n) => p.FollowedBy(n)), "a c b1 b2"));
    }

    [Fact]
    public void FollowedByAny_EveryLaterMatchingEvent_StartsAnAlternative()
    {
        Assert.Equal(["a b1", "a b2"], Run(AB((p, n) => p.FollowedByAny(n)), "a c b1 b2"));
    }

    // "a b+ c" over "a b1 d1 b2 d2 b3 c": a is followed by any sequence of b's; the contiguity under test is the one
    // inside the loop and before c.
    private const string LoopInput = "a b1 d1 b2 d2 b3 c";

    [Fact]
    public void Loop_StrictContiguity_OnlyUnbrokenRun()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a'))
            .FollowedByAny("b").Where(Is('b')).OneOrMore().Consecutive()
            .Next("c").Where(Is('c'));
        Assert.Equal(["a b3 c"], Run(p, LoopInput));
    }

    [Fact]
    public void Loop_RelaxedContiguity_IgnoresEventsInBetween()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a'))
            .FollowedByAny("b").Where(Is('b')).OneOrMore()
            .FollowedBy("c").Where(Is('c'));
        var expected = new[] { "a b1 c", "a b1 b2 c", "a b1 b2 b3 c", "a b2 c", "a b2 b3 c", "a b3 c" };
        Assert.Equal(expected.Order(), Run(p, LoopInput).Order());
    }

    [Fact]
    public void Loop_NonDeterministicContiguity_AlsoSkipsMatchingEvents()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a'))
            .FollowedByAny("b").Where(Is('b')).OneOrMore().AllowCombinations()
            .FollowedBy("c").Where(Is('c'));
        var expected = new[] { "a b1 c", "a b1 b2 c", "a b1 b3 c", "a b1 b2 b3 c", "a b2 c", "a b2 b3 c", "a b3 c" };
        Assert.Equal(expected.Order(), Run(p, LoopInput).Order());
    }

    private static Pattern<E> CAB(Func<Pattern<E>, Pattern<E>> inner) =>
        inner(Pattern<E>.Begin("start").Where(Is('c'))
            .FollowedBy("middle").Where(Is('a')).OneOrMore())
        .FollowedBy("end").Where(Is('b'));

    [Fact]
    public void Consecutive_DocumentationExample_StopsAtTheBreak()
    {
        var expected = new[] { "c a1 b", "c a1 a2 b", "c a1 a2 a3 b" };
        Assert.Equal(expected.Order(), Run(CAB(p => p.Consecutive()), "c d a1 a2 a3 d a4 b").Order());
    }

    [Fact]
    public void Loop_WithoutConsecutive_DocumentationExample_ContinuesPastTheBreak()
    {
        var expected = new[] { "c a1 b", "c a1 a2 b", "c a1 a2 a3 b", "c a1 a2 a3 a4 b" };
        Assert.Equal(expected.Order(), Run(CAB(p => p), "c d a1 a2 a3 d a4 b").Order());
    }

    [Fact]
    public void AllowCombinations_AfterFollowedBy_EverySubsetOfTheRunFromTheFirstA()
    {
        // The FlinkCEP page lists fifteen matches here, including ones starting at a2; its own NFA (and its
        // NotPatternITCase) only start the loop at the first a after a followedBy, which is what this asserts.
        var expected = new[]
        {
            "c a1 b", "c a1 a2 b", "c a1 a3 b", "c a1 a4 b", "c a1 a2 a3 b", "c a1 a2 a4 b", "c a1 a3 a4 b", "c a1 a2 a3 a4 b",
        };
        Assert.Equal(expected.Order(), Run(CAB(p => p.AllowCombinations()), "c d a1 a2 a3 d a4 b").Order());
    }

    [Fact]
    public void AllowCombinations_AfterFollowedByAny_AlsoStartsAtLaterEvents()
    {
        var p = Pattern<E>.Begin("start").Where(Is('c'))
            .FollowedByAny("middle").Where(Is('a')).OneOrMore().AllowCombinations()
            .FollowedBy("end").Where(Is('b'));
        var expected = new[]
        {
            "c a1 b", "c a1 a2 b", "c a1 a3 b", "c a1 a4 b", "c a1 a2 a3 b", "c a1 a2 a4 b", "c a1 a3 a4 b",
            "c a1 a2 a3 a4 b", "c a2 b", "c a2 a3 b", "c a2 a4 b", "c a2 a3 a4 b", "c a3 b", "c a3 a4 b", "c a4 b",
        };
        Assert.Equal(expected.Order(), Run(p, "c d a1 a2 a3 d a4 b").Order());
    }

    [Fact]
    public void Matches_OfOneEvent_AreEmittedInOrderOfFirstEvent()
    {
        var p = Pattern<E>.Begin("b").Where(Is('b')).OneOrMore().Next("c").Where(Is('c'));
        Assert.Equal(["b1 b2 b3 c", "b2 b3 c", "b3 c"], Run(p, "b1 b2 b3 c"));
    }
}
