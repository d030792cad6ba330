using System.Text.Json;
using Vigil.Server.Cli;

namespace Vigil.Server.Tests;

/// <summary>The shape and consistency of <c>vigil bench</c>'s reports; never their speed (that is what the bench is for).</summary>
public sealed class BenchCommandTests
{
    /// <summary>Runs <c>vigil bench</c> with <paramref name="args"/>, which must succeed, and parses its report.</summary>
    private static async Task<JsonDocument> ReportAsync(string[] args)
    {
        using var stdout = new StringWriter();
        var code = await BenchCommand.RunAsync(args, stdout, TextWriter.Null, CancellationToken.None);
        Assert.Equal(0, code);
        return JsonDocument.Parse(stdout.ToString());
    }

    [Fact]
    public async Task Core_SmallRun_ReportsEveryContenderWithConsistentRatios()
    {
        using var doc = await ReportAsync(["core", "--events", "20000", "--users", "2000", "--duration", "1h", "--runs", "1", "--warmups", "0"]);
        var root = doc.RootElement;
        Assert.Equal("core", root.GetProperty("bench").GetString());
        Assert.Equal(20000, root.GetProperty("workload").GetProperty("events").GetInt32());
        // Each round starts from the state four simulated days of the same users left (8 × the measured events).
        Assert.Equal(160000, root.GetProperty("workload").GetProperty("primeEvents").GetInt32());
        Assert.True(root.GetProperty("machine").GetProperty("processors").GetInt32() >= 1);

        var limit = Contender(root.GetProperty("jsonLimit"));
        var vigil = Contender(root.GetProperty("vigil"));
        var rx = Contender(root.GetProperty("rx"));
        var peerRules = Contender(root.GetProperty("vigilPeerRules"));
        Contender(root.GetProperty("breakdown").GetProperty("decodeOnly"));

        // Scanning tokens allocates nothing; the two decoders must allocate (strings, objects).
        Assert.True(root.GetProperty("jsonLimit").GetProperty("allocatedBytesPerEvent").GetDouble() < 1);
        Assert.True(root.GetProperty("vigil").GetProperty("allocatedBytesPerEvent").GetDouble() > 0);

        var ratios = root.GetProperty("ratios");
        Assert.Equal(vigil / limit, ratios.GetProperty("vigilToLimit").GetDouble(), 0.01);
        Assert.Equal(vigil / rx, ratios.GetProperty("vigilToRx").GetDouble(), 0.05);
        Assert.Equal(peerRules / rx, ratios.GetProperty("vigilPeerRulesToRx").GetDouble(), 0.05);

        // The vigil contender runs what serve runs (the rules file and the ML features at least; geo when the data is
        // there); the like-for-like contender runs the peer's two rules and nothing else, and sees the campaign too.
        var operators = root.GetProperty("workload").GetProperty("pipeline").GetProperty("operators").EnumerateArray()
            .Select(o => o.GetString()).ToList();
        Assert.Contains("declarative-rules", operators);
        Assert.Contains("USER_FEATURES", operators);
        Assert.Contains("BEHAVIOR_ANOMALY", operators);
        Assert.True(root.GetProperty("vigilPeerRules").GetProperty("alerts").GetInt64() > 0);
        Assert.True(root.GetProperty("vigilPeerRules").GetProperty("alerts").GetInt64() <= root.GetProperty("vigil").GetProperty("alerts").GetInt64());

        // The same traffic holds a brute-force campaign; both sides must see it, and every message must decode.
        Assert.True(root.GetProperty("vigil").GetProperty("alerts").GetInt64() > 0);
        Assert.Equal(0, root.GetProperty("vigil").GetProperty("deadLetters").GetInt64());
        Assert.True(root.GetProperty("rx").GetProperty("bruteForceAlerts").GetInt64() > 0);

        var goals = root.GetProperty("goals");
        foreach (var goal in new[] { "vigilEventsPerSecond", "vigilToLimit", "vigilToRx" })
        {
            var g = goals.GetProperty(goal);
            Assert.Equal(g.GetProperty("measured").GetDouble() >= g.GetProperty("goal").GetDouble(), g.GetProperty("met").GetBoolean());
        }
    }

    [Fact]
    public async Task Batch_TinyInput_VigilAndDuckDbAgreeUserByUser()
    {
        using var doc = await ReportAsync(["batch", "--events", "20000", "--users", "500", "--runs", "1"]);
        var root = doc.RootElement;
        Assert.Equal("batch", root.GetProperty("bench").GetString());
        Assert.Equal(20000, root.GetProperty("workload").GetProperty("events").GetInt32());
        var check = root.GetProperty("crossCheck");
        Assert.Equal(root.GetProperty("workload").GetProperty("users").GetInt32(), check.GetProperty("usersCompared").GetInt32());
        Assert.True(check.GetProperty("usersCompared").GetInt32() > 100);
        Assert.Equal(0, check.GetProperty("usersMismatched").GetInt32());
        var vigil = root.GetProperty("vigil").GetProperty("rowsPerSecond").GetDouble();
        var duck = root.GetProperty("duckdb").GetProperty("rowsPerSecond").GetDouble();
        Assert.True(vigil > 0 && duck > 0);
        Assert.Equal(vigil / duck, root.GetProperty("ratios").GetProperty("vigilToDuckDb").GetDouble(), 0.01);
    }

