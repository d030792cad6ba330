using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Events;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Detection;

public sealed class BehaviorModelTests
{
    private const string Laptop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0";
    private const string Phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X)";

    /// <summary>Ordinary behaviour vectors: little beyond one's own habits, a known device, an hour of some habit.</summary>
    private static float[] Ordinary(int rows, int seed)
    {
        var rng = new Random(seed);
        var data = new float[rows * BehaviorModel.FeatureCount];
        for (var r = 0; r < rows; r++)
        {
            var row = data.AsSpan(r * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount);
            row[0] = rng.NextDouble() < 0.1 ? (float)(rng.NextDouble() * 0.5) : 0;
            row[1] = rng.NextDouble() < 0.05 ? (float)(rng.NextDouble() * 0.4) : 0;
            row[2] = rng.NextDouble() < 0.05 ? (float)(rng.NextDouble() * 1.5) : 0;
            row[3] = rng.NextDouble() < 0.01 ? 1 : 0;
            row[4] = (float)(0.5 + (rng.NextDouble() * 0.4));
        }
        return data;
    }

    private static RuleDriver Driver(BehaviorAnomalyOptions options) =>
        new(() => new BehaviorAnomalyOperator(options, FakeGeo.World(), RuleDriver.Clock));

    /// <summary>Daytime sessions from the laptop, one a day at 09:00 UTC (about 09:10 solar in Paris), two searches each.</summary>
    private static List<UserEvent> Habit(RuleDriver d, int days, string user)
    {
        var events = new List<UserEvent>();
        for (var day = 0; day < days; day++)
        {
            var start = (day - days) * 86_400.0;
            var session = $"{user}-h{day}";
            events.Add(d.Event(EventType.LoginSuccess, start, user: user, ip: "198.51.100.1", session: session, agent: Laptop));
            events.Add(d.Event(EventType.Search, start + 30, user: user, ip: "198.51.100.1", session: session, agent: Laptop));
            events.Add(d.Event(EventType.Search, start + 90, user: user, ip: "198.51.100.1", session: session, agent: Laptop));
        }
        return events;
    }

    /// <summary>At 02:00 solar time in Paris, from a phone never used: 40 searches and 5 purchases of 700.</summary>
    private static List<UserEvent> NightSpree(RuleDriver d, string user)
    {
        const double start = -25_800;
        var events = new List<UserEvent> { d.Event(EventType.LoginSuccess, start, user: user, ip: "198.51.100.1", session: user + "-x", agent: Phone) };
        for (var i = 0; i < 40; i++)
        {
            events.Add(d.Event(EventType.Search, start + 10 + (i * 20), user: user, ip: "198.51.100.1", session: user + "-x", agent: Phone));
        }
        for (var i = 0; i < 5; i++)
        {
            events.Add(d.Event(EventType.Purchase, start + 900 + (i * 60), user: user, ip: "198.51.100.1", session: user + "-x", agent: Phone,
                properties: new Dictionary<string, string> { ["amount"] = "700" }));
        }
        return events;
    }

    private static IsolationForest Forest() =>
        IsolationForest.Fit(Ordinary(2000, 1), BehaviorModel.FeatureCount, new IsolationForestOptions { Seed = 3 });

    [Fact]
    public void ToVector_LastHourAgainstOwnMaximum_LogExcessZeroWhenBelow()
    {
        var features = new BehaviorFeatures(2, true, true, 40, 5, 3500, 12)
        {
            BaselineSearches = 9,
            BaselinePurchases = 7,
            BaselineAmount = 0,
            LoginHourShare = 0.25,
        };
        var vector = new float[BehaviorModel.FeatureCount];

        BehaviorModel.ToVector(features, vector);

        Assert.Equal(Math.Log(41.0 / 10), vector[0], 5);
        Assert.Equal(0f, vector[1]); // 5 purchases, below the user's own 7
        Assert.Equal(Math.Log(3501.0), vector[2], 4);
        Assert.Equal(1f, vector[3]);
        Assert.Equal(0.75f, vector[4]);
    }

    [Fact]
    public void Observe_UntilEnoughEstablishedUsers_NoForestThenOne()
    {
        var model = new BehaviorModel(new BehaviorModelOptions { MinTrainingUsers = 50 }, 0.8);
        var rows = Ordinary(60, 2);

        model.Observe("newcomer", rows.AsSpan(0, BehaviorModel.FeatureCount), 0, logins: 2);
        for (var u = 0; u < 49; u++)
        {
            model.Observe($"u-{u}", rows.AsSpan(u * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount), u, logins: 10);
        }
        var before = model.Forest;
        model.Observe("u-49", rows.AsSpan(49 * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount), 49, logins: 10);

        Assert.Null(before);
        Assert.NotNull(model.Forest);
        Assert.Equal(1, model.Version);
        Assert.Equal(50, model.SampleCount); // the newcomer (2 logins) trains nothing
    }

    [Fact]
    public void Observe_SameStreamTwice_SameScores()
    {
        var rows = Ordinary(3000, 4);
        var a = new BehaviorModel(new BehaviorModelOptions { SampleUsers = 500, RetrainInterval = TimeSpan.FromSeconds(1) }, 0.8);
        var b = new BehaviorModel(new BehaviorModelOptions { SampleUsers = 500, RetrainInterval = TimeSpan.FromSeconds(1) }, 0.8);
        foreach (var model in new[] { a, b })
        {
            for (var r = 0; r < 3000; r++)
            {
                model.Observe($"u-{r % 900}", rows.AsSpan(r * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount), r * 100L, 12);
            }
        }
        float[] probe = [2f, 1.5f, 6f, 1f, 1f];
        var attribution = new double[BehaviorModel.FeatureCount];

        Assert.True(a.Version > 1); // refitted as event time went on
        Assert.Equal(a.Version, b.Version);
        Assert.Equal(a.Score(probe, attribution, out _, out _), b.Score(probe, attribution, out _, out _));
        Assert.Equal(500, a.SampleCount);
    }

    [Fact]
    public void Observe_WithSampleHints_SameSampleAndScoresAsWithout()
    {
        // 900 users through a 500-row sample: users are replaced, so hints go stale; some hints are wrong on purpose
        // (another user's row, or out of range). The sample written out and the scores must not differ at all.
        var rows = Ordinary(3000, 4);
        var plain = new BehaviorModel(new BehaviorModelOptions { SampleUsers = 500, RetrainInterval = TimeSpan.FromSeconds(1) }, 0.8);
        var hinted = new BehaviorModel(new BehaviorModelOptions { SampleUsers = 500, RetrainInterval = TimeSpan.FromSeconds(1) }, 0.8);
        var hints = new ushort[900];
        var used = 0;
        for (var r = 0; r < 3000; r++)
        {
            var row = rows.AsSpan(r * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount);
            var user = r % 900;
            plain.Observe($"u-{user}", row, r * 100L, 12);
            if (r % 97 == 0)
            {
                hints[user] = (ushort)(r % 2 == 0 ? 600 : 1 + ((user + 1) % 500));
            }
            used += hints[user] != 0 ? 1 : 0;
            hinted.Observe($"u-{user}", row, r * 100L, 12, ref hints[user]);
        }
        Assert.True(used > 1000, $"only {used} observations had a hint");
        Assert.Equal(plain.Version, hinted.Version);
        Assert.Equal(Written(plain), Written(hinted));
        float[] probe = [2f, 1.5f, 6f, 1f, 1f];
        Assert.Equal(plain.Score(probe, new double[BehaviorModel.FeatureCount], out _, out _),
            hinted.Score(probe, new double[BehaviorModel.FeatureCount], out _, out _));

        static byte[] Written(BehaviorModel model)
        {
            using var stream = new MemoryStream();
            using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                model.WriteState(writer);
            }
            return stream.ToArray();
        }
    }

    [Fact]
    public void Score_WithMemo_SameScoresBitForBit_AndARefitIsNeverAnsweredFromTheOldForest()
    {
        var rows = Ordinary(3000, 4);
        var model = new BehaviorModel(new BehaviorModelOptions { SampleUsers = 500, RetrainInterval = TimeSpan.FromSeconds(1) }, 0.8);
        for (var r = 0; r < 1500; r++)
        {
            model.Observe($"u-{r % 900}", rows.AsSpan(r * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount), r * 100L, 12);
        }
        var memo = new BehaviorModel.ScoreMemo();
        // Repeats (every probe twice, and a run of all-zero vectors) as well as distinct vectors.
        var probes = Ordinary(300, 9);
        var order = Enumerable.Range(0, 300).Concat(Enumerable.Range(0, 300)).ToList();
        void Check()
        {
            foreach (var p in order)
            {
                var vector = probes.AsSpan(p * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount);
                var plain = model.Score(vector, out var paper, out var version, out var forest);
                var memoised = model.Score(vector, out var memoPaper, out var memoVersion, out var memoForest, memo);
                Assert.Equal(BitConverter.DoubleToInt64Bits(plain), BitConverter.DoubleToInt64Bits(memoised));
                Assert.Equal(BitConverter.DoubleToInt64Bits(paper), BitConverter.DoubleToInt64Bits(memoPaper));
                Assert.Equal(version, memoVersion);
                Assert.Same(forest, memoForest);
            }
        }

        Check();
        var before = model.Version;
        // A refit: the memo now holds the old forest's scores for these very vectors, and must not answer with them.
        for (var r = 1500; r < 3000; r++)
        {
            model.Observe($"u-{r % 900}", rows.AsSpan(r * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount), r * 100L, 12);
        }
        Assert.True(model.Version > before);
        Check();
    }

    [Fact]
    public void Score_WithoutAttribution_SameScoresAndForestAsWithIt()
    {
        var rows = Ordinary(3000, 4);
        var model = new BehaviorModel(new BehaviorModelOptions { SampleUsers = 500, RetrainInterval = TimeSpan.FromSeconds(1) }, 0.8);
        var probes = Ordinary(200, 9);
        var withAttribution = new double[BehaviorModel.FeatureCount];
        var later = new double[BehaviorModel.FeatureCount];

        Assert.True(double.IsNaN(model.Score(probes.AsSpan(0, BehaviorModel.FeatureCount), out var paperBefore, out var versionBefore, out var none)));
        Assert.True(double.IsNaN(paperBefore));
        Assert.Equal(0, versionBefore);
        Assert.Null(none);
        for (var r = 0; r < 3000; r++)
        {
            model.Observe($"u-{r % 900}", rows.AsSpan(r * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount), r * 100L, 12);
        }
        probes[0] = 40f; // one far outlier among ordinary rows
        for (var p = 0; p < 200; p++)
        {
            var probe = probes.AsSpan(p * BehaviorModel.FeatureCount, BehaviorModel.FeatureCount);
            var expected = model.Score(probe, withAttribution, out var expectedPaper, out var expectedVersion);
            var score = model.Score(probe, out var paper, out var version, out var forest);

            Assert.Equal(expected, score);
            Assert.Equal(expectedPaper, paper);
            Assert.Equal(expectedVersion, version);
            Assert.Same(model.Forest, forest);
            forest!.Explain(probe, later);
            Assert.Equal(withAttribution, later);
        }
    }

    [Fact]
    public void Process_NightSpreeOfAnEstablishedUser_AlertsFromTheForestWithAttribution()
    {
        var insights = new List<Insight>();
        var d = Driver(new BehaviorAnomalyOptions { Forest = Forest(), Insights = new ListSink(insights), ExpertScore = false });
        d.Feed(Habit(d, 12, "u-1"));

        var alert = Assert.Single(d.Feed(NightSpree(d, "u-1")));

        Assert.Equal(RuleNames.BehaviorAnomaly, alert.Rule);
        Assert.Equal("isolation-forest", alert.Evidence["scorer"]);
        Assert.True(alert.Score >= 0.8, $"score {alert.Score}");
        var shares = Assert.IsType<List<Dictionary<string, object?>>>(alert.Evidence["attribution"]);
        Assert.NotEmpty(shares);
        Assert.Equal(1.0, shares.Sum(s => (double)s["share"]!), 2);
        Assert.Contains(shares, s => (string)s["feature"]! == "newDevice");
        Assert.Contains("isolated mostly by", alert.Summary, StringComparison.Ordinal);
        var insight = Assert.Single(insights);
        Assert.Equal(InsightKinds.BehaviorAnomaly, insight.Kind);
        Assert.Equal("u-1", insight.UserId);
        Assert.Equal(alert.AlertId, insight.Payload["alertId"]);
    }

    [Fact]
    public void Process_SameSpreeBeforeTheLearningMinimum_RaisesNothing()
    {
        var d = Driver(new BehaviorAnomalyOptions { Forest = Forest() });
        d.Feed(Habit(d, 8, "u-1")); // eight logins; with the spree's own, nine: one short of the minimum of 10

        Assert.Empty(d.Feed(NightSpree(d, "u-1")));
    }

    [Fact]
    public void Process_DaytimeHabitOfAnEstablishedUser_RaisesNothing()
    {
        var d = Driver(new BehaviorAnomalyOptions { Forest = Forest() });
        d.Feed(Habit(d, 12, "u-1"));

        Assert.Empty(d.Feed(Habit(d, 3, "u-1").Select(e => e with { TimestampMs = e.TimestampMs + (3 * 86_400_000L) })));
    }

    [Fact]
    public void Process_NoModelLearntYetWithoutExpertScore_RaisesNothing()
    {
        var d = Driver(new BehaviorAnomalyOptions { ExpertScore = false });
        d.Feed(Habit(d, 12, "u-1"));

        Assert.Empty(d.Feed(NightSpree(d, "u-1")));
    }

    [Fact]
    public void Process_NoModelLearntYet_ExpertScoreAlertsAndSaysSo()
    {
        var d = Driver(new BehaviorAnomalyOptions());
        d.Feed(Habit(d, 12, "u-1"));

        var alert = Assert.Single(d.Feed(NightSpree(d, "u-1")));

        Assert.Equal("expert", alert.Evidence["scorer"]);
        Assert.Null(alert.Evidence["forestScore"]);
        Assert.True((double)alert.Evidence["expertScore"]! >= 0.8);
        Assert.Contains("the model is still learning", alert.Summary, StringComparison.Ordinal);
        // Explained in the expert score's own terms: the spree's searches first, then the new phone and the night hour.
        var shares = Assert.IsType<List<Dictionary<string, object?>>>(alert.Evidence["attribution"]);
        Assert.Equal(["searchesAboveOwnMax", "newDevice", "loginHourRarity"], shares.Select(s => (string)s["feature"]!).ToArray());
        Assert.Equal(1.0, shares.Sum(s => (double)s["share"]!), 2);
    }

    [Fact]
    public void ExpertAttribution_SpendingBurstOnly_AllOnSpending()
    {
        var options = new BehaviorAnomalyOptions();
        var attribution = new double[BehaviorModel.FeatureCount];

        options.ExpertAttribution(new BehaviorFeatures(14, false, false, 3, 4, 3000, 20), attribution);

        Assert.Equal([0, 0, 1, 0, 0], attribution);
    }

    [Fact]
    public void ExpertAttribution_NothingUnusual_AllZero()
    {
        var attribution = new double[BehaviorModel.FeatureCount];

        new BehaviorAnomalyOptions().ExpertAttribution(new BehaviorFeatures(14, false, false, 0, 0, 0, 20), attribution);

        Assert.All(attribution, a => Assert.Equal(0, a));
    }

    [Fact]
    public void Process_NoModelSpreeBeforeTheLearningMinimum_ExpertScoreRaisesNothing()
    {
        var d = Driver(new BehaviorAnomalyOptions());
        d.Feed(Habit(d, 8, "u-1"));

        Assert.Empty(d.Feed(NightSpree(d, "u-1")));
    }

    [Fact]
    public void Restore_MidSpree_ContinuesToTheSameAlert()
    {
        var forest = Forest();
        var reference = Driver(new BehaviorAnomalyOptions { Forest = forest });
        var history = Habit(reference, 12, "u-1");
        var spree = NightSpree(reference, "u-1");
        reference.Feed(history);
        reference.Feed(spree);
        var d = Driver(new BehaviorAnomalyOptions { Forest = forest });

        d.Feed(history);
        d.Feed(spree.Take(20));
        d.Restart();
        d.Feed(spree.Skip(20));

        Assert.NotEmpty(reference.Alerts);
        Assert.Equal(RuleDriver.Describe(reference.Alerts), RuleDriver.Describe(d.Alerts));
    }

    private sealed class ListSink(List<Insight> list) : IInsightSink
    {
        public void Publish(Insight insight) => list.Add(insight);
    }
}
