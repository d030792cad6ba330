using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Events;
using Vigil.Core.Processing;
using Vigil.Core.Rules;
using Vigil.Core.Tests.Detection;

namespace Vigil.Core.Tests.Rules;

public sealed class DeclarativeRulesTests
{
    private const string Header = "version: 1\nfilters:\n  failed: { eventType: LOGIN_FAILED }\n  success: { eventType: LOGIN_SUCCESS }\n  email: { eventType: EMAIL_CHANGED }\nrules:\n";

    private const string FiveFailures = """
          - id: five
            name: FIVE_FAILURES
            type: event_count
            filter: { eventType: LOGIN_FAILED }
            group-by: [userId]
            timespan: 2m
            condition: { gte: 5 }
            severity: MEDIUM
            summary: "{count} failures of {userId} in {seconds} s"
            followed-by: { filter: success, within: 10m, severity: HIGH, summary: "{previousCount} failures, then a success from {ipAddress}" }

        """;

    private const string Other = """
          - id: other
            name: OTHER_RULE
            type: event_count
            filter: { eventType: SEARCH }
            group-by: [userId]
            timespan: 1m
            condition: { gte: 100 }
            severity: LOW
            summary: "{count}"

        """;

    private static RuleSet Parse(string rules)
    {
        var result = RuleFileParser.Parse(Header + rules);
        Assert.True(result.Ok, result.Message());
        return result.Rules!;
    }

    private static (RuleDriver Driver, Func<DeclarativeRulesOperator> Op) Driver(RuleSetSource source)
    {
        DeclarativeRulesOperator? current = null;
        var driver = new RuleDriver(() => current = new DeclarativeRulesOperator(source.Current, _ => true, RuleDriver.Clock));
        return (driver, () => current!);
    }

    [Fact]
    public void EventCount_FifthFailureWithinWindow_FiresOnceWithEvidence()
    {
        var (d, _) = Driver(new RuleSetSource(Parse(FiveFailures)));

        var alerts = d.Feed(Enumerable.Range(0, 7).Select(i => d.Event(EventType.LoginFailed, i * 10)));

        var alert = Assert.Single(alerts);
        Assert.Equal("FIVE_FAILURES", alert.Rule);
        Assert.Equal(Severity.Medium, alert.Severity);
        Assert.Equal(Alert.MakeId("FIVE_FAILURES", "u-1", "e-4"), alert.AlertId);
        Assert.Equal("5 failures of u-1 in 40 s", alert.Summary);
        Assert.Equal(new[] { "e-0", "e-1", "e-2", "e-3", "e-4" }, (IEnumerable<string>)alert.Evidence[Evidence.EventIds]!);
        Assert.Equal("user:u-1", alert.Evidence[Evidence.Entity]);
        Assert.Equal(5L, alert.Evidence["count"]);
    }

    [Fact]
    public void EventCount_WindowExpires_OldFailuresDoNotCount()
    {
        var (d, _) = Driver(new RuleSetSource(Parse(FiveFailures)));

        // Four failures, then four more after the 2-minute window has passed the first ones: never five in 2 min.
        var alerts = d.Feed(Enumerable.Range(0, 4).Select(i => d.Event(EventType.LoginFailed, i))
            .Concat(Enumerable.Range(0, 4).Select(i => d.Event(EventType.LoginFailed, 200 + i))));

        Assert.Empty(alerts);
    }

    [Fact]
    public void EventCount_SuccessAfterAlert_EscalatesOnceToHigh()
    {
        var (d, _) = Driver(new RuleSetSource(Parse(FiveFailures)));
        d.Feed(Enumerable.Range(0, 5).Select(i => d.Event(EventType.LoginFailed, i)));

        var alerts = d.Feed(d.Event(EventType.LoginSuccess, 60, ip: "198.51.100.9"), d.Event(EventType.LoginSuccess, 70));

        var high = Assert.Single(alerts);
        Assert.Equal(Severity.High, high.Severity);
        Assert.Equal("5 failures, then a success from 198.51.100.9", high.Summary);
    }

    [Fact]
    public void ValueCount_DistinctAccounts_RepeatsDoNotCount()
    {
        var (d, _) = Driver(new RuleSetSource(Parse("""
              - id: spray
                name: SPRAY
                type: value_count
                filter: failed
                group-by: [ipAddress]
                timespan: 30m
                condition: { field: account, gte: 3 }
                severity: HIGH
                summary: "{ipAddress}: {distinct} accounts"

            """)));

        var repeats = d.Feed(d.Event(EventType.LoginFailed, 0, "a"), d.Event(EventType.LoginFailed, 1, "a"), d.Event(EventType.LoginFailed, 2, "b"),
            d.Event(EventType.LoginFailed, 3, "b"));
        var third = d.Feed(d.Event(EventType.LoginFailed, 4, user: null, username: "admin"));

        Assert.Empty(repeats);
        var alert = Assert.Single(third);
        Assert.Equal("203.0.113.7: 3 accounts", alert.Summary);
        Assert.Equal(new[] { "a", "b", "admin" }, (IEnumerable<string>)alert.Evidence["values"]!);
        Assert.Equal("ip:203.0.113.7", alert.Evidence[Evidence.Entity]);
    }

