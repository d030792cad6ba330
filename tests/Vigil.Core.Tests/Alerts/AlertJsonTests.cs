using System.Text.Json;
using Vigil.Core.Alerts;

namespace Vigil.Core.Tests.Alerts;

public sealed class AlertJsonTests
{
    private static Alert Sample() => new()
    {
        AlertId = Alert.MakeId("BRUTE_FORCE", "u-1", "e-9"),
        Rule = "BRUTE_FORCE",
        Severity = Severity.High,
        UserId = "u-1",
        IpAddress = "203.0.113.7",
        EventTime = new DateTimeOffset(2026, 1, 5, 9, 0, 12, 345, TimeSpan.Zero),
        DetectedAt = new DateTimeOffset(2026, 1, 5, 9, 0, 12, 400, TimeSpan.Zero),
        WindowStart = new DateTimeOffset(2026, 1, 5, 8, 58, 42, TimeSpan.Zero),
        WindowEnd = new DateTimeOffset(2026, 1, 5, 9, 0, 12, 345, TimeSpan.Zero),
        Score = 0.93,
        Summary = "12 failed logins in 90 s from 3 IPs, then a success",
        Evidence = new Dictionary<string, object?> { ["eventIds"] = new List<string> { "e-1", "e-9" }, ["failures"] = 12 },
    };

    [Fact]
    public void ToUtf8Bytes_Alert_HasTheContractFieldsAndWireNames()
    {
        using var doc = JsonDocument.Parse(AlertJson.ToUtf8Bytes(Sample()));
        var root = doc.RootElement;

        Assert.Equal("BRUTE_FORCE", root.GetProperty("rule").GetString());
        Assert.Equal("HIGH", root.GetProperty("severity").GetString());
        Assert.Equal("OPEN", root.GetProperty("status").GetString());
        Assert.Equal("2026-01-05T09:00:12.345Z", root.GetProperty("eventTime").GetString());
        Assert.Equal(0.93, root.GetProperty("score").GetDouble());
        Assert.Equal(2, root.GetProperty("evidence").GetProperty("eventIds").GetArrayLength());
        foreach (var name in new[] { "alertId", "userId", "ipAddress", "detectedAt", "windowStart", "windowEnd", "summary" })
        {
            Assert.True(root.TryGetProperty(name, out _), name);
        }
    }

    [Fact]
    public void Parse_OwnOutput_RoundTrips()
    {
        var alert = Sample();

        var back = AlertJson.Parse(AlertJson.ToUtf8Bytes(alert));

        Assert.Equal(alert.AlertId, back.AlertId);
        Assert.Equal(alert.Severity, back.Severity);
        Assert.Equal(alert.EventTime, back.EventTime);
        Assert.Equal(alert.WindowStart, back.WindowStart);
        Assert.Equal(alert.Summary, back.Summary);
        Assert.Equal(12, ((JsonElement)back.Evidence["failures"]!).GetInt32());
    }

    [Fact]
    public void EvidenceToJson_KeysInAnyOrder_GiveSameBytes()
    {
        var a = new Dictionary<string, object?> { ["b"] = 1, ["a"] = "x" };
        var b = new Dictionary<string, object?> { ["a"] = "x", ["b"] = 1 };

        Assert.Equal(AlertJson.EvidenceToJson(a), AlertJson.EvidenceToJson(b));
        Assert.Equal("{\"a\":\"x\",\"b\":1}", AlertJson.EvidenceToJson(a));
    }

    [Fact]
    public void MakeId_SameInputs_SameId_DifferentInputs_DifferentId()
    {
        var id = Alert.MakeId("BRUTE_FORCE", "u-1", "e-1");

        Assert.Equal(id, Alert.MakeId("BRUTE_FORCE", "u-1", "e-1"));
        Assert.NotEqual(id, Alert.MakeId("BRUTE_FORCE", "u-1", "e-2"));
        Assert.NotEqual(id, Alert.MakeId("BRUTE_FORCE_IP", "u-1", "e-1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        Assert.NotEqual(Alert.MakeId("R", "ab", "c"), Alert.MakeId("R", "a", "bc"));
        Assert.True(Guid.TryParse(id, out _));
    }
}
