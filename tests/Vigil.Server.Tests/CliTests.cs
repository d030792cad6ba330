using System.Text.Json;

namespace Vigil.Server.Tests;

/// <summary>The command line as a user runs it: simulate, replay, help, and start-up errors that name the setting.</summary>
public sealed class CliTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);
    private readonly string _directory = Directory.CreateTempSubdirectory("vigil-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task SimulateThenReplay_OneHour_FindsEveryBruteForceCampaign()
    {
        var (simCode, _, simErr) = await VigilProcess.RunAsync(_directory, s_timeout,
            "simulate", "--seed", "7", "--users", "400", "--duration", "1h", "--out", "events.jsonl", "--labels", "labels.jsonl");
        Assert.True(simCode == 0, simErr);

        var (code, stdout, stderr) = await VigilProcess.RunAsync(_directory, s_timeout,
            "replay", "events.jsonl", "--alerts", "alerts.jsonl");

        Assert.True(code == 0, stderr);
        using var summary = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var lines = File.ReadAllLines(Path.Combine(_directory, "events.jsonl")).Length;
        Assert.Equal(lines, summary.RootElement.GetProperty("events").GetInt64() + summary.RootElement.GetProperty("deadLetters").GetInt64());
        Assert.Equal(0, summary.RootElement.GetProperty("deadLetters").GetInt64());
        Assert.True(summary.RootElement.GetProperty("eventsPerSecond").GetDouble() > 0);

        var alerts = File.ReadAllLines(Path.Combine(_directory, "alerts.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // One line per alert, plus one per suppression update of an alert already written.
        Assert.Equal(summary.RootElement.GetProperty("alerts").GetInt64() + summary.RootElement.GetProperty("alertUpdates").GetInt64(), alerts.Count);
        Assert.Equal(summary.RootElement.GetProperty("alerts").GetInt64(), alerts.Select(a => a.GetProperty("alertId").GetString()).Distinct().Count());
        var alertedUsers = alerts.Where(a => a.GetProperty("rule").GetString() == "BRUTE_FORCE")
            .Select(a => a.GetProperty("userId").GetString()).ToHashSet();
        var bruteForce = File.ReadAllLines(Path.Combine(_directory, "labels.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(l => l.GetProperty("kind").GetString() == "BRUTE_FORCE").ToList();
        Assert.NotEmpty(bruteForce);
        foreach (var label in bruteForce)
        {
            var users = label.GetProperty("userIds").EnumerateArray().Select(u => u.GetString()).ToList();
            Assert.True(users.Any(alertedUsers.Contains), $"campaign {label.GetProperty("campaignId")} on {string.Join(",", users)} was not detected");
        }
    }

    [Fact]
    public async Task Replay_BadLines_AreDeadLetteredWithReasonsAndTheRestProcessed()
    {
        var t = DateTimeOffset.UtcNow.AddMinutes(-10);
        var good = Enumerable.Range(0, 5).Select(i => JsonSerializer.Serialize(new
        {
            eventId = $"g-{i}", eventType = "LOGIN_FAILED", timestamp = t.AddSeconds(i).ToUnixTimeMilliseconds(), userId = "victim",
        }));
        var bad = new[] { "{\"eventId\":", "not json", "{\"eventType\":\"LOGIN_FAILED\"}", "" };
        await File.WriteAllLinesAsync(Path.Combine(_directory, "in.jsonl"), good.Concat(bad));

        var (code, stdout, stderr) = await VigilProcess.RunAsync(_directory, s_timeout,
            "replay", "in.jsonl", "--alerts", "out/alerts.jsonl", "--dead-letters", "dlq.jsonl");

        Assert.True(code == 0, stderr);
        using var summary = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(5, summary.RootElement.GetProperty("events").GetInt64());
        Assert.Equal(1, summary.RootElement.GetProperty("alerts").GetInt64());
        Assert.Equal(3, summary.RootElement.GetProperty("deadLetters").GetInt64());
        var letters = File.ReadAllLines(Path.Combine(_directory, "dlq.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, letters.Count);
        Assert.All(letters, l => Assert.False(string.IsNullOrEmpty(l.GetProperty("reason").GetString())));
        Assert.Equal(3, letters.Select(l => l.GetProperty("reason").GetString()).Distinct().Count());
        Assert.Equal([5L, 6L, 7L], letters.Select(l => l.GetProperty("offset").GetInt64()));
    }

    [Fact]
    public async Task Replay_MissingFile_ExitsWithUsageErrorNamingIt()
    {
        var (code, _, stderr) = await VigilProcess.RunAsync(_directory, s_timeout, "replay", "nope.jsonl");

        Assert.Equal(2, code);
        Assert.Contains("nope.jsonl", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_UnknownFlag_ExitsWithUsageErrorNamingIt()
    {
        var (code, _, stderr) = await VigilProcess.RunAsync(_directory, s_timeout, "serve", "--colour", "blue");

        Assert.Equal(2, code);
        Assert.Contains("--colour", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_BadSetting_RefusesToStartNamingTheSetting()
    {
        await using var process = VigilProcess.Start(_directory, new Dictionary<string, string> { ["Vigil__Simulator__Rate"] = "fast" },
            "serve", "--urls", $"http://127.0.0.1:{VigilProcess.FreePort()}");

        var code = await process.WaitForExitAsync(s_timeout);

        Assert.Equal(3, code);
        Assert.Contains("Vigil:Simulator:Rate", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_EveryVerb_PrintsUsageAndExitsZero()
    {
        foreach (var verb in new[] { "serve", "replay", "broker", "simulate" })
        {
            var (code, stdout, stderr) = await VigilProcess.RunAsync(_directory, s_timeout, verb, "--help");
            Assert.True(code == 0, $"{verb}: {stderr}");
            Assert.Contains("Usage", stdout + stderr, StringComparison.OrdinalIgnoreCase);
        }
        var (topCode, top, _) = await VigilProcess.RunAsync(_directory, s_timeout, "--help");
        Assert.Equal(0, topCode);
        Assert.Contains("serve", top, StringComparison.Ordinal);
        Assert.Contains("simulate", top, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MlIforest_RngChoices_ReportTheirGeneratorAndScikitLearnIsDefault()
    {
        // 300 rows on a line and three far off it: both generators find the three, and the JSON says which generator ran.
        var lines = new List<string> { "a,b,label" };
        for (var i = 0; i < 300; i++)
        {
            lines.Add(FormattableString.Invariant($"{i % 17},{(i * 7) % 23},0"));
        }
        lines.AddRange(["90,-40,1", "-60,80,1", "120,120,1"]);
        await File.WriteAllLinesAsync(Path.Combine(_directory, "points.csv"), lines);

        foreach (var (flag, expected) in new[] { ((string?)null, "sklearn"), ("sklearn", "sklearn"), ("fast", "fast") })
        {
            string[] args = flag is null ? ["ml", "iforest", "--csv", "points.csv", "--seed", "0"] : ["ml", "iforest", "--csv", "points.csv", "--seed", "0", "--rng", flag];
            var (code, stdout, stderr) = await VigilProcess.RunAsync(_directory, s_timeout, args);
            Assert.True(code == 0, stderr);
            using var result = JsonDocument.Parse(stdout.Trim());
            Assert.Equal(expected, result.RootElement.GetProperty("rng").GetString());
            Assert.Equal(1.0, result.RootElement.GetProperty("auc").GetDouble());
        }

        var (saveCode, _, saveErr) = await VigilProcess.RunAsync(_directory, s_timeout,
            "ml", "iforest", "--csv", "points.csv", "--trees", "7", "--model-out", "forest.bin");
        Assert.True(saveCode == 0, saveErr);
        await using (var saved = File.OpenRead(Path.Combine(_directory, "forest.bin")))
        {
            var forest = Vigil.Core.Ml.IsolationForest.Load(saved);
            Assert.Equal(7, forest.TreeCount);
            Assert.Equal(2, forest.FeatureCount);
        }

        var (badCode, _, badErr) = await VigilProcess.RunAsync(_directory, s_timeout, "ml", "iforest", "--csv", "points.csv", "--rng", "mt");
        Assert.Equal(2, badCode);
        Assert.Contains("--rng", badErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_BeyondLoopbackWithoutKeys_RefusesToStartNamingTheSetting()
    {
        await using var process = VigilProcess.Start(_directory, null, "serve", "--urls", $"http://0.0.0.0:{VigilProcess.FreePort()}");

        var code = await process.WaitForExitAsync(s_timeout);

        Assert.Equal(3, code);
        Assert.Contains("Vigil:Auth:Keys", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_DevelopmentLoginLink_SignsInOnceAndCookieWritesNeedTheCsrfHeader()
    {
        var port = VigilProcess.FreePort();
        await using var process = VigilProcess.Start(_directory, null, "serve", "--urls", $"http://127.0.0.1:{port}", "--simulator", "off");
        var line = await process.WaitForOutputLineAsync(l => l.Contains("/login?token=", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var link = line[line.IndexOf("http", StringComparison.Ordinal)..].Trim();
        var cookies = new System.Net.CookieContainer();
        using var handler = new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false };
        using var browser = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        using var first = await browser.GetAsync(link);
        using var second = await new HttpClient().GetAsync(link);
        using var withoutCsrf = await browser.PostAsync("/api/generate-test-data",
            new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/generate-test-data")
        {
            Content = new StringContent("{\"events\":5}", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Vigil-Csrf", "1");
        using var withCsrf = await browser.SendAsync(request);
        var me = JsonDocument.Parse(await browser.GetStringAsync("/api/me")).RootElement;

        Assert.Equal(System.Net.HttpStatusCode.Redirect, first.StatusCode);
        Assert.Equal("/", first.Headers.Location?.OriginalString);
        Assert.Contains("failed", second.RequestMessage!.RequestUri!.Query, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, withoutCsrf.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, withCsrf.StatusCode);
        Assert.Equal("admin", me.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Replay_StoppedAndResumedFromCheckpoints_WritesExactlyTheUninterruptedAlerts()
    {
        var (simCode, _, simErr) = await VigilProcess.RunAsync(_directory, s_timeout,
            "simulate", "--seed", "11", "--users", "800", "--duration", "3h", "--out", "events.jsonl");
        Assert.True(simCode == 0, simErr);
        var (fullCode, _, fullErr) = await VigilProcess.RunAsync(_directory, s_timeout, "replay", "events.jsonl", "--alerts", "full.jsonl");
        Assert.True(fullCode == 0, fullErr);

        var summaries = new List<JsonElement>();
        foreach (var stop in new[] { "3001", "4999" })
        {
            var (code, stdout, stderr) = await VigilProcess.RunAsync(_directory, s_timeout, "replay", "events.jsonl", "--alerts", "part.jsonl",
                "--checkpoint-dir", "ck", "--stop-after", stop, "--checkpoint-every", "1000");
            Assert.True(code == 0, stderr);
            summaries.Add(JsonDocument.Parse(stdout.Trim()).RootElement);
        }
        var (lastCode, lastOut, lastErr) = await VigilProcess.RunAsync(_directory, s_timeout, "replay", "events.jsonl", "--alerts", "part.jsonl",
            "--checkpoint-dir", "ck");
        Assert.True(lastCode == 0, lastErr);
        summaries.Add(JsonDocument.Parse(lastOut.Trim()).RootElement);

        var full = File.ReadAllText(Path.Combine(_directory, "full.jsonl"));
        Assert.NotEmpty(full);
        Assert.Equal(full, File.ReadAllText(Path.Combine(_directory, "part.jsonl")));
        Assert.True(summaries[0].GetProperty("stopped").GetBoolean());
        Assert.Equal(3001, summaries[1].GetProperty("resumedFromLine").GetInt64());
        Assert.Equal(8000, summaries[2].GetProperty("resumedFromLine").GetInt64());
        Assert.False(summaries[2].GetProperty("stopped").GetBoolean());
    }
}