    [Fact]
    public void EventCount_FilterWithContains_CountsOnlyMatchingAgents()
    {
        var (d, _) = Driver(new RuleSetSource(Parse("""
              - id: bots
                name: BOTS
                type: event_count
                filter: { eventType: LOGIN_FAILED, userAgent|contains: [python, curl] }
                group-by: [ipAddress, userId]
                timespan: 1m
                condition: { gt: 1 }
                severity: LOW
                summary: "{group}"

            """)));

        var alerts = d.Feed(d.Event(EventType.LoginFailed, 0, agent: "Mozilla/5.0"), d.Event(EventType.LoginFailed, 1, agent: "python-requests/2.31"),
            d.Event(EventType.LoginFailed, 2, agent: "Mozilla/5.0"), d.Event(EventType.LoginFailed, 3, agent: "CURL/8"));

        var alert = Assert.Single(alerts);
        Assert.Equal("e-3", ((IEnumerable<string>)alert.Evidence[Evidence.EventIds]!).Last());
        Assert.Equal("u-1|203.0.113.7".Length, alert.Summary.Length);
    }

    [Fact]
    public void Temporal_AllStepsInAnyOrder_FiresWithinTimespanOnly()
    {
        var (d, _) = Driver(new RuleSetSource(Parse("""
              - id: t
                name: TRIAD
                type: temporal
                rules: [failed, success, email]
                group-by: userId
                timespan: 10m
                severity: MEDIUM
                summary: "{steps} in {seconds} s"

            """)));

        var late = d.Feed(d.Event(EventType.EmailChanged, 0), d.Event(EventType.LoginSuccess, 200), d.Event(EventType.LoginFailed, 700));
        var inTime = d.Feed(d.Event(EventType.EmailChanged, 720));

        Assert.Empty(late);
        var alert = Assert.Single(inTime);
        Assert.Equal("failed, success, email in 520 s", alert.Summary);
    }

    [Fact]
    public void TemporalOrdered_OnCep_FiresInOrderOnly()
    {
        var source = new RuleSetSource(Parse("""
              - id: seq
                name: SEQ
                type: temporal_ordered
                rules: [{ filter: failed, min: 2 }, success, email]
                group-by: [userId]
                timespan: 1h
                severity: LOW
                summary: "{steps} ({count} events)"

            """));
        var (d, _) = Driver(source);

        var wrongOrder = d.Feed(d.Event(EventType.LoginFailed, 0, "u-2"), d.Event(EventType.LoginSuccess, 1, "u-2"), d.Event(EventType.LoginFailed, 2, "u-2"),
            d.Event(EventType.EmailChanged, 3, "u-2"));
        var inOrder = d.Feed(d.Event(EventType.LoginFailed, 10), d.Event(EventType.LoginFailed, 20), d.Event(EventType.LoginSuccess, 30),
            d.Event(EventType.EmailChanged, 40));
        var expired = d.Feed(d.Event(EventType.LoginFailed, 100, "u-3"), d.Event(EventType.LoginFailed, 110, "u-3"),
            d.Event(EventType.LoginSuccess, 120, "u-3"), d.Event(EventType.EmailChanged, 4000, "u-3"));

        Assert.Empty(wrongOrder);
        var alert = Assert.Single(inOrder);
        Assert.Equal("failed → success → email (4 events)", alert.Summary);
        Assert.Equal(Alert.MakeId("SEQ", "u-1", "e-7"), alert.AlertId);
        Assert.Empty(expired);
    }

    [Fact]
    public void Apply_UnrelatedRuleEdited_KeepsStateOfUnchangedRule()
    {
        var source = new RuleSetSource(Parse(FiveFailures + Other));
        var (d, op) = Driver(source);
        d.Feed(Enumerable.Range(0, 4).Select(i => d.Event(EventType.LoginFailed, i)));

        var swap = op().Apply(Parse(FiveFailures + Other.Replace("gte: 100", "gte: 50", StringComparison.Ordinal)));
        var fifth = d.Feed(d.Event(EventType.LoginFailed, 5));

        Assert.Equal(new RuleSwap(1, 1, 1), swap);
        Assert.Equal("FIVE_FAILURES", Assert.Single(fifth).Rule);
    }

