using System.Text.Json;

namespace Vigil.Server.Tests;

/// <summary><c>vigil eval</c> over small hand-made alert and label files: the matching rules and the arithmetic.</summary>
public sealed class EvalTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);
    private readonly string _directory = Directory.CreateTempSubdirectory("vigil-eval-").FullName;

    public EvalTests()
    {
        File.WriteAllLines(Path.Combine(_directory, "labels.jsonl"),
        [
            Label("c-1", "BRUTE_FORCE", ["u-1"], ["1.1.1.1"], "10:00", "10:02", ["e-1", "e-2"]),
            Label("c-2", "PASSWORD_SPRAY", ["u-5", "u-6"], ["2.2.2.2"], "11:00", "11:20", ["e-3"]),
            Label("c-3", "ACCOUNT_TAKEOVER", ["u-7"], ["3.3.3.3"], "12:00", "12:10", ["e-4"]),
        ]);
        File.WriteAllLines(Path.Combine(_directory, "alerts.jsonl"),
        [
            // Caught by its namesake rule, inside the campaign.
            Alert("a1", "BRUTE_FORCE", "MEDIUM", "u-1", null, "10:01"),
            // The same alert updated by suppression: one alert, not two.
            Alert("a1", "BRUTE_FORCE", "MEDIUM", "u-1", null, "10:01", occurrences: 2, lastSeen: "10:04"),
            // Another rule that fits the kind, by IP, within the 5-minute slack after the end.
            Alert("a2", "BRUTE_FORCE_IP", "MEDIUM", null, "1.1.1.1", "10:06"),
            Alert("a3", "PASSWORD_SPRAY", "HIGH", null, "2.2.2.2", "11:10"),
            // Nobody's campaign: a false positive above LOW.
            Alert("a4", "PASSWORD_SPRAY", "HIGH", null, "9.9.9.9", "11:10"),
            // Unmatched but LOW: hurts precision, not the false-positive count.
            Alert("a5", "IMPOSSIBLE_TRAVEL", "LOW", "u-9", null, "13:00"),
            // Long after the campaign, but it cites the campaign's event.
            Alert("a6", "IMPOSSIBLE_TRAVEL", "HIGH", "u-8", null, "15:00", eventIds: ["e-2"]),
            // Right user, rule fits, but 18 minutes after the end: outside the slack.
            Alert("a7", "BRUTE_FORCE", "MEDIUM", "u-1", null, "10:20"),
        ]);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string At(string hhmm) => $"2026-01-05T{hhmm}:00.000Z";

    private static string Label(string id, string kind, string[] users, string[] ips, string start, string end, string[] events) =>
        JsonSerializer.Serialize(new { campaignId = id, kind, userIds = users, ips, start = At(start), end = At(end), eventIds = events });

    private static string Alert(string id, string rule, string severity, string? user, string? ip, string time, int occurrences = 1,
        string? lastSeen = null, string[]? eventIds = null)
    {
        var evidence = new Dictionary<string, object?> { ["eventIds"] = eventIds ?? [], ["occurrences"] = occurrences };
        if (lastSeen is not null)
        {
            evidence["lastSeen"] = At(lastSeen);
            evidence["lastUserId"] = user;
            evidence["lastIpAddress"] = ip;
            evidence["lastEventIds"] = Array.Empty<string>();
        }
        return JsonSerializer.Serialize(new
        {
            alertId = id, rule, severity, userId = user, ipAddress = ip, eventTime = At(time), detectedAt = At(time),
            summary = "s", evidence, status = "OPEN",
        });
    }

    private async Task<JsonElement> EvalJsonAsync(params string[] extra)
    {
        var (code, stdout, stderr) = await VigilProcess.RunAsync(_directory, s_timeout,
            ["eval", "--alerts", "alerts.jsonl", "--labels", "labels.jsonl", "--json", .. extra]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task Eval_HandMadeFiles_ComputesRecallPrecisionAndFalsePositives()
    {
        var report = await EvalJsonAsync("--users", "20000", "--days", "2");

        var kinds = report.GetProperty("kinds");
        Assert.Equal(1.0, kinds.GetProperty("BRUTE_FORCE").GetProperty("recall").GetDouble());
        Assert.Equal(0.5, kinds.GetProperty("BRUTE_FORCE").GetProperty("precision").GetDouble());
        Assert.Equal(1.0, kinds.GetProperty("PASSWORD_SPRAY").GetProperty("recall").GetDouble());
        Assert.Equal(0.5, kinds.GetProperty("PASSWORD_SPRAY").GetProperty("precision").GetDouble());
        Assert.Equal(0.0, kinds.GetProperty("ACCOUNT_TAKEOVER").GetProperty("recall").GetDouble());
        Assert.Equal(JsonValueKind.Null, kinds.GetProperty("ACCOUNT_TAKEOVER").GetProperty("precision").ValueKind);
        Assert.Equal("c-3", Assert.Single(kinds.GetProperty("ACCOUNT_TAKEOVER").GetProperty("missed").EnumerateArray()).GetString());
        var caughtBy = kinds.GetProperty("BRUTE_FORCE").GetProperty("caughtBy");
        Assert.True(caughtBy.TryGetProperty("BRUTE_FORCE_IP", out _));
        Assert.True(caughtBy.TryGetProperty("IMPOSSIBLE_TRAVEL", out _));

        var rules = report.GetProperty("rules");
        Assert.Equal(2, rules.GetProperty("BRUTE_FORCE").GetProperty("alerts").GetInt32());
        Assert.Equal(1.0, rules.GetProperty("BRUTE_FORCE_IP").GetProperty("precision").GetDouble());
        Assert.Equal(0.5, rules.GetProperty("IMPOSSIBLE_TRAVEL").GetProperty("precision").GetDouble());
        Assert.Equal(0, rules.GetProperty("IMPOSSIBLE_TRAVEL").GetProperty("unmatchedAboveLow").GetInt32());
        Assert.Equal(7, report.GetProperty("alerts").GetInt32());
        Assert.Equal(8, report.GetProperty("alertLines").GetInt32());
        Assert.Equal(2, report.GetProperty("falsePositivesAboveLow").GetInt32());
        // 2 false positives / (20,000 / 10,000 users) / 2 days.
        Assert.Equal(0.5, report.GetProperty("falsePositivesPer10kUsersPerDay").GetDouble());
        Assert.False(report.GetProperty("meetsTargets").GetBoolean());
    }

    [Fact]
    public async Task Eval_WiderSlack_MatchesTheLateAlert()
    {
        var report = await EvalJsonAsync("--slack", "20m");

        Assert.Equal(1.0, report.GetProperty("rules").GetProperty("BRUTE_FORCE").GetProperty("precision").GetDouble());
        Assert.Equal(1, report.GetProperty("falsePositivesAboveLow").GetInt32());
        Assert.Equal(JsonValueKind.Null, report.GetProperty("falsePositivesPer10kUsersPerDay").ValueKind);
    }

    [Fact]
    public async Task Eval_EventsFile_CountsLegitimateUsersAndDays()
    {
        File.WriteAllLines(Path.Combine(_directory, "events.jsonl"),
        [
            JsonSerializer.Serialize(new { eventId = "e-1", eventType = "LOGIN_FAILED", timestamp = "2026-01-05T00:00:00.000Z", userId = "u-1" }),
            JsonSerializer.Serialize(new { eventId = "e-9", eventType = "LOGIN_SUCCESS", timestamp = "2026-01-05T06:00:00.000Z", userId = "u-2" }),
            JsonSerializer.Serialize(new { eventId = "e-10", eventType = "SEARCH", timestamp = "2026-01-06T00:00:00.000Z", userId = "u-3" }),
        ]);

        var report = await EvalJsonAsync("--events", "events.jsonl");

        Assert.Equal(2, report.GetProperty("legitimateUsers").GetInt32());
        Assert.Equal(1.0, report.GetProperty("days").GetDouble());
        Assert.Equal(10_000.0, report.GetProperty("falsePositivesPer10kUsersPerDay").GetDouble());
    }

    [Fact]
    public async Task Eval_Table_ShowsKindsRulesAndTheVerdict()
    {
        var (code, stdout, stderr) = await VigilProcess.RunAsync(_directory, s_timeout, "eval", "--alerts", "alerts.jsonl", "--labels", "labels.jsonl");

        Assert.True(code == 0, stderr);
        Assert.Contains("RECALL", stdout, StringComparison.Ordinal);
        Assert.Contains("missed c-3", stdout, StringComparison.Ordinal);
        Assert.Contains("false positives above LOW: 2", stdout, StringComparison.Ordinal);
        Assert.Contains("NOT met", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_MissingLabels_IsAUsageError()
    {
        var (code, _, stderr) = await VigilProcess.RunAsync(_directory, s_timeout, "eval", "--alerts", "alerts.jsonl");

        Assert.Equal(2, code);
        Assert.Contains("--labels", stderr, StringComparison.Ordinal);
    }
}
