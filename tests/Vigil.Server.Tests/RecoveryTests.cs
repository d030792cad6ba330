using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Vigil.Server.Tests;

/// <summary>
/// Kill -9 the service between two halves of an attack: the checkpointed state of the first half comes back with the
/// restart, so the second half completes the detection, and the committed offsets do not replay the first half twice.
/// </summary>
public sealed class RecoveryTests
{
    private const string Key = "recovery-analyst-0123456789";

    private static async Task PostEventsAsync(HttpClient http, string user, int from, int count, DateTimeOffset t0)
    {
        var events = Enumerable.Range(from, count).Select(i => new
        {
            eventId = $"{user}-{i}", eventType = "LOGIN_FAILED", timestamp = t0.AddSeconds(i * 2).ToString("O"), userId = user,
            ipAddress = "198.51.100.31",
        });
        using var response = await http.PostAsJsonAsync("/api/events", events);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Serve_KilledAfterACheckpoint_RestoresStateAndDetectsAcrossTheRestart()
    {
        var directory = Directory.CreateTempSubdirectory("vigil-recovery-").FullName;
        try
        {
            await using var broker = VigilProcess.Start(directory, null, "broker");
            var bootstrap = (await broker.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim();
            var port = VigilProcess.FreePort();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Key);
            var environment = new Dictionary<string, string>
            {
                ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap,
                ["VIGIL_API_KEYS"] = $"ana:analyst:{Key}",
                ["Vigil__Engine__CheckpointInterval"] = "1s",
                // The killed member holds its partitions until its session times out; keep that short for the test.
                ["Vigil__Kafka__Client__session.timeout.ms"] = "6000",
                ["Vigil__Kafka__Client__heartbeat.interval.ms"] = "1000",
            };
            string[] serve = ["serve", "--urls", $"http://127.0.0.1:{port}"];
            var user = "victim-" + Guid.NewGuid().ToString("N")[..6];
            var t0 = DateTimeOffset.UtcNow.AddMinutes(-2);

            await using (var first = VigilProcess.Start(directory, environment, serve))
            {
                await first.WaitForHttpAsync(http, "/api/health", TimeSpan.FromSeconds(60));
                await PostEventsAsync(http, user, 0, 3, t0);
                // Wait until the three failures are processed and every partition that took them is checkpointed
                // past them (the partitions take turns, so a count of checkpoints says nothing about one partition).
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (true)
                {
                    var m = await http.GetFromJsonAsync<JsonElement>("/api/metrics");
                    var pipeline = await http.GetFromJsonAsync<JsonElement>("/api/pipeline");
                    var busy = pipeline.GetProperty("partitions").EnumerateArray()
                        .Where(p => p.GetProperty("topic").GetString() == "user-events" && p.GetProperty("lastOffset").GetInt64() >= 0)
                        .ToList();
                    if (m.GetProperty("eventsIn").GetInt64() >= 3 && busy.Count > 0
                        && busy.All(p => p.GetProperty("checkpointedOffset").GetInt64() >= p.GetProperty("lastOffset").GetInt64()))
                    {
                        // The consumer commits the offsets a checkpoint stored within a second; let it.
                        await Task.Delay(TimeSpan.FromSeconds(2.5));
                        break;
                    }
                    Assert.True(DateTime.UtcNow < deadline, "no checkpoint after the first half:\n" + first.StandardOutput);
                    await Task.Delay(200);
                }
            } // disposing kills the process tree: kill -9, no clean shutdown

            await using var second = VigilProcess.Start(directory, environment, serve);
            await second.WaitForHttpAsync(http, "/api/health", TimeSpan.FromSeconds(60));
            await PostEventsAsync(http, user, 3, 2, t0);

            JsonElement alert = default;
            var found = false;
            for (var i = 0; i < 100 && !found; i++)
            {
                var page = await http.GetFromJsonAsync<JsonElement>("/api/alerts?user=" + user);
                if (page.GetProperty("count").GetInt32() > 0)
                {
                    alert = page.GetProperty("items")[0];
                    found = true;
                }
                else
                {
                    await Task.Delay(300);
                }
            }
            Assert.True(found, "no alert after the restart:\n" + second.StandardOutput);
            var ids = alert.GetProperty("evidence").GetProperty("eventIds").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Equal(Enumerable.Range(0, 5).Select(i => $"{user}-{i}"), ids);
            Assert.Contains("Restored user-events", second.StandardOutput, StringComparison.Ordinal);
            var metrics = await http.GetFromJsonAsync<JsonElement>("/api/metrics");
            Assert.Equal(2, metrics.GetProperty("eventsIn").GetInt64());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