    [Fact]
    public void Apply_EditedRule_StartsEmpty()
    {
        var (d, op) = Driver(new RuleSetSource(Parse(FiveFailures)));
        d.Feed(Enumerable.Range(0, 4).Select(i => d.Event(EventType.LoginFailed, i)));

        op().Apply(Parse(FiveFailures.Replace("timespan: 2m", "timespan: 3m", StringComparison.Ordinal)));
        var fifth = d.Feed(d.Event(EventType.LoginFailed, 5));

        Assert.Empty(fifth);
    }

    [Fact]
    public void Restore_ChangedRule_DropsOnlyThatRulesState()
    {
        var seqRule = """
              - id: seq
                name: SEQ
                type: temporal_ordered
                rules: [failed, success]
                group-by: [userId]
                timespan: 1h
                severity: LOW
                summary: "{steps}"

            """;
        var source = new RuleSetSource(Parse(FiveFailures + seqRule));
        var (d, op) = Driver(source);
        d.Feed(Enumerable.Range(0, 4).Select(i => d.Event(EventType.LoginFailed, i)));

        // The sequence rule changes while the job is down: its partial match is dropped, the count survives.
        source.Publish(Parse(FiveFailures + seqRule.Replace("timespan: 1h", "timespan: 2h", StringComparison.Ordinal)));
        d.Restart();
        var after = d.Feed(d.Event(EventType.LoginFailed, 5), d.Event(EventType.LoginSuccess, 6));

        Assert.Equal(1, op().DroppedOnRestore);
        Assert.Equal(["FIVE_FAILURES", "FIVE_FAILURES", "SEQ"], after.Select(a => a.Rule));
        Assert.Equal(Severity.High, after[1].Severity);
        Assert.Equal(["e-4", "e-5"], (IEnumerable<string>)after[2].Evidence[Evidence.EventIds]!);
    }

    [Fact]
    public void Snapshot_RestoreAndContinue_GivesTheSameAlertsAsAnUninterruptedRun()
    {
        var rules = Parse(FiveFailures + Other);
        List<string> Run(bool restart)
        {
            var (d, _) = Driver(new RuleSetSource(rules));
            for (var i = 0; i < 40; i++)
            {
                d.Feed(d.Event(i % 7 == 6 ? EventType.LoginSuccess : EventType.LoginFailed, i * 5, user: "u-" + (i % 3)));
                if (restart && i % 9 == 4)
                {
                    d.Restart();
                }
            }
            return RuleDriver.Describe(d.Alerts);
        }

        var straight = Run(false);

        Assert.NotEmpty(straight);
        Assert.Equal(straight, Run(true));
    }

    [Fact]
    public void Pipeline_DeclarativeRuleNamedLikeBuiltIn_ReplacesIt_AndTickSwapsRules()
    {
        var bfIp = Header + """
              - id: bf-ip
                name: BRUTE_FORCE_IP
                type: event_count
                filter: failed
                group-by: [ipAddress]
                timespan: 120s
                condition: { gte: 8 }
                severity: MEDIUM
                summary: "{count}"
                suppression: none

            """;
        var source = new RuleSetSource(RuleFileParser.Parse(bfIp).Rules!);
        var pipeline = new DetectionPipeline(new PipelineOptions { Rules = source }, RuleDriver.Clock);
        var alerts = new List<Alert>();
        var t0 = RuleDriver.T0.ToUnixTimeMilliseconds();
        UserEvent Failed(int i) => new() { EventId = "f-" + i, Type = EventType.LoginFailed, TimestampMs = t0 + (i * 1000), UserId = "u-" + i, IpAddress = "192.0.2.9" };

        for (var i = 0; i < 8; i++)
        {
            pipeline.ProcessDecoded(0, i, Failed(i), alerts);
        }
        var first = alerts.Count(a => a.Rule == "BRUTE_FORCE_IP");
        source.Publish(RuleFileParser.Parse(bfIp.Replace("gte: 8", "gte: 2", StringComparison.Ordinal)).Rules!);
        pipeline.Tick(alerts);
        alerts.Clear();
        pipeline.ProcessDecoded(0, 100, Failed(100) with { IpAddress = "192.0.2.10" }, alerts);
        pipeline.ProcessDecoded(0, 101, Failed(101) with { IpAddress = "192.0.2.10" }, alerts);

        Assert.Equal(1, first);
        Assert.Same(source.Current, pipeline.DeclarativeRules!.Rules);
        Assert.Equal("2", Assert.Single(alerts, a => a.Rule == "BRUTE_FORCE_IP").Summary);
    }
}
