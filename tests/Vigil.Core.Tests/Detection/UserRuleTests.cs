using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Detection;

public sealed class AccountTakeoverOperatorTests
{
    private readonly RuleDriver _d = new(() => new AccountTakeoverOperator(new AccountTakeoverOptions(), FakeGeo.World(), RuleDriver.Clock));

    /// <summary>Two earlier logins from Paris, so the account has history in FR.</summary>
    private void History() => _d.Feed(_d.Event(EventType.LoginSuccess, -7200, ip: "198.51.100.1"), _d.Event(EventType.LoginSuccess, -3600, ip: "198.51.100.2"));

    private List<Alert> Sequence(string ip, int failures, EventType change = EventType.EmailChanged, double changeAt = 600, string? changeIp = null)
    {
        var events = Enumerable.Range(0, failures).Select(i => _d.Event(EventType.LoginFailed, i * 10, ip: ip)).ToList();
        events.Add(_d.Event(EventType.LoginSuccess, 60, ip: ip, session: "s-x"));
        events.Add(_d.Event(change, changeAt, ip: changeIp ?? ip, session: changeIp is null ? "s-x" : "s-other"));
        return _d.Feed(events);
    }

    [Fact]
    public void Process_FailuresThenLoginFromNewCountryThenEmailChange_RaisesCritical()
    {
        History();

        var alert = Assert.Single(Sequence("203.0.113.90", 2));

        Assert.Equal(RuleNames.AccountTakeover, alert.Rule);
        Assert.Equal(Severity.Critical, alert.Severity);
        Assert.Equal(true, alert.Evidence["newCountry"]);
        Assert.Equal("JP", alert.Evidence["country"]);
        Assert.Equal(4, ((List<string>)alert.Evidence[Evidence.EventIds]!).Count);
        Assert.Contains("a country it never used (JP", alert.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_NewIpInAKnownCountry_RaisesNothing()
    {
        History();

        Assert.Empty(Sequence("198.51.100.3", 3));
    }

    [Fact]
    public void Process_ChangeAfterAnHour_RaisesNothing()
    {
        History();

        Assert.Empty(Sequence("203.0.113.90", 2, changeAt: 60 + 3601));
    }

    [Fact]
    public void Process_ChangeFromAnotherSessionAndIp_RaisesNothing()
    {
        History();

        Assert.Empty(Sequence("203.0.113.90", 2, changeIp: "198.51.100.1"));
    }

    [Fact]
    public void Process_OneFailure_RaisesNothing()
    {
        History();

        Assert.Empty(Sequence("203.0.113.90", 1));
    }

    [Fact]
    public void Process_NoHistoryTwoFailuresFromAResidentialBrowser_RaisesNothing() =>
        Assert.Empty(Sequence("203.0.113.90", 2));

    [Fact]
    public void Process_NoHistoryThreeFailures_RaisesCritical() =>
        Assert.Single(Sequence("203.0.113.90", 3, EventType.MfaChanged));

    [Fact]
    public void Process_NoHistoryTwoFailuresFromAHostingNetwork_RaisesCritical() =>
        Assert.Equal(true, Assert.Single(Sequence("192.0.2.80", 2)).Evidence["hostingNetwork"]);

    [Fact]
    public void Process_PasswordResetBetweenFailuresAndLogin_WithdrawsTheFailures()
    {
        var events = new List<UserEvent>
        {
            _d.Event(EventType.LoginFailed, 0, ip: "203.0.113.90"),
            _d.Event(EventType.LoginFailed, 10, ip: "203.0.113.90"),
            _d.Event(EventType.LoginFailed, 20, ip: "203.0.113.90"),
            _d.Event(EventType.PasswordResetRequested, 30, ip: "203.0.113.90"),
            _d.Event(EventType.PasswordChanged, 120, ip: "203.0.113.90"),
            _d.Event(EventType.LoginSuccess, 130, ip: "203.0.113.90", session: "s-1"),
            _d.Event(EventType.EmailChanged, 400, ip: "203.0.113.90", session: "s-1"),
        };

        Assert.Empty(_d.Feed(events));
    }

    [Fact]
    public void Restore_BetweenLoginAndChange_CompletesTheSequence()
    {
        History();
        _d.Feed(_d.Event(EventType.LoginFailed, 0, ip: "203.0.113.90"), _d.Event(EventType.LoginFailed, 5, ip: "203.0.113.90"),
            _d.Event(EventType.LoginSuccess, 20, ip: "203.0.113.90", session: "s-x"));
        _d.Restart();

        var alert = Assert.Single(_d.Feed(_d.Event(EventType.PasswordChanged, 300, ip: "203.0.113.90", session: "s-x")));

        Assert.Equal("PASSWORD_CHANGED", alert.Evidence["change"]);
    }
}

public sealed class GeoLoginOperatorTests
{
    private readonly RuleDriver _d = new(() => new GeoLoginOperator(new GeoLoginOptions(), FakeGeo.World(), RuleDriver.Clock));

    [Fact]
    public void Process_ParisThenNewYorkWithinAnHour_RaisesHighImpossibleTravel()
    {
        var alerts = _d.Feed(_d.Event(EventType.LoginSuccess, 0, ip: "198.51.100.1"), _d.Event(EventType.LoginSuccess, 3600, ip: "203.0.113.50"));

        var alert = Assert.Single(alerts);
        Assert.Equal(RuleNames.ImpossibleTravel, alert.Rule);
        Assert.Equal(Severity.High, alert.Severity);
        Assert.InRange((double)alert.Evidence["distanceKm"]!, 5800, 5900);
        Assert.InRange((double)alert.Evidence["speedKmh"]!, 5800, 5900);
        Assert.Contains("Paris, FR and New York, US 60 min apart", alert.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_ParisThenNewYorkTenHoursLater_RaisesNothing() =>
        Assert.Empty(_d.Feed(_d.Event(EventType.LoginSuccess, 0, ip: "198.51.100.1"), _d.Event(EventType.LoginSuccess, 36_000, ip: "203.0.113.50")));

    [Fact]
    public void Process_JumpWithinTheAccuracyRadii_IsIgnored()
    {
        var geo = new FakeGeo().Add("10.0.0.1", "FR", 48.0, 2.0).Add("10.0.0.2", "FR", 48.8, 2.0);
        var d = new RuleDriver(() => new GeoLoginOperator(new GeoLoginOptions(), geo, RuleDriver.Clock));

        // 89 km in one minute: far above 900 km/h, but within the two 50 km radii.
        Assert.Empty(d.Feed(d.Event(EventType.LoginSuccess, 0, ip: "10.0.0.1"), d.Event(EventType.LoginSuccess, 60, ip: "10.0.0.2")));
    }

    [Fact]
    public void Process_HostingNetworkAtOneEnd_DowngradesToLow() =>
        Assert.Equal(Severity.Low, Assert.Single(_d.Feed(_d.Event(EventType.LoginSuccess, 0, ip: "203.0.113.50"),
            _d.Event(EventType.LoginSuccess, 600, ip: "192.0.2.80"))).Severity);

    [Fact]
    public void Process_OutOfOrderLogin_IsComparedWithBothNeighbours()
    {
        var alerts = _d.Feed(_d.Event(EventType.LoginSuccess, 0, ip: "198.51.100.1"), _d.Event(EventType.LoginSuccess, 600, ip: "198.51.100.2"),
            _d.Event(EventType.LoginSuccess, 300, ip: "203.0.113.90"));

        Assert.Equal(2, alerts.Count(a => a.Rule == RuleNames.ImpossibleTravel));
    }

    [Fact]
    public void Process_NewCountryAfterLearning_RaisesLowNewCountry()
    {
        var alerts = _d.Feed(_d.Event(EventType.LoginSuccess, 0, ip: "198.51.100.1"), _d.Event(EventType.LoginSuccess, 100, ip: "198.51.100.2"),
            _d.Event(EventType.LoginSuccess, 200, ip: "198.51.100.1"), _d.Event(EventType.LoginSuccess, 90_000, ip: "203.0.113.90"));

        var alert = Assert.Single(alerts);
        Assert.Equal(RuleNames.NewCountry, alert.Rule);
        Assert.Equal(Severity.Low, alert.Severity);
        Assert.Equal(new List<string> { "FR" }, alert.Evidence["knownCountries"]);
    }

    [Fact]
    public void Process_NewCountryDuringLearning_RaisesNothing() =>
        Assert.Empty(_d.Feed(_d.Event(EventType.LoginSuccess, 0, ip: "198.51.100.1"), _d.Event(EventType.LoginSuccess, 90_000, ip: "203.0.113.90")));

    [Fact]
    public void Restore_BetweenLogins_StillSeesTheTravel()
    {
        _d.Feed(_d.Event(EventType.LoginSuccess, 0, ip: "198.51.100.1"));
        _d.Restart();

        Assert.Single(_d.Feed(_d.Event(EventType.LoginSuccess, 600, ip: "203.0.113.90")));
    }
}

public sealed class RapidActivityOperatorTests
{
    private readonly RuleDriver _d = new(() => new RapidActivityOperator(new RapidActivityOptions(), RuleDriver.Clock));

    [Fact]
    public void Process_121EventsInAMinute_RaisesMediumOnce()
    {
        var alerts = _d.Feed(Enumerable.Range(0, 300).Select(i => _d.Event(EventType.PageView, i * 0.45)));

        var alert = Assert.Single(alerts);
        Assert.Equal(RuleNames.RapidActivity, alert.Rule);
        Assert.Equal(Severity.Medium, alert.Severity);
        Assert.Equal("absolute", alert.Evidence["trigger"]);
        Assert.Equal(121, alert.Evidence["events"]);
    }

    [Fact]
    public void Process_120EventsInAMinute_RaisesNothing() =>
        Assert.Empty(_d.Feed(Enumerable.Range(0, 120).Select(i => _d.Event(EventType.PageView, i * 0.5))));

    [Fact]
    public void Process_FailedLogins_AreNotCounted() =>
        Assert.Empty(_d.Feed(Enumerable.Range(0, 200).Select(i => _d.Event(EventType.LoginFailed, i * 0.2))));

    [Fact]
    public void Process_TenTimesTheUsersBaseline_RaisesBaselineAlert()
    {
        // Twelve quiet minutes at 2 events a minute, then 40 events in one minute.
        var quiet = Enumerable.Range(0, 24).Select(i => _d.Event(EventType.PageView, i * 30));
        var burst = Enumerable.Range(0, 40).Select(i => _d.Event(EventType.Search, 781 + (i * 0.5)));

        var alert = Assert.Single(_d.Feed(quiet.Concat(burst)));

        Assert.Equal("baseline", alert.Evidence["trigger"]);
    }

    [Fact]
    public void Restore_MidBurst_ContinuesToTheSameAlert()
    {
        var reference = new RuleDriver(() => new RapidActivityOperator(new RapidActivityOptions(), RuleDriver.Clock));
        var events = Enumerable.Range(0, 150).Select(i => reference.Event(EventType.PageView, i * 0.4)).ToList();
        reference.Feed(events);

        _d.Feed(events.Take(70));
        _d.Restart();
        _d.Feed(events.Skip(70));

        Assert.Equal(RuleDriver.Describe(reference.Alerts), RuleDriver.Describe(_d.Alerts));
    }
}

public sealed class BehaviorAnomalyOperatorTests
{
    private const string Phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X)";
    private const string Laptop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0";

    private static RuleDriver Driver(BehaviorScorer? scorer = null) =>
        new(() => new BehaviorAnomalyOperator(new BehaviorAnomalyOptions { Scorer = scorer, Model = null }, FakeGeo.World(), RuleDriver.Clock));

    private static Dictionary<string, string> Amount(double a) => new() { ["amount"] = a.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    /// <summary>A session at <paramref name="start"/> seconds after 09:00 UTC with a login and searches.</summary>
    private static List<UserEvent> Session(RuleDriver d, double start, string agent, int searches, string session, string ip = "198.51.100.1") =>
        [d.Event(EventType.LoginSuccess, start, ip: ip, session: session, agent: agent),
         .. Enumerable.Range(0, searches).Select(i => d.Event(EventType.Search, start + 10 + (i * 30), ip: ip, session: session, agent: agent))];

    [Fact]
    public void Process_NightSpreeFromANewDevice_RaisesMedium()
    {
        var d = Driver();
        // Paris: 02:00 local solar time is about 01:50 UTC, 7 h 10 min before 09:00.
        var alerts = d.Feed(Session(d, -25_800, Phone, 40, "s-1"));

        var alert = Assert.Single(alerts);
        Assert.Equal(RuleNames.BehaviorAnomaly, alert.Rule);
        Assert.Equal(Severity.Medium, alert.Severity);
        Assert.Equal(true, alert.Evidence["unusualHour"]);
        Assert.Equal(true, alert.Evidence["newDevice"]);
        Assert.Equal("heuristic", alert.Evidence["scorer"]);
    }

    [Fact]
    public void Process_DaytimeSearchesFromAKnownDevice_RaiseNothing()
    {
        var d = Driver();
        d.Feed(Session(d, 0, Laptop, 2, "s-0"));

        Assert.Empty(d.Feed(Session(d, 3600, Laptop, 45, "s-1")));
    }

    [Fact]
    public void Process_FewNightSearchesFromANewDevice_RaiseNothing()
    {
        var d = Driver();

        Assert.Empty(d.Feed(Session(d, -25_800, Phone, 20, "s-1")));
    }

    [Fact]
    public void Process_FullSpendingBurstFromANewDeviceInDaytime_RaisesMedium()
    {
        var d = Driver();
        var events = new List<UserEvent> { d.Event(EventType.LoginSuccess, 0, ip: "198.51.100.1", session: "s-1", agent: Phone) };
        events.AddRange(Enumerable.Range(0, 3).Select(i => d.Event(EventType.Purchase, 60 + i, ip: "198.51.100.1", session: "s-1", agent: Phone, properties: Amount(900))));

        Assert.Single(d.Feed(events));
    }

    [Fact]
    public void Process_CustomScorer_IsTheHook()
    {
        var seen = new List<BehaviorFeatures>();
        var d = Driver((in BehaviorFeatures f) =>
        {
            seen.Add(f);
            return f.SearchesLastHour >= 2 ? 1.0 : 0.0;
        });

        var alert = Assert.Single(d.Feed(Session(d, 0, Laptop, 3, "s-1")));

        Assert.Equal("custom", alert.Evidence["scorer"]);
        Assert.Equal(3, seen.Count);
        Assert.Equal(2, seen[1].SearchesLastHour);
    }

    [Fact]
    public void Restore_MidSpree_ContinuesToTheSameAlert()
    {
        var reference = Driver();
        var events = Session(reference, -25_800, Phone, 40, "s-1");
        reference.Feed(events);
        var d = Driver();

        d.Feed(events.Take(15));
        d.Restart();
        d.Feed(events.Skip(15));

        Assert.Equal(RuleDriver.Describe(reference.Alerts), RuleDriver.Describe(d.Alerts));
    }
}

public sealed class ResetBombingOperatorTests
{
    private readonly RuleDriver _d = new(() => new ResetBombingOperator(new ResetBombingOptions(), RuleDriver.Clock));
    private int _n;

    private UserEvent Reset(double seconds, string kind = "PASSWORD_RESET") => NotificationEvents.ToEvent(new Notification
    {
        NotificationId = $"n-{_n++}",
        UserId = "u-1",
        Channel = NotificationChannel.Email,
        Kind = kind,
        TimestampMs = RuleDriver.T0.AddSeconds(seconds).ToUnixTimeMilliseconds(),
    });

    [Fact]
    public void Process_FiveResetsInFifteenMinutes_RaisesMedium()
    {
        var alert = Assert.Single(_d.Feed(Enumerable.Range(0, 8).Select(i => Reset(i * 120))));

        Assert.Equal(RuleNames.ResetBombing, alert.Rule);
        Assert.Equal(5, alert.Evidence["notifications"]);
        Assert.Equal(new List<string> { "EMAIL" }, alert.Evidence["channels"]);
    }

    [Fact]
    public void Process_FourResets_RaiseNothing() => Assert.Empty(_d.Feed(Enumerable.Range(0, 4).Select(i => Reset(i))));

    [Fact]
    public void Process_OtherNotificationKinds_AreIgnored() =>
        Assert.Empty(_d.Feed(Enumerable.Range(0, 10).Select(i => Reset(i, "ORDER_CONFIRMATION"))));

    [Fact]
    public void Process_FiveResetsOverMoreThanFifteenMinutes_RaiseNothing() =>
        Assert.Empty(_d.Feed(Enumerable.Range(0, 5).Select(i => Reset(i * 226))));

    [Fact]
    public void Restore_MidFlood_ContinuesToTheSameAlert()
    {
        _d.Feed(Reset(0), Reset(10), Reset(20));
        _d.Restart();

        Assert.Single(_d.Feed(Reset(30), Reset(40)));
    }
}