    [Fact]
    public void BatchCrossCheck_OneFeatureDiffers_CountsThatUser()
    {
        var features = new float[Core.Features.UserFeatures.Count];
        features[(int)Core.Features.UserFeature.Events] = 10;
        var changed = (float[])features.Clone();
        changed[(int)Core.Features.UserFeature.Logins] = 1;

        var check = Bench.BatchBench.CrossCheck(
            [new("u-1", features), new("u-2", features)],
            [new("u-1", features), new("u-2", changed)]);

        Assert.Equal(2, check["usersCompared"]!.GetValue<int>());
        Assert.Equal(1, check["usersMismatched"]!.GetValue<int>());
    }

    [Fact]
    public async Task Core_PrimeZero_StartsEveryRoundEmpty()
    {
        using var doc = await ReportAsync(["core", "--events", "2000", "--users", "100", "--runs", "1", "--warmups", "0", "--prime", "0"]);
        Assert.Equal(0, doc.RootElement.GetProperty("workload").GetProperty("primeEvents").GetInt32());
        Assert.Equal(0, doc.RootElement.GetProperty("vigil").GetProperty("deadLetters").GetInt64());
        Assert.True(doc.RootElement.GetProperty("vigil").GetProperty("eventsPerSecond").GetDouble() > 0);
    }

    [Fact]
    public async Task Core_Only_ReportsThatContenderAlone()
    {
        using var doc = await ReportAsync(["core", "--events", "2000", "--users", "100", "--runs", "1", "--warmups", "0", "--only", "vigil"]);
        Assert.True(doc.RootElement.TryGetProperty("vigil", out _));
        Assert.False(doc.RootElement.TryGetProperty("rx", out _));
        Assert.False(doc.RootElement.TryGetProperty("ratios", out _));
    }

    [Fact]
    public async Task Core_RuleCosts_ReportsEachRuleAndTheAlertsWithoutIt()
    {
        using var doc = await ReportAsync(["core", "--events", "20000", "--users", "300", "--duration", "2h", "--runs", "1", "--warmups", "0", "--rule-costs"]);
        var root = doc.RootElement;
        Assert.Equal("core-rule-costs", root.GetProperty("bench").GetString());
        // Primed like bench core: eight times the measured events by default.
        Assert.Equal(160_000, root.GetProperty("workload").GetProperty("primeEvents").GetInt32());
        Assert.True(root.GetProperty("engineNsPerEvent").GetDouble() > 0);
        var alerts = root.GetProperty("alerts").GetInt64();
        Assert.True(alerts > 0);
        var rules = root.GetProperty("rules");
        string[] names = ["ACCOUNT_TAKEOVER", "RAPID_ACTIVITY", "BEHAVIOR_ANOMALY", "RESET_BOMBING", "BRUTE_FORCE_IP", "PASSWORD_SPRAY",
            "CREDENTIAL_STUFFING", "GEO_LOGIN (IMPOSSIBLE_TRAVEL, NEW_COUNTRY)", "rules file", "USER_FEATURES"];
        Assert.Equal(names.Length, rules.EnumerateObject().Count());
        var fewer = 0;
        foreach (var name in names)
        {
            if (rules.GetProperty(name).ValueKind == JsonValueKind.String)
            {
                // Replaced by the shipped rules file's rule of that name.
                Assert.Contains(name, new[] { "BRUTE_FORCE_IP", "PASSWORD_SPRAY" });
                continue;
            }
            var without = rules.GetProperty(name).GetProperty("alertsWithout").GetInt64();
            Assert.InRange(without, 0, alerts);
            fewer += without < alerts ? 1 : 0;
        }
        // The simulator attacks with every kind, so leaving rules out loses alerts: the variants really differ.
        Assert.True(fewer >= 3, $"only {fewer} rules changed the alert count");
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("core", "--only", "flink")]
    [InlineData("core", "--events", "-5")]
    [InlineData("core", "--duration", "soon")]
    public async Task RunAsync_BadArguments_AreUsageErrors(params string[] args) =>
        await Assert.ThrowsAsync<UsageException>(() => BenchCommand.RunAsync(args, TextWriter.Null, TextWriter.Null, CancellationToken.None));

    private static double Contender(JsonElement contender)
    {
        var eps = contender.GetProperty("eventsPerSecond").GetDouble();
        Assert.True(eps > 0);
        Assert.Single(contender.GetProperty("runsEventsPerSecond").EnumerateArray());
        var latency = contender.GetProperty("latencyNs");
        Assert.True(latency.GetProperty("samples").GetInt32() > 0);
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("p99").GetDouble());
        return eps;
    }
}
