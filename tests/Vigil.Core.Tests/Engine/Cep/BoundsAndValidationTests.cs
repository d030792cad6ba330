using Vigil.Core.Engine.Cep;
using static Vigil.Core.Tests.Engine.Cep.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

public sealed class BoundsAndValidationTests
{
    [Fact]
    public void MaxPartialMatches_Exceeded_OldestDroppedAndCounted()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedBy("b").Where(Is('b'));
        var matcher = p.Compile(new PatternOptions { MaxPartialMatches = 3 }).CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        foreach (var e in Stream("a1 a2 a3 a4 a5 b"))
        {
            matcher.Process(e, e.Ts, matches);
            Assert.True(matcher.PartialMatchCount <= 3);
        }
        Assert.Equal(2, matcher.DroppedPartialMatches);
        // The newest three survive.
        Assert.Equal(["a3 b", "a4 b", "a5 b"], matches.Select(Render));
    }

    [Fact]
    public void MaxPartialMatches_ExplosivePattern_StaysBounded()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedByAny("b").Where(Is('b')).OneOrMore().AllowCombinations()
            .FollowedBy("c").Where(Is('c'));
        var matcher = p.Compile(new PatternOptions { MaxPartialMatches = 50 }).CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        for (var i = 0; i < 200; i++)
        {
            var e = new E(i % 3 == 0 ? "a" : "b", i);
            matcher.Process(e, e.Ts, matches);
            Assert.True(matcher.PartialMatchCount <= 50);
        }
        Assert.True(matcher.DroppedPartialMatches > 0);
    }

    [Fact]
    public void MaxEventsPerMatch_LongLoop_DroppedAndCounted()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).OneOrMore().Consecutive().Next("b").Where(Is('b'));
        var matcher = p.Compile(new PatternOptions { MaxEventsPerMatch = 3 }).CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        foreach (var e in Stream("a1 a2 a3 a4 b"))
        {
            matcher.Process(e, e.Ts, matches);
        }
        Assert.Equal(["a3 a4 b", "a4 b"], matches.Select(Render));
        Assert.True(matcher.DroppedPartialMatches >= 1);
    }

    [Fact]
    public void Matcher_AfterMatchesAndExpiry_ReleasesEveryNode()
    {
        var p = Pattern<E>.Begin("a").Where(Is('a')).FollowedByAny("b").Where(Is('b')).OneOrMore()
            .FollowedBy("c").Where(Is('c')).Within(TimeSpan.FromMilliseconds(100));
        var matcher = p.Compile().CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        foreach (var e in Stream("a b1 d1 b2 d2 b3 c a b4"))
        {
            matcher.Process(e, e.Ts, matches);
        }
        Assert.True(matcher.BufferedEventNodes > 0);
        matcher.AdvanceTime(1_000, matches);
        Assert.False(matcher.HasState);
        Assert.Equal(0, matcher.BufferedEventNodes);
    }

    public static TheoryData<string, Func<Pattern<E>>> Malformed => new()
    {
        { "duplicate name", () => Pattern<E>.Begin("a").FollowedBy("a") },
        { "two quantifiers", () => Pattern<E>.Begin("a").Times(2).OneOrMore() },
        { "quantifier on negative", () => Pattern<E>.Begin("a").NotFollowedBy("n").OneOrMore().FollowedBy("b") },
        { "negative after optional", () => Pattern<E>.Begin("a").FollowedBy("o").Optional().NotNext("n").FollowedBy("b") },
        { "trailing NotFollowedBy without Within", () => Pattern<E>.Begin("a").NotFollowedBy("n") },
        { "greedy singleton", () => Pattern<E>.Begin("a").Greedy() },
        { "consecutive singleton", () => Pattern<E>.Begin("a").Consecutive() },
        { "until singleton", () => Pattern<E>.Begin("a").Until(_ => true) },
        { "all optional", () => Pattern<E>.Begin("a").Optional() },
        { "two negatives in a row", () => Pattern<E>.Begin("a").NotNext("n").NotFollowedBy("m").FollowedBy("b") },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Compile_MalformedPattern_Throws(string why, Func<Pattern<E>> build)
    {
        Assert.False(string.IsNullOrEmpty(why));
        Assert.Throws<ArgumentException>(() => build().Compile());
    }

    [Fact]
    public void Quantifier_BadRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Pattern<E>.Begin("a").Times(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pattern<E>.Begin("a").Times(3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pattern<E>.Begin("a").Within(TimeSpan.Zero));
    }

    [Fact]
    public void Compile_SkipToUnknownStage_Throws()
    {
        var p = Pattern<E>.Begin("a").FollowedBy("b");
        Assert.Throws<ArgumentException>(() => p.Compile(Skip(AfterMatchSkip.SkipToLast("zzz"))));
        Assert.Throws<ArgumentException>(() => p.Compile(new PatternOptions { MaxPartialMatches = 0 }));
    }

    [Fact]
    public void Pattern_IsImmutable_PrefixCanBeShared()
    {
        var prefix = Pattern<E>.Begin("a").Where(Is('a'));
        var toB = prefix.Next("b").Where(Is('b'));
        var toC = prefix.Next("c").Where(Is('c'));
        Assert.Equal(["a", "b"], toB.Compile().StageNames);
        Assert.Equal(["a", "c"], toC.Compile().StageNames);
        Assert.Equal(["a c"], Run(toC, "a c"));
        Assert.Empty(Run(toB, "a c"));
    }
}
