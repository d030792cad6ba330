using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Vigil.Server.Tests;

/// <summary>The walking skeleton end to end: simulator → Kafka protocol → engine → rule → SQLite → API → page.</summary>
[Collection(ServeCollection.Name)]
public sealed class ServeTests(ServeFixture serve)
{
    private HttpClient Http => serve.Http;

    private async Task<JsonElement> GetJsonAsync(string url)
    {
        using var response = await Http.GetAsync(url);
        Assert.True(response.IsSuccessStatusCode, $"{url} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement[]> WaitForAlertsAsync(string query, Func<JsonElement, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var page = await GetJsonAsync("/api/alerts?limit=1000" + query);
            var found = page.GetProperty("items").EnumerateArray().Where(match).ToArray();
            if (found.Length > 0)
            {
                return found;
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"No matching alert in {timeout}.\nstdout:\n{serve.Process.StandardOutput}\nstderr:\n{serve.Process.StandardError}");
    }

    /// <summary>serve watches the rules file, not its working directory: a recursive watch there saw every SQLite and
    /// checkpoint write under ./data and kept a thread busy. Read from the kernel's inotify tables (Linux).</summary>
    [Fact]
    public async Task Serve_NoFileWatchOnItsWorkingOrDataDirectory()
    {
        await serve.Process.WaitForHttpAsync(Http, "/api/health", TimeSpan.FromSeconds(60));
        Assert.True(Directory.Exists(serve.DataDirectory));
        var watched = new List<string>();
        foreach (var fd in Directory.GetFiles($"/proc/{serve.Process.Id}/fd"))
        {
            var target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.Contains("inotify", StringComparison.Ordinal))
            {
                watched.AddRange(File.ReadLines($"/proc/{serve.Process.Id}/fdinfo/{Path.GetFileName(fd)}")
                    .Where(l => l.StartsWith("inotify wd:", StringComparison.Ordinal))
                    .Select(l => l.Split(' ').First(f => f.StartsWith("ino:", StringComparison.Ordinal))[4..]));
            }
        }
        Assert.NotEmpty(watched);
        foreach (var directory in new[] { serve.WorkingDirectory, serve.DataDirectory })
        {
            using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", directory])
            {
                RedirectStandardOutput = true,
            })!;
            var inode = await stat.StandardOutput.ReadToEndAsync();
            await stat.WaitForExitAsync();
            Assert.Equal(0, stat.ExitCode);
            var hex = long.Parse(inode.Trim(), System.Globalization.CultureInfo.InvariantCulture).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
            Assert.DoesNotContain(hex, watched);
        }
    }

    [Fact]
    public async Task Health_OnEmbeddedDefaults_ReportsHealthySqliteAndEmbeddedBroker()
    {
        var health = await GetJsonAsync("/api/health");

        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Equal("sqlite", health.GetProperty("database").GetProperty("kind").GetString());
        Assert.Equal("embedded", health.GetProperty("broker").GetProperty("kind").GetString());
        Assert.True(File.Exists(Path.Combine(serve.DataDirectory, "vigil.db")), "the SQLite file is under ./data");
    }

    [Fact]
    public async Task HealthChecks_LiveAndReady_Answer200()
    {
        using var live = await Http.GetAsync("/health/live");
        using var ready = await Http.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Alerts_FromTheBuiltInSimulator_IncludeBruteForceWithinAMinute()
    {
        var alerts = await WaitForAlertsAsync("&rule=BRUTE_FORCE", a => a.GetProperty("rule").GetString() == "BRUTE_FORCE"
            && !serve.GeneratedUsers.ContainsKey(a.GetProperty("userId").GetString() ?? ""), TimeSpan.FromSeconds(60));

        var alert = alerts[0];
        Assert.True(Guid.TryParse(alert.GetProperty("alertId").GetString(), out _));
        Assert.Contains(alert.GetProperty("severity").GetString(), new[] { "MEDIUM", "HIGH" });
        Assert.Equal("OPEN", alert.GetProperty("status").GetString());
        Assert.True(alert.GetProperty("evidence").GetProperty("eventIds").GetArrayLength() >= 5);
        Assert.False(string.IsNullOrEmpty(alert.GetProperty("summary").GetString()));
    }

    [Fact]
    public async Task GenerateTestData_BruteForceBurst_ItsAlertAppearsForThatUser()
    {
        using var response = await serve.Analyst.PostAsJsonAsync("/api/generate-test-data", new { attack = "BRUTE_FORCE", events = 50 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var burst = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("BRUTE_FORCE", burst.GetProperty("kind").GetString());
        var user = burst.GetProperty("userIds")[0].GetString()!;
        serve.GeneratedUsers[user] = true;

        var alerts = await WaitForAlertsAsync("&user=" + Uri.EscapeDataString(user),
            a => a.GetProperty("rule").GetString() == "BRUTE_FORCE", TimeSpan.FromSeconds(30));

        Assert.All(alerts, a => Assert.Equal(user, a.GetProperty("userId").GetString()));
        var one = await GetJsonAsync("/api/alerts/" + alerts[0].GetProperty("alertId").GetString());
        Assert.Equal(user, one.GetProperty("userId").GetString());
    }

    [Fact]
    public async Task GenerateTestData_UnknownAttack_IsProblemDetailsNamingTheField()
    {
        using var response = await serve.Analyst.PostAsJsonAsync("/api/generate-test-data", new { attack = "NOT_A_KIND" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("attack", out _));
    }

    [Fact]
    public async Task Metrics_WhileSimulatorRuns_CountEventsAndRate()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        JsonElement metrics;
        do
        {
            metrics = await GetJsonAsync("/api/metrics");
            if (metrics.GetProperty("eventsIn").GetInt64() > 0 && metrics.GetProperty("eventsPerSecond").GetDouble() > 0)
            {
                break;
            }
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);

        Assert.True(metrics.GetProperty("eventsIn").GetInt64() > 0);
        Assert.True(metrics.GetProperty("eventsPerSecond").GetDouble() > 0);
        foreach (var name in new[] { "low", "medium", "high", "critical", "total" })
        {
            Assert.True(metrics.GetProperty("alerts").TryGetProperty(name, out _), name);
        }
        Assert.True(metrics.TryGetProperty("deadLetters", out _));
    }

    [Theory]
    [InlineData("severity=SEVERE", "severity")]
    [InlineData("status=DONE", "status")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("from=yesterday", "from")]
    [InlineData("sort=size", "sort")]
    public async Task Alerts_BadQuery_IsProblemDetailsNamingTheField(string query, string field)
    {
        using var response = await Http.GetAsync("/api/alerts?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AlertById_Unknown_Is404ProblemDetails()
    {
        using var response = await Http.GetAsync("/api/alerts/00000000-0000-8000-8000-000000000000");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Dashboard_Root_ServesThePageWithAStrictContentSecurityPolicy()
    {
        using var response = await Http.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("/dist/app.js", html, StringComparison.Ordinal);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        using var js = await Http.GetAsync("/dist/app.js");
        Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        Assert.Contains("EventSource", await js.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenApi_Document_ListsTheApi()
    {
        var doc = await GetJsonAsync("/openapi/v1.json");

        var paths = doc.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/alerts", out _));
        Assert.True(paths.TryGetProperty("/api/health", out _));
        Assert.True(paths.TryGetProperty("/api/metrics", out _));
    }

    [Fact]
    public async Task Writes_Unauthenticated_Are401ProblemDetails()
    {
        using var generate = await Http.PostAsJsonAsync("/api/generate-test-data", new { attack = "BRUTE_FORCE" });
        using var acknowledge = await Http.PostAsJsonAsync("/api/alerts/any/acknowledge", new { });

        Assert.Equal(HttpStatusCode.Unauthorized, generate.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, acknowledge.StatusCode);
        Assert.Equal("application/problem+json", generate.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Writes_ViewerRole_Are403()
    {
        using var generate = await serve.Viewer.PostAsJsonAsync("/api/generate-test-data", new { attack = "BRUTE_FORCE" });
        using var audit = await serve.Analyst.GetAsync("/api/audit");

        Assert.Equal(HttpStatusCode.Forbidden, generate.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, audit.StatusCode);
    }

    [Fact]
    public async Task Reads_WrongKey_Are401EvenWhereAnonymousMayRead()
    {
        using var wrong = new HttpClient { BaseAddress = new Uri(serve.BaseUrl) };
        wrong.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-a-key-0123456789");

        using var response = await wrong.GetAsync("/api/alerts");
        using var anonymous = await Http.GetAsync("/api/alerts");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
    }

    [Fact]
    public async Task Workflow_AnalystAcknowledgesThenResolves_StatusWhoAndAuditRecorded()
    {
        using var burst = await serve.Analyst.PostAsJsonAsync("/api/generate-test-data", new { attack = "BRUTE_FORCE", events = 10 });
        var user = (await burst.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("userIds")[0].GetString()!;
        serve.GeneratedUsers[user] = true;
        var alert = (await WaitForAlertsAsync("&user=" + Uri.EscapeDataString(user), _ => true, TimeSpan.FromSeconds(30)))[0];
        var id = alert.GetProperty("alertId").GetString()!;

        using var ack = await serve.Analyst.PostAsJsonAsync($"/api/alerts/{id}/acknowledge", new { note = "on it" });
        var acked = await ack.Content.ReadFromJsonAsync<JsonElement>();
        using var resolve = await serve.Analyst.PostAsJsonAsync($"/api/alerts/{id}/resolve", new { });
        using var again = await serve.Analyst.PostAsJsonAsync($"/api/alerts/{id}/acknowledge", new { });
        var stored = await GetJsonAsync("/api/alerts/" + id);
        var audit = await serve.Admin.GetFromJsonAsync<JsonElement>("/api/audit");

        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        Assert.Equal("ACKNOWLEDGED", acked.GetProperty("status").GetString());
        Assert.Equal("on it", acked.GetProperty("statusNote").GetString());
        Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("RESOLVED", stored.GetProperty("status").GetString());
        Assert.Equal("ana", stored.GetProperty("statusBy").GetString());
        Assert.Contains(audit.EnumerateArray(), e => e.GetProperty("action").GetString() == "ALERT_RESOLVED"
            && e.GetProperty("target").GetString() == id && e.GetProperty("actor").GetString() == "ana");
    }

    [Fact]
    public async Task Me_EachRole_ReportsWhatItMayDo()
    {
        var anonymous = await GetJsonAsync("/api/me");
        var analyst = await serve.Analyst.GetFromJsonAsync<JsonElement>("/api/me");
        var admin = await serve.Admin.GetFromJsonAsync<JsonElement>("/api/me");

        Assert.False(anonymous.GetProperty("canWrite").GetBoolean());
        Assert.True(analyst.GetProperty("canWrite").GetBoolean());
        Assert.False(analyst.GetProperty("isAdmin").GetBoolean());
        Assert.True(admin.GetProperty("isAdmin").GetBoolean());
        Assert.Equal("ana", analyst.GetProperty("name").GetString());
    }

    [Fact]
    public void DashboardSources_NeverWriteHtmlFromStrings()
    {
        // User names, user agents and summaries are attacker-controlled: the page must only ever set text.
        var sources = Directory.GetFiles(Path.Combine(VigilProcess.RepositoryRoot, "src", "Vigil.Server", "ui", "src"), "*.js");
        Assert.NotEmpty(sources);
        foreach (var file in sources)
        {
            var code = File.ReadAllText(file);
            foreach (var sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function" })
            {
                Assert.False(code.Contains(sink, StringComparison.Ordinal), $"{Path.GetFileName(file)} uses {sink}");
            }
        }
    }
}
