using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Core.Rules;
using Vigil.Server.Rules;

namespace Vigil.Server.Tests;

/// <summary>The declarative rules file: hot reload in a running serve, and the reload service on its own.</summary>
public sealed class RulesReloadTests
{
    private static string Rules(int threshold) => $$"""
        version: 1
        rules:
          - id: views
            name: PAGE_VIEW_BURST
            type: event_count
            filter: { eventType: PAGE_VIEW }
            group-by: [userId]
            timespan: 10m
            condition: { gte: {{threshold}} }
            severity: MEDIUM
            summary: "{userId} viewed {count} pages in {seconds} s"

        """;

    [Fact]
    public async Task ReloadAsync_BrokenEdit_KeepsOldRulesAndReportsTheLine()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("vigil-rules-").FullName, "rules.yaml");
        await File.WriteAllTextAsync(path, Rules(3));
        var source = new RuleSetSource(RulesFile.Load(path));
        using var service = new RulesService(path, source, NullLogger<RulesService>.Instance, TimeProvider.System, TimeSpan.FromHours(1), TimeSpan.Zero);
        var before = source.Current;

        await File.WriteAllTextAsync(path, Rules(3).Replace("timespan: 10m", "timespan: ten minutes", StringComparison.Ordinal));
        var ok = await service.ReloadAsync(force: false, CancellationToken.None);
        var report = service.Report();

        Assert.False(ok);
        Assert.Same(before, source.Current);
        Assert.Equal(before.Version, report.Version);
        var error = Assert.Single(report.LastError!.Errors);
        Assert.Equal(8, error.Line);
        Assert.Equal("rules[0].timespan", error.Field);
        Assert.Contains("line 8, column 15: rules[0].timespan", report.LastError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReloadAsync_ValidEdit_PublishesAndClearsTheError()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("vigil-rules-").FullName, "rules.yaml");
        await File.WriteAllTextAsync(path, Rules(3));
        var source = new RuleSetSource(RulesFile.Load(path));
        using var service = new RulesService(path, source, NullLogger<RulesService>.Instance, TimeProvider.System, TimeSpan.FromHours(1), TimeSpan.Zero);
        await File.WriteAllTextAsync(path, "version: [");
        await service.ReloadAsync(force: false, CancellationToken.None);

        await File.WriteAllTextAsync(path, Rules(4));
        var ok = await service.ReloadAsync(force: false, CancellationToken.None);

        Assert.True(ok);
        Assert.Null(service.Report().LastError);
        Assert.Equal(4, source.Current.Rules[0].Condition.Value);
        Assert.Equal(1, service.Report().Reloads);
        Assert.Equal(1, service.Report().Failures);
    }

    [Fact]
    public async Task Serve_EditedRulesFile_ChangesDetectionsAndABrokenEditKeepsTheOldRules()
    {
        var directory = Directory.CreateTempSubdirectory("vigil-rules-serve-").FullName;
        var rulesPath = Path.Combine(directory, "rules.yaml");
        await File.WriteAllTextAsync(rulesPath, Rules(100));
        var baseUrl = $"http://127.0.0.1:{VigilProcess.FreePort()}";
        const string analystKey = "analyst-key-0123456789abcdef";
        const string adminKey = "admin-key-0123456789abcdef";
        await using var process = VigilProcess.Start(directory, new Dictionary<string, string>
        {
            ["VIGIL_API_KEYS"] = $"ana:analyst:{analystKey};root:admin:{adminKey}",
            ["Vigil__Rules__PollInterval"] = "500ms",
        }, "serve", "--urls", baseUrl, "--simulator", "off", "--rules", rulesPath, "--data-dir", Path.Combine(directory, "data"));
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(10) };
        using var analyst = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(10) };
        analyst.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", analystKey);
        using var admin = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(10) };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", adminKey);
        await process.WaitForHttpAsync(http, "/api/health", TimeSpan.FromSeconds(60));
        var initial = await http.GetFromJsonAsync<JsonElement>("/api/rules");
        Assert.Equal("PAGE_VIEW_BURST", initial.GetProperty("rules")[0].GetProperty("name").GetString());
        Assert.Equal("gte 100", initial.GetProperty("rules")[0].GetProperty("condition").GetString());

        // The edit lowers the threshold from 100 to 3: a user with 3 page views is then detected.
        await File.WriteAllTextAsync(rulesPath, Rules(3));
        await WaitAsync(async () => (await http.GetFromJsonAsync<JsonElement>("/api/rules")).GetProperty("rules")[0].GetProperty("condition").GetString() == "gte 3",
            process, "the edit was not loaded");
        var first = await SendViewsAndWaitAsync(http, analyst, process, "rules-a");
        Assert.Equal("rules-a viewed 3 pages in 2 s", first.GetProperty("summary").GetString());

        // A broken edit is refused with its line; the threshold of 3 keeps running.
        await File.WriteAllTextAsync(rulesPath, Rules(3).Replace("gte: 3", "gte: three", StringComparison.Ordinal));
        JsonElement report = default;
        await WaitAsync(async () =>
        {
            report = await http.GetFromJsonAsync<JsonElement>("/api/rules");
            return report.GetProperty("lastError").ValueKind == JsonValueKind.Object;
        }, process, "the broken edit was not reported");
        Assert.Contains("line 9", report.GetProperty("lastError").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("gte 3", report.GetProperty("rules")[0].GetProperty("condition").GetString());
        await SendViewsAndWaitAsync(http, analyst, process, "rules-b");
        using var forbidden = await analyst.PostAsync("/api/rules/reload", null);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var refused = await admin.PostAsync("/api/rules/reload", null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
    }

    private static async Task<JsonElement> SendViewsAndWaitAsync(HttpClient http, HttpClient analyst, VigilProcess process, string user)
    {
        var t = DateTimeOffset.UtcNow.AddMinutes(-1);
        var body = string.Join("\n", Enumerable.Range(0, 3).Select(i => JsonSerializer.Serialize(new
        {
            eventId = $"{user}-{i}",
            eventType = "PAGE_VIEW",
            timestamp = t.AddSeconds(i).ToString("O"),
            userId = user,
            ipAddress = "198.51.100.40",
        }))) + "\n";
        using var content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");
        using var response = await analyst.PostAsync("/api/events", content);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        JsonElement alert = default;
        await WaitAsync(async () =>
        {
            var page = await http.GetFromJsonAsync<JsonElement>("/api/alerts?user=" + user);
            if (page.GetProperty("count").GetInt32() == 0)
            {
                return false;
            }
            alert = page.GetProperty("items")[0];
            return true;
        }, process, "no alert for " + user);
        Assert.Equal("PAGE_VIEW_BURST", alert.GetProperty("rule").GetString());
        return alert;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, VigilProcess process, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{what}.\n{process.StandardOutput}\n{process.StandardError}");
    }
}
