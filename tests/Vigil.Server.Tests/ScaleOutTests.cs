using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Vigil.Server.Tests;

/// <summary>
/// Scale-out on Kafka: two instances in one consumer group on 8 partitions, PostgreSQL for alerts and checkpoints.
/// One instance is stopped mid-stream; the other takes over its partitions with their state, and the final alert set
/// equals a single-instance run over the same events.
/// </summary>
public sealed class ScaleOutTests
{
    private const string Key = "scaleout-analyst-0123456789";

    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    private static async Task<string> CreateDatabaseAsync()
    {
        var admin = Environment.GetEnvironmentVariable("VIGIL_TEST_POSTGRES")
            ?? throw new InvalidOperationException("VIGIL_TEST_POSTGRES is not set: run ./scripts/test.sh, which starts PostgreSQL.");
        var name = "vigil_scale_" + Guid.NewGuid().ToString("N")[..10];
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name};", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = false }.ConnectionString;
    }

    /// <summary>The ids of every alert stored, whatever its rule.</summary>
    private static async Task<HashSet<string>> StoredAlertsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT alert_id FROM security_alerts", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    [Fact]
    public async Task TwoInstances_OneStoppedMidStream_AlertsEqualTheSingleInstanceRun()
    {
        var directory = Directory.CreateTempSubdirectory("vigil-scale-").FullName;
        try
        {
            // The single-instance truth, from the same events.
            var (simCode, _, simErr) = await VigilProcess.RunAsync(directory, s_timeout, "simulate", "--seed", "21", "--users", "600",
                "--duration", "3h", "--attacks", "BRUTE_FORCE,PASSWORD_SPRAY,CREDENTIAL_STUFFING,ACCOUNT_TAKEOVER", "--out", "events.jsonl");
            Assert.True(simCode == 0, simErr);
            var (replayCode, _, replayErr) = await VigilProcess.RunAsync(directory, s_timeout, "replay", "events.jsonl", "--alerts", "expected.jsonl");
            Assert.True(replayCode == 0, replayErr);
            // Every rule, by id: the per-user rules run per partition in each user's order; the IP and tenant rules run
            // in the one shared stage, which takes the partitions' events in event-time order whatever their interleaving.
            var expectedRules = File.ReadAllLines(Path.Combine(directory, "expected.jsonl"))
                .Select(l => JsonDocument.Parse(l).RootElement)
                // A suppressed repeat is written again under the same id, updated.
                .GroupBy(a => a.GetProperty("alertId").GetString()!)
                .ToDictionary(g => g.Key, g => g.Last().GetProperty("rule").GetString()! + " " + g.Last().GetProperty("summary").GetString());
            var expected = expectedRules.Keys.ToHashSet();
            Assert.True(expected.Count >= 3, $"the stream must hold attacks; it raised {expected.Count} alerts");
            // The spray's and the stuffing's failures are spread over every partition, so over both instances.
            foreach (var rule in new[] { "PASSWORD_SPRAY", "BRUTE_FORCE_IP", "CREDENTIAL_STUFFING", "BRUTE_FORCE", "ACCOUNT_TAKEOVER" })
            {
                Assert.Contains(expectedRules.Values, r => r.StartsWith(rule + " ", StringComparison.Ordinal));
            }

            await using var broker = VigilProcess.Start(directory, null, "broker", "--partitions", "8");
            var bootstrap = (await broker.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim();
            var database = await CreateDatabaseAsync();
            var environment = new Dictionary<string, string>
            {
                ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap,
                ["POSTGRES_URL"] = database,
                ["VIGIL_API_KEYS"] = $"ana:analyst:{Key}",
                ["Vigil__Engine__CheckpointInterval"] = "1s",
                ["Vigil__Kafka__Client__session.timeout.ms"] = "6000",
                ["Vigil__Kafka__Client__heartbeat.interval.ms"] = "1000",
            };
            var portA = VigilProcess.FreePort();
            var portB = VigilProcess.FreePort();
            using var httpA = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{portA}") };
            httpA.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Key);
            using var httpB = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{portB}") };
            httpB.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Key);
            await using var a = VigilProcess.Start(directory, environment, "serve", "--urls", $"http://127.0.0.1:{portA}");
            await using var b = VigilProcess.Start(directory, environment, "serve", "--urls", $"http://127.0.0.1:{portB}");
            await a.WaitForHttpAsync(httpA, "/api/health", TimeSpan.FromSeconds(60));
            await b.WaitForHttpAsync(httpB, "/api/health", TimeSpan.FromSeconds(60));
            // Both members hold user-events partitions before the stream starts (each topic is balanced on its own).
            await b.WaitForOutputLineAsync(l => l.Contains("partitions assigned: user-events[", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            await a.WaitForOutputLineAsync(l => l.Contains("partitions assigned: user-events[", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

            var lines = File.ReadAllLines(Path.Combine(directory, "events.jsonl"));
            async Task PostAsync(HttpClient http, IEnumerable<string> chunk)
            {
                using var content = new StringContent(string.Join("\n", chunk), Encoding.UTF8, "application/x-ndjson");
                using var response = await http.PostAsync("/api/events", content);
                Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
            }
            var half = lines.Length / 2;
            foreach (var chunk in lines.Take(half).Chunk(2000))
            {
                await PostAsync(httpA, chunk);
            }
            // The instance running the shared stage is the one stopped, so that its state and the events it holds for
            // reordering are handed over too.
            const string runningShared = "Running the shared (IP and tenant) rules";
            var sharedDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!a.StandardOutput.Contains(runningShared, StringComparison.Ordinal) && !b.StandardOutput.Contains(runningShared, StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < sharedDeadline, "no instance started the shared stage\nA:\n" + a.StandardOutput + "\nB:\n" + b.StandardOutput);
                await Task.Delay(200);
            }
            var (stopped, survivor, survivorHttp) = b.StandardOutput.Contains(runningShared, StringComparison.Ordinal) ? (b, a, httpA) : (a, b, httpB);
            // Let it process and checkpoint some of its share, then stop it mid-stream.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var stoppedCode = await stopped.TerminateAsync(TimeSpan.FromSeconds(60));
            Assert.True(stoppedCode == 0, $"the stopped instance exited with {stoppedCode}\n{stopped.StandardOutput}\n{stopped.StandardError}");
            Assert.True(stopped.StandardOutput.Contains("Checkpointed and released", StringComparison.Ordinal), stopped.StandardOutput + stopped.StandardError);
            foreach (var chunk in lines.Skip(half).Chunk(2000))
            {
                await PostAsync(survivorHttp, chunk);
            }

            // The shared stage holds the stream's last seconds until every partition has gone idle (30 s).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            HashSet<string> stored;
            do
            {
                await Task.Delay(1000);
                stored = await StoredAlertsAsync(database);
            }
            while (!stored.SetEquals(expected) && DateTime.UtcNow < deadline);

            // The members' logs outlive the run for a look at who owned what.
            File.WriteAllText(Path.Combine(Path.GetTempPath(), "vigil-scaleout-a.log"), a.StandardOutput);
            File.WriteAllText(Path.Combine(Path.GetTempPath(), "vigil-scaleout-b.log"), b.StandardOutput);
            Assert.Contains("Restored the shared (IP and tenant) rules from checkpoint", survivor.StandardOutput, StringComparison.Ordinal);
            Assert.True(stored.SetEquals(expected),
                $"stored {stored.Count}, expected {expected.Count}; missing {string.Join(",", expected.Except(stored).Take(5).Select(id => id + "/" + expectedRules[id]))}; extra {string.Join(",", stored.Except(expected).Take(5))}\nA:\n{a.StandardOutput}\nB:\n{b.StandardOutput}");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
