using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Kafka;

namespace Vigil.Server.Tests;

/// <summary>
/// The guarantees under faults, against the broker as its own process and a real PostgreSQL: kill -9 the service at
/// random points, stop the database for 30 s; the alerts stored at the end are exactly those of an undisturbed run.
/// </summary>
public sealed class FaultTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    private static Dictionary<string, string> Environment(string bootstrap, string postgres, string guarantee = "at_least_once") => new()
    {
        ["PROCESSING_GUARANTEE"] = guarantee,
        ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap,
        ["POSTGRES_URL"] = postgres,
        // exactly_once: a longer interval, so the kills land between an alert's publication and the checkpoint that
        // covers it, where a restart re-emits it and only the read-back keeps it from appearing twice.
        ["Vigil__Engine__CheckpointInterval"] = guarantee == "exactly_once" ? "5s" : "1s",
        ["Vigil__Kafka__Client__session.timeout.ms"] = "6000",
        ["Vigil__Kafka__Client__heartbeat.interval.ms"] = "1000",
    };

    /// <summary>Simulated events and the ids of every alert one uninterrupted replay gives for them, whatever the rule:
    /// the per-user rules' and the shared (IP and tenant) stage's.</summary>
    private static async Task<(string[] Lines, HashSet<string> Expected)> TruthAsync(string directory, int seed)
    {
        var (simCode, _, simErr) = await VigilProcess.RunAsync(directory, s_timeout, "simulate", "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--users", "500", "--duration", "3h", "--attacks", "BRUTE_FORCE,CREDENTIAL_STUFFING,ACCOUNT_TAKEOVER", "--out", "events.jsonl");
        Assert.True(simCode == 0, simErr);
        var (code, _, err) = await VigilProcess.RunAsync(directory, s_timeout, "replay", "events.jsonl", "--alerts", "expected.jsonl");
        Assert.True(code == 0, err);
        var expected = File.ReadAllLines(Path.Combine(directory, "expected.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("alertId").GetString()!).ToHashSet();
        Assert.True(expected.Count >= 3, $"the stream must hold attacks; it raised {expected.Count} alerts");
        return (File.ReadAllLines(Path.Combine(directory, "events.jsonl")), expected);
    }

    private static void Produce(KafkaProducer producer, IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            var key = root.TryGetProperty("userId", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : root.GetProperty("username").GetString();
            producer.Produce("user-events", key, System.Text.Encoding.UTF8.GetBytes(line));
        }
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, producer.DeliveryErrors);
    }

    private static async Task<HashSet<string>> WaitForAlertsAsync(ThrowawayPostgres postgres, HashSet<string> expected, TimeSpan timeout, Func<string> diagnostics)
    {
        var deadline = DateTime.UtcNow + timeout;
        HashSet<string> stored = [];
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                stored = await postgres.AlertIdsAsync(null);
                if (stored.SetEquals(expected))
                {
                    return stored;
                }
            }
            catch (Npgsql.NpgsqlException)
            {
            }
            await Task.Delay(1000);
        }
        Assert.Fail($"stored {stored.Count}, expected {expected.Count}; missing {string.Join(",", expected.Except(stored).Take(5))}; " +
            $"extra {string.Join(",", stored.Except(expected).Take(5))}\n{diagnostics()}");
        return stored;
    }

    /// <summary>Every record on a topic as a read_committed consumer in a fresh group sees it: key → values.</summary>
    private static async Task<List<string>> ReadCommittedAsync(string bootstrap, string topic)
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<SourceRecord>();
        await using var source = new KafkaSource(new KafkaOptions { BootstrapServers = bootstrap, GroupId = "verify-" + Guid.NewGuid().ToString("N") },
            [topic], channel.Writer, NullLogger<KafkaSource>.Instance);
        source.Start(CancellationToken.None);
        var values = new List<string>();
        var quietSince = DateTime.UtcNow;
        while (DateTime.UtcNow - quietSince < TimeSpan.FromSeconds(5))
        {
            while (channel.Reader.TryRead(out var record))
            {
                values.Add(System.Text.Encoding.UTF8.GetString(record.Value.Span));
                quietSince = DateTime.UtcNow;
            }
            await Task.Delay(100);
        }
        return values;
    }

    [Theory]
    [InlineData("at_least_once")]
    [InlineData("exactly_once")]
    public async Task Serve_KilledAtThreeRandomPoints_AlertsEqualTheUninterruptedRun(string guarantee)
    {
        var directory = Directory.CreateTempSubdirectory("vigil-kill-").FullName;
        try
        {
            // Every rule: the shared stage's alerts too come out as in the uninterrupted run, ids included.
            var (lines, expected) = await TruthAsync(directory, 31);
            await using var postgres = await ThrowawayPostgres.StartAsync();
            await using var broker = VigilProcess.Start(directory, null, "broker", "--partitions", "4");
            var bootstrap = (await broker.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim();
            using var producer = new KafkaProducer(new KafkaOptions { BootstrapServers = bootstrap }, NullLogger<KafkaProducer>.Instance);
            var random = new Random(7);
            var log = new System.Text.StringBuilder();
            var chunks = lines.Chunk((lines.Length / 4) + 1).ToList();

            // One port for every incarnation, as a service manager restarts it: the default transactional id follows it.
            var port = VigilProcess.FreePort();
            for (var round = 0; round < 4; round++)
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
                var serve = VigilProcess.Start(directory, Environment(bootstrap, postgres.ConnectionString, guarantee), "serve", "--urls", $"http://127.0.0.1:{port}");
                try
                {
                    await serve.WaitForHttpAsync(http, "/api/health", TimeSpan.FromSeconds(60));
                    Produce(producer, chunks[round]);
                    if (round < 3)
                    {
                        // Somewhere in the middle of processing, or after a checkpoint or two.
                        // exactly_once: the second kill comes after this instance's first checkpoint, so the restart resumes
                        // from one and reads back from the ends saved with it; the others before any, so the restart
                        // reads back from the topic's start.
                        if (guarantee == "exactly_once" && round == 1)
                        {
                            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                            while (await MetricAsync(http, "vigil_checkpoints_total") < 1 && DateTime.UtcNow < deadline)
                            {
                                await Task.Delay(200);
                            }
                        }
                        await Task.Delay(guarantee == "exactly_once" ? random.Next(300, 2500) : random.Next(200, 3000));
                    }
                    else
                    {
                        await WaitForAlertsAsync(postgres, expected, TimeSpan.FromSeconds(120), () => log + serve.StandardOutput);
                        if (guarantee == "exactly_once")
                        {
                            // Let the last checkpoint commit its transaction, then read the topic as a downstream consumer would.
                            await Task.Delay(TimeSpan.FromSeconds(3));
                            // Each record once: an alert's id, with its occurrence count (a suppressed repeat is a record of its own).
                            var records = (await ReadCommittedAsync(bootstrap, "security-alerts")).Select(v => JsonDocument.Parse(v).RootElement)
                                .Select(a => a.GetProperty("alertId").GetString()! + "/" + a.GetProperty("evidence").GetProperty("occurrences").GetInt32())
                                .ToList();
                            var repeated = records.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => $"{g.Key} x{g.Count()}").ToList();
                            Assert.True(repeated.Count == 0, $"{records.Count} records, repeated: {string.Join(", ", repeated.Take(5))}\n{log}{serve.StandardOutput}");
                            Assert.True(records.Select(r => r[..r.IndexOf('/', StringComparison.Ordinal)]).ToHashSet().SetEquals(expected),
                                $"topic {records.Count} alerts, expected {expected.Count}\n{log}{serve.StandardOutput}");
                            // Both restore paths ran: from a checkpoint (start offset and read-back from its saved ends), and
                            // without one (read-back from the topic's start).
                            var all = log.ToString() + serve.StandardOutput;
                            Assert.True(all.Contains("after its checkpoint", StringComparison.Ordinal), all);
                            Assert.True(all.Contains("from its start: the alerts", StringComparison.Ordinal), all);
                        }
                    }
                }
                finally
                {
                    log.AppendLine($"--- round {round}").Append(serve.StandardOutput);
                    await serve.DisposeAsync(); // kill -9
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Serve_PostgresDownFor30Seconds_LosesNothingAndRecoversByItself()
    {
        var directory = Directory.CreateTempSubdirectory("vigil-pgdown-").FullName;
        try
        {
            var (lines, expected) = await TruthAsync(directory, 32);
            await using var postgres = await ThrowawayPostgres.StartAsync();
            await using var broker = VigilProcess.Start(directory, null, "broker", "--partitions", "4");
            var bootstrap = (await broker.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim();
            using var producer = new KafkaProducer(new KafkaOptions { BootstrapServers = bootstrap }, NullLogger<KafkaProducer>.Instance);
            var port = VigilProcess.FreePort();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await using var serve = VigilProcess.Start(directory, Environment(bootstrap, postgres.ConnectionString), "serve", "--urls", $"http://127.0.0.1:{port}");
            await serve.WaitForHttpAsync(http, "/api/health", TimeSpan.FromSeconds(60));

            Produce(producer, lines.Take(lines.Length / 2));
            await Task.Delay(2000);
            await postgres.StopServerAsync();
            Produce(producer, lines.Skip(lines.Length / 2));
            await Task.Delay(TimeSpan.FromSeconds(10));
            using (var health = await http.GetAsync("/api/health"))
            {
                Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
            }
            await Task.Delay(TimeSpan.FromSeconds(20));
            await postgres.StartServerAsync();

            await WaitForAlertsAsync(postgres, expected, TimeSpan.FromSeconds(90), () => serve.StandardOutput);
            using var healthy = await http.GetAsync("/api/health");
            Assert.Equal(System.Net.HttpStatusCode.OK, healthy.StatusCode);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Serve_BrokerGone_ReadinessAndHealthSayWhich()
    {
        var directory = Directory.CreateTempSubdirectory("vigil-brokerdown-").FullName;
        try
        {
            var broker = VigilProcess.Start(directory, null, "broker");
            var bootstrap = (await broker.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim();
            var port = VigilProcess.FreePort();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await using var serve = VigilProcess.Start(directory, new Dictionary<string, string> { ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap },
                "serve", "--urls", $"http://127.0.0.1:{port}");
            await serve.WaitForHttpAsync(http, "/health/ready", TimeSpan.FromSeconds(60));

            await broker.DisposeAsync();
            using var ready = await http.GetAsync("/health/ready");
            using var health = await http.GetAsync("/api/health");
            var report = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;

            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal("unhealthy", report.GetProperty("broker").GetProperty("status").GetString());
            Assert.Equal("healthy", report.GetProperty("database").GetProperty("status").GetString());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A counter from <c>/metrics</c>, or -1 while the service does not answer.</summary>
    private static async Task<double> MetricAsync(HttpClient http, string name)
    {
        try
        {
            var text = await http.GetStringAsync("/metrics");
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith(name + " ", StringComparison.Ordinal))
                {
                    return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        catch (HttpRequestException)
        {
        }
        return -1;
    }

    [Fact]
    public async Task Serve_BrokerRestartedEmptyOnTheSamePort_ReconnectsAndAlertsOnNewEvents()
    {
        var directory = Directory.CreateTempSubdirectory("vigil-brokerrestart-").FullName;
        try
        {
            var (lines, expected) = await TruthAsync(directory, 33);
            await using var postgres = await ThrowawayPostgres.StartAsync();
            var brokerPort = VigilProcess.FreePort();
            var broker = VigilProcess.Start(directory, null, "broker", "--port", brokerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--partitions", "4");
            var bootstrap = (await broker.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim();
            var port = VigilProcess.FreePort();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await using var serve = VigilProcess.Start(directory, Environment(bootstrap, postgres.ConnectionString), "serve", "--urls", $"http://127.0.0.1:{port}");
            await serve.WaitForHttpAsync(http, "/api/health", TimeSpan.FromSeconds(60));

            // The first half, processed and covered by a checkpoint; then the broker goes, with everything it held.
            var half = lines.Length / 2;
            using (var producer = new KafkaProducer(new KafkaOptions { BootstrapServers = bootstrap }, NullLogger<KafkaProducer>.Instance))
            {
                Produce(producer, lines.Take(half));
            }
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (await MetricAsync(http, "vigil_events_total") < half && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            // The events forwarded to the shared topic live on the broker too: they must have reached the shared stage
            // (lag 0) and a checkpoint of it, or they vanish with the broker, as any event not yet read does.
            while (await MetricAsync(http, "vigil_consumer_lag_messages{topic=\"streaming-analytics-shared\",partition=\"0\"}") != 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            await Task.Delay(TimeSpan.FromSeconds(3));
            await broker.DisposeAsync(); // kill -9: the mock's data lives in memory only
            // Longer than session.timeout.ms: the consumers' sessions expire and they rejoin a group on the new cluster,
            // which can assign their partitions before librdkafka has noticed the cluster id changed.
            await Task.Delay(TimeSpan.FromSeconds(10));
            await using var restarted = VigilProcess.Start(directory, null, "broker", "--port", brokerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--partitions", "4");
            Assert.Equal(bootstrap, (await restarted.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim());

            // The second half goes to the new, empty broker, at offsets from 0 again.
            using (var producer = new KafkaProducer(new KafkaOptions { BootstrapServers = bootstrap }, NullLogger<KafkaProducer>.Instance))
            {
                Produce(producer, lines.Skip(half));
            }

            await WaitForAlertsAsync(postgres, expected, TimeSpan.FromSeconds(120), () => serve.StandardOutput);
            Assert.False(serve.HasExited, serve.StandardOutput);
            Assert.True(await MetricAsync(http, "vigil_log_truncations_total") >= 1, serve.StandardOutput);
            Assert.Contains("the broker's log was truncated or replaced", serve.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
