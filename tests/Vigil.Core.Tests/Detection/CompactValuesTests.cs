using Vigil.Core.Events;
using Vigil.Core.Detection;

namespace Vigil.Core.Tests.Detection;

public sealed class CompactValuesTests
{
    [Theory]
    [InlineData("81.2.3.4")]
    [InlineData("0.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("010.1.1.1")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("256.1.1.1")]
    [InlineData("0.0.0.0")]
    [InlineData("2001:db8::1")]
    [InlineData("")]
    public void CompactIp_AnyText_PrintsBackTheSameText(string ip) => Assert.Equal(ip, CompactIp.From(ip).ToString());

    [Fact]
    public void CompactIp_Null_IsNone()
    {
        Assert.True(CompactIp.From(null).IsNone);
        Assert.Null(CompactIp.From(null).ToString());
    }

    [Theory]
    [InlineData("DE")]
    [InlineData("ZZ")]
    [InlineData("de")]
    [InlineData("Unknown")]
    public void CountryCodes_PackThenUnpack_SameCountry(string country)
    {
        var code = CountryCodes.Pack(country);
        Assert.NotEqual(0, code);
        Assert.Equal(country, CountryCodes.Unpack(code));
        Assert.Equal(code, CountryCodes.Pack(new string(country)));
    }
}

public sealed class IdleStateTests
{
    [Fact]
    public void RapidActivity_WindowAndLatenessPassed_RingReleasedBaselineKept()
    {
        var op = new RapidActivityOperator(new RapidActivityOptions(), RuleDriver.Clock);
        var d = new RuleDriver(() => op);
        d.Feed(d.Event(EventType.PageView, 0), d.Event(EventType.PageView, 1), d.Event(EventType.PageView, 61));
        Assert.True(op.State.TryGetValue("u-1", out var state));
        Assert.True(state.HoldsWindow);
        // An hour later (beyond the 1-minute window and the lateness an event may still arrive with) on another user.
        d.Feed(d.Event(EventType.PageView, 3_600, user: "u-2"));
        Assert.True(op.State.TryGetValue("u-1", out state));
        Assert.False(state.HoldsWindow);
        Assert.Equal(1, state.MinutesSeen);
    }

    [Fact]
    public void RapidActivity_RestoredWithAnOpenRing_RingStillReleased()
    {
        RapidActivityOperator? op = null;
        var d = new RuleDriver(() => op = new RapidActivityOperator(new RapidActivityOptions(), RuleDriver.Clock));
        d.Feed(d.Event(EventType.PageView, 0), d.Event(EventType.PageView, 1));

        d.Restart();
        Assert.True(op!.State.TryGetValue("u-1", out var restored));
        Assert.True(restored.HoldsWindow);
        d.Feed(d.Event(EventType.PageView, 3_600, user: "u-2"));

        Assert.True(op.State.TryGetValue("u-1", out var state));
        Assert.False(state.HoldsWindow);
    }

    [Fact]
    public void BruteForce_SuccessWithoutFailures_NoStateKept()
    {
        var op = new BruteForceOperator(new BruteForceOptions(), RuleDriver.Clock);
        var d = new RuleDriver(() => op);
        d.Feed(d.Event(EventType.LoginSuccess, 0));
        Assert.Equal(0, op.State.Count);
        d.Feed(d.Event(EventType.LoginFailed, 1), d.Event(EventType.LoginSuccess, 2));
        Assert.Equal(1, op.State.Count);
    }
}
