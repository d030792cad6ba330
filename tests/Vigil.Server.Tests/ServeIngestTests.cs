using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Vigil.Server.Tests;

/// <summary>HTTP ingest, Prometheus scraping and the live event stream against the running service.</summary>
[Collection(ServeCollection.Name)]
public sealed class ServeIngestTests(ServeFixture serve)
{
    private static string FailedLogin(string user, int i, DateTimeOffset t) => JsonSerializer.Serialize(new
    {
        eventId = $"{user}-{i}",
        eventType = "LOGIN_FAILED",
        timestamp = t.AddSeconds(i).ToString("O"),
        userId = user,
        ipAddress = "198.51.100.77",
    });

    private async Task<JsonElement> WaitForAlertAsync(string user, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var page = await serve.Http.GetFromJsonAsync<JsonElement>("/api/alerts?user=" + Uri.EscapeDataString(user));
            if (page.GetProperty("count").GetInt32() > 0)
            {
                return page.GetProperty("items")[0];
            }
            await Task.Delay(300);
        }
        throw new TimeoutException($"No alert for {user}.\n{serve.Process.StandardOutput}\n{serve.Process.StandardError}");
    }

    [Fact]
    public async Task Events_JsonArrayWithBadItems_AcceptsTheGoodRejectsTheBadAndDetects()
    {
        var user = "http-" + Guid.NewGuid().ToString("N")[..8];
        serve.GeneratedUsers[user] = true;
        var t = DateTimeOffset.UtcNow.AddMinutes(-1);
        var items = Enumerable.Range(0, 6).Select(i => FailedLogin(user, i, t)).ToList();
        items.Insert(2, "{\"eventType\":\"LOGIN_FAILED\"}");
        items.Add("{\"eventId\":\"x\",\"eventType\":\"LOGIN_FAILED\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"userId\":\"u\",\"ipAddress\":\"999.1.1.1\"}");
        using var content = new StringContent("[" + string.Join(",", items) + "]", Encoding.UTF8, "application/json");

        using var response = await serve.Analyst.PostAsync("/api/events", content);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(6, result.GetProperty("accepted").GetInt32());
        Assert.Equal(2, result.GetProperty("rejected").GetInt32());
        var errors = result.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal([2, 7], errors.Select(e => e.GetProperty("index").GetInt32()));
        Assert.Equal("MISSING_FIELD", errors[0].GetProperty("reason").GetString());
        Assert.Equal("INVALID_IP_ADDRESS", errors[1].GetProperty("reason").GetString());
        var alert = await WaitForAlertAsync(user, TimeSpan.FromSeconds(30));
        Assert.Equal("BRUTE_FORCE", alert.GetProperty("rule").GetString());
    }

    [Fact]
    public async Task Events_JsonLines_AreAccepted()
    {
        var user = "ndjson-" + Guid.NewGuid().ToString("N")[..8];
        serve.GeneratedUsers[user] = true;
        var t = DateTimeOffset.UtcNow.AddMinutes(-1);
        var body = string.Join("\n", Enumerable.Range(0, 5).Select(i => FailedLogin(user, i, t))) + "\n";
        using var content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");

        using var response = await serve.Analyst.PostAsync("/api/events", content);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(5, result.GetProperty("accepted").GetInt32());
        await WaitForAlertAsync(user, TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("{\"not\":\"an array\"}")]
    [InlineData("[{\"eventId\":")]
    public async Task Events_UnreadableBatch_Is400NamingTheBody(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await serve.Analyst.PostAsync("/api/events", content);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("body", problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Events_BodyOverTheLimit_Is413()
    {
        using var content = new ByteArrayContent(new byte[5 * 1024 * 1024]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        // With 100-continue the server answers from the headers alone, before the client sends the body it refuses.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/events") { Content = content };
        request.Headers.ExpectContinue = true;

        using var response = await serve.Analyst.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Events_Unauthenticated_Is401()
    {
        using var content = new StringContent("[]", Encoding.UTF8, "application/json");

        using var response = await serve.Http.PostAsync("/api/events", content);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Events_BurstOfRequests_IsRateLimitedWith429()
    {
        using var admin = new HttpClient { BaseAddress = new Uri(serve.BaseUrl) };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ServeFixture.AdminKey);
        var tasks = Enumerable.Range(0, 120).Select(async _ =>
        {
            using var content = new StringContent("[]", Encoding.UTF8, "application/json");
            using var r = await admin.PostAsync("/api/events", content);
            return r.StatusCode;
        });

        var codes = await Task.WhenAll(tasks);

        Assert.Contains(HttpStatusCode.TooManyRequests, codes);
        Assert.Contains(HttpStatusCode.Accepted, codes);
    }

    [Fact]
    public async Task Prometheus_Scrape_HasCountersAndTheLatencyHistogram()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string text;
        do
        {
            text = await serve.Http.GetStringAsync("/metrics");
            if (text.Contains("vigil_processing_latency_seconds_count ", StringComparison.Ordinal)
                && !text.Contains("vigil_processing_latency_seconds_count 0\n", StringComparison.Ordinal))
            {
                break;
            }
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Contains("# TYPE vigil_events_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE vigil_processing_latency_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("vigil_processing_latency_seconds_bucket{le=\"+Inf\"}", text, StringComparison.Ordinal);
        Assert.Contains("vigil_alerts_raised_total{severity=\"MEDIUM\"}", text, StringComparison.Ordinal);
        Assert.Matches(@"vigil_consumer_lag_messages\{topic=""user-events"",partition=""\d+""\} \d+", text);
        var events = text.Split('\n').Single(l => l.StartsWith("vigil_events_total ", StringComparison.Ordinal));
        Assert.True(double.Parse(events.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 0, events);
        // What bench e2e divides by the events for the service's bytes per event.
        Assert.Contains("# TYPE dotnet_gc_allocated_bytes_total counter", text, StringComparison.Ordinal);
        var allocated = text.Split('\n').Single(l => l.StartsWith("dotnet_gc_allocated_bytes_total ", StringComparison.Ordinal));
        Assert.True(double.Parse(allocated.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 1_000_000, allocated);
    }

    [Fact]
    public async Task Stream_ServerSentEvents_CarryMetricsAndNewAlerts()
    {
        using var client = new HttpClient { BaseAddress = new Uri(serve.BaseUrl), Timeout = Timeout.InfiniteTimeSpan };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var response = await client.GetAsync("/api/stream", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        var user = "sse-" + Guid.NewGuid().ToString("N")[..8];
        serve.GeneratedUsers[user] = true;
        var t = DateTimeOffset.UtcNow.AddMinutes(-1);
        using var content = new StringContent("[" + string.Join(",", Enumerable.Range(0, 5).Select(i => FailedLogin(user, i, t))) + "]",
            Encoding.UTF8, "application/json");
        (await serve.Analyst.PostAsync("/api/events", content, cts.Token)).Dispose();

        var sawMetrics = false;
        var sawAlert = false;
        string? eventName = null;
        while (!(sawMetrics && sawAlert))
        {
            var line = await reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException();
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                using var data = JsonDocument.Parse(line[6..]);
                sawMetrics |= eventName == "metrics" && data.RootElement.TryGetProperty("eventsIn", out _);
                sawAlert |= eventName == "alert" && data.RootElement.GetProperty("userId").GetString() == user;
            }
        }

        Assert.True(sawMetrics);
        Assert.True(sawAlert);
    }
}
