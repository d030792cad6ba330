using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Detection;

public sealed class BruteForceIpOperatorTests
{
    private readonly RuleDriver _d = new(() => new BruteForceIpOperator(new BruteForceIpOptions(), RuleDriver.Clock));

    private UserEvent Fail(double s, string user) => _d.Event(EventType.LoginFailed, s, user: user);

    [Fact]
    public void Process_EightFailuresFromOneIpOnManyAccounts_RaisesOneMediumAlert()
    {
        var alerts = _d.Feed(Enumerable.Range(0, 12).Select(i => Fail(i * 10, $"u-{i % 4}")));

        var alert = Assert.Single(alerts);
        Assert.Equal(RuleNames.BruteForceIp, alert.Rule);
        Assert.Equal(Severity.Medium, alert.Severity);
        Assert.Equal("203.0.113.7", alert.IpAddress);
        Assert.Equal(8, alert.Evidence["failures"]);
        Assert.Equal(4, alert.Evidence["distinctAccounts"]);
        Assert.Equal("ip:203.0.113.7", alert.Evidence[Evidence.Entity]);
        Assert.Contains("8 failed logins in 70 s from 203.0.113.7 against 4 accounts", alert.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_SevenFailures_RaisesNothing() =>
        Assert.Empty(_d.Feed(Enumerable.Range(0, 7).Select(i => Fail(i, "u-1"))));

    [Fact]
    public void Process_EightFailuresJustOverTheWindow_RaisesNothing() =>
        // 8 failures 120 s apart end to end: the first has left the (end − 120 s, end] window when the eighth arrives.
        Assert.Empty(_d.Feed(Enumerable.Range(0, 8).Select(i => Fail(i * 120.0 / 7, "u-1"))));

    [Fact]
    public void Process_OutOfOrderFailures_StillCounted()
    {
        var alert = Assert.Single(_d.Feed(new[] { 0, 50, 10, 40, 20, 30, 60, 5 }.Select(s => Fail(s, "u-1"))));

        Assert.Equal(RuleDriver.T0, alert.WindowStart);
    }

    [Fact]
    public void Process_SuccessFromTheIpAfterTheAlert_RaisesHigh()
    {
        _d.Feed(Enumerable.Range(0, 8).Select(i => Fail(i, "u-1")));

        var high = Assert.Single(_d.Feed(_d.Event(EventType.LoginSuccess, 300, user: "u-9")));

        Assert.Equal(Severity.High, high.Severity);
        Assert.Equal("u-9", high.Evidence["successUserId"]);
    }

    [Fact]
    public void Process_SuccessFromAnIpWithoutFailures_CreatesNoState()
    {
        var op = new BruteForceIpOperator(new BruteForceIpOptions(), RuleDriver.Clock);
        var d = new RuleDriver(() => op);

        d.Feed(d.Event(EventType.LoginSuccess, 0));

        Assert.Equal(0, op.State.Count);
    }

    [Fact]
    public void Restore_MidBurst_ContinuesToTheSameAlert()
    {
        var reference = new RuleDriver(() => new BruteForceIpOperator(new BruteForceIpOptions(), RuleDriver.Clock));
        var events = Enumerable.Range(0, 10).Select(i => reference.Event(EventType.LoginFailed, i, user: $"u-{i}")).ToList();
        reference.Feed(events);

        _d.Feed(events.Take(5));
        _d.Restart();
        _d.Feed(events.Skip(5));

        Assert.Equal(RuleDriver.Describe(reference.Alerts), RuleDriver.Describe(_d.Alerts));
        Assert.Single(_d.Alerts);
    }
}

public sealed class PasswordSprayOperatorTests
{
    private readonly RuleDriver _d = new(() => new PasswordSprayOperator(new PasswordSprayOptions(), RuleDriver.Clock));

    [Fact]
    public void Process_FifteenDistinctAccountsWithinThirtyMinutes_RaisesHigh()
    {
        var alerts = _d.Feed(Enumerable.Range(0, 15).Select(i => _d.Event(EventType.LoginFailed, i * 100, user: $"u-{i}")));

        var alert = Assert.Single(alerts);
        Assert.Equal(RuleNames.PasswordSpray, alert.Rule);
        Assert.Equal(Severity.High, alert.Severity);
        Assert.Equal(15, alert.Evidence["distinctAccounts"]);
        Assert.Contains("15 different accounts", alert.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_UnknownAccountNamesCountAsAccounts()
    {
        var events = Enumerable.Range(0, 15).Select(i => i % 2 == 0
            ? _d.Event(EventType.LoginFailed, i, user: $"u-{i}")
            : _d.Event(EventType.LoginFailed, i, user: null, username: $"guess{i}"));

        Assert.Single(_d.Feed(events));
    }

    [Fact]
    public void Process_ManyFailuresOnFourteenAccounts_RaisesNothing() =>
        Assert.Empty(_d.Feed(Enumerable.Range(0, 60).Select(i => _d.Event(EventType.LoginFailed, i, user: $"u-{i % 14}"))));

    [Fact]
    public void Process_FifteenAccountsSpreadOverMoreThanThirtyMinutes_RaisesNothing() =>
        Assert.Empty(_d.Feed(Enumerable.Range(0, 15).Select(i => _d.Event(EventType.LoginFailed, i * 130, user: $"u-{i}"))));

    [Fact]
    public void Restore_MidSpray_ContinuesToTheSameAlert()
    {
        var reference = new RuleDriver(() => new PasswordSprayOperator(new PasswordSprayOptions(), RuleDriver.Clock));
        var events = Enumerable.Range(0, 20).Select(i => reference.Event(EventType.LoginFailed, i * 30, user: $"u-{i}")).ToList();
        reference.Feed(events);

        _d.Feed(events.Take(10));
        _d.Restart();
        _d.Feed(events.Skip(10));

        Assert.Equal(RuleDriver.Describe(reference.Alerts), RuleDriver.Describe(_d.Alerts));
    }
}

public sealed class CredentialStuffingOperatorTests
{
    private readonly RuleDriver _d = new(() => new CredentialStuffingOperator(new CredentialStuffingOptions(), RuleDriver.Clock));

    /// <summary>n failures on distinct accounts from <paramref name="ips"/> addresses in turn, 10 s apart.</summary>
    private IEnumerable<UserEvent> Stuffing(int n, int ips, double start = 0) =>
        Enumerable.Range(0, n).Select(i => _d.Event(EventType.LoginFailed, start + (i * 10), user: $"v-{i}", ip: $"198.18.0.{i % ips}"));

    [Fact]
    public void Process_FifteenFailuresOnFifteenAccountsFromFiveIps_RaisesHigh()
    {
        var alert = Assert.Single(_d.Feed(Stuffing(15, 5)));

        Assert.Equal(RuleNames.CredentialStuffing, alert.Rule);
        Assert.Equal(Severity.High, alert.Severity);
        Assert.Null(alert.UserId);
        Assert.Equal("198.18.0.0", alert.IpAddress);
        Assert.Equal(5, alert.Evidence["distinctIps"]);
        Assert.Equal("tenant", alert.Evidence[Evidence.Entity]);
    }

    [Fact]
    public void Process_FourIps_RaisesNothing() => Assert.Empty(_d.Feed(Stuffing(30, 4)));

    [Fact]
    public void Process_FailuresResolvedByTheOwnersLogins_RaiseNothing()
    {
        var events = new List<UserEvent>();
        foreach (var e in Stuffing(20, 5))
        {
            events.Add(e);
            events.Add(_d.Event(EventType.LoginSuccess, (e.TimestampMs - RuleDriver.T0.ToUnixTimeMilliseconds()) / 1000.0 + 5, user: e.UserId, ip: e.IpAddress));
        }

        Assert.Empty(_d.Feed(events));
    }

    [Fact]
    public void Process_OneIpHoldingMostFailures_IsLeftToTheSprayRule()
    {
        // 16 failures from one address and 4 from four others: five IPs, but one holds 80 % of them.
        var events = Enumerable.Range(0, 20).Select(i => _d.Event(EventType.LoginFailed, i, user: $"v-{i}",
            ip: i < 16 ? "198.18.0.1" : $"198.18.1.{i}"));

        Assert.Empty(_d.Feed(events));
    }

    [Fact]
    public void Restore_MidCampaign_ContinuesToTheSameAlert()
    {
        var reference = new RuleDriver(() => new CredentialStuffingOperator(new CredentialStuffingOptions(), RuleDriver.Clock));
        var events = Enumerable.Range(0, 20).Select(i => reference.Event(EventType.LoginFailed, i * 10, user: $"v-{i}", ip: $"198.18.0.{i % 6}")).ToList();
        reference.Feed(events);

        _d.Feed(events.Take(9));
        _d.Restart();
        _d.Feed(events.Skip(9));

        Assert.Single(reference.Alerts);
        Assert.Equal(RuleDriver.Describe(reference.Alerts), RuleDriver.Describe(_d.Alerts));
    }
}
