using System.Text.Json;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class InsightJsonTests
{
    [Fact]
    public void ToUtf8Bytes_FollowsTheTopicContract()
    {
        var insight = new Insight
        {
            InsightId = Insight.MakeId(InsightKinds.SegmentAssigned, "u-1", "e-1"),
            Kind = InsightKinds.SegmentAssigned,
            UserId = "u-1",
            Timestamp = new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero),
            Payload = new Dictionary<string, object?> { ["segment"] = "night owls", ["modelVersion"] = 3 },
        };

        using var doc = JsonDocument.Parse(InsightJson.ToUtf8Bytes(insight));
        var root = doc.RootElement;

        Assert.Equal(insight.InsightId, root.GetProperty("insightId").GetString());
        Assert.Equal("SEGMENT_ASSIGNED", root.GetProperty("kind").GetString());
        Assert.Equal("u-1", root.GetProperty("userId").GetString());
        Assert.Equal("2026-01-05T12:00:00.000Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("night owls", root.GetProperty("payload").GetProperty("segment").GetString());
        Assert.Equal(insight.InsightId, Insight.MakeId(InsightKinds.SegmentAssigned, "u-1", "e-1"));
    }
}
