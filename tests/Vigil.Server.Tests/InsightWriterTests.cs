using Vigil.Core.Ml;
using Vigil.Server.Ml;

namespace Vigil.Server.Tests;

public sealed class InsightWriterTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 5, 2, 5, 0, TimeSpan.Zero);

    private static Insight Make(string kind, string? user, Dictionary<string, object?> payload) => new()
    {
        InsightId = Insight.MakeId(kind, user ?? kind, "e-1"),
        Kind = kind,
        UserId = user,
        Timestamp = s_t0,
        Payload = payload,
    };

    [Fact]
    public void ToAnomalyScore_BehaviorAnomalyInsight_IsTheUsersScore()
    {
        var insight = Make(InsightKinds.BehaviorAnomaly, "u-1", new() { ["anomalyScore"] = 0.8421, ["alertId"] = "a-1" });

        Assert.Equal(new Storage.UserAnomalyScore("u-1", 0.8421, s_t0), InsightWriterService.ToAnomalyScore(insight));
        Assert.Null(InsightWriterService.ToPattern(insight));
    }

    [Fact]
    public void ToAnomalyScore_OtherKindsOrNoScore_Null()
    {
        Assert.Null(InsightWriterService.ToAnomalyScore(Make(InsightKinds.SegmentAssigned, "u-1", new() { ["segment"] = "night owls" })));
        Assert.Null(InsightWriterService.ToAnomalyScore(Make(InsightKinds.BehaviorAnomaly, "u-1", new() { ["alertId"] = "a-1" })));
        Assert.Null(InsightWriterService.ToAnomalyScore(Make(InsightKinds.BehaviorAnomaly, null, new() { ["anomalyScore"] = 0.9 })));
    }

    [Fact]
    public void ApplyPendingScores_UserScoredBeforeTheirFirstSegment_RowCarriesTheScoreOnce()
    {
        var pending = new Dictionary<string, Storage.UserAnomalyScore>(StringComparer.Ordinal);
        InsightWriterService.Remember(pending, new Storage.UserAnomalyScore("u-1", 0.84, s_t0));
        var features = new Dictionary<string, double>();
        var rows = new List<Storage.UserBehaviorPattern>
        {
            new("u-1", "night owls", 0, 1, features, null, s_t0.AddMinutes(5)),
            new("u-2", "casual users", 1, 1, features, null, s_t0.AddMinutes(5)),
        };

        InsightWriterService.ApplyPendingScores(rows, pending);

        Assert.Equal(0.84, rows[0].AnomalyScore);
        Assert.Null(rows[1].AnomalyScore);
        Assert.Empty(pending);
    }

    [Fact]
    public void DeferredInsightSink_ResolvesOnceAtTheFirstPublish()
    {
        var resolved = 0;
        var published = new List<Insight>();
        var sink = new DeferredInsightSink(() =>
        {
            resolved++;
            return new ListSink(published);
        });
        var insight = Make(InsightKinds.BehaviorAnomaly, "u-1", new() { ["anomalyScore"] = 0.9 });

        Assert.Equal(0, resolved);
        sink.Publish(insight);
        sink.Publish(insight);

        Assert.Equal(1, resolved);
        Assert.Equal(2, published.Count);
    }

    private sealed class ListSink(List<Insight> list) : IInsightSink
    {
        public void Publish(Insight insight) => list.Add(insight);
    }
}
