using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Kafka;

namespace Vigil.Server.Bench;

/// <summary>Settings of <c>bench e2e</c>.</summary>
internal sealed record E2eBenchOptions
{
    /// <summary>Events produced as fast as possible in each maximum-rate round.</summary>
    public int Events { get; init; } = 600_000;

    /// <summary>The fixed load of the latency rounds, events per second.</summary>
    public double Rate { get; init; } = 20_000;

    /// <summary>Length of each fixed-load round.</summary>
    public int Seconds { get; init; } = 8;

    /// <summary>Length of the unmeasured round at the fixed load before the measured ones: the service builds its
    /// 20,000 users' state and the JIT reaches its optimised code, as in a service that has been running. Its figures
    /// are reported apart (the cold start), never pooled with the measured rounds. 0 measures from the first alert.</summary>
    public int WarmupSeconds { get; init; } = 30;

    public int Runs { get; init; } = 5;

    /// <summary>Partitions of the input topic. The mock broker keeps at most 5 MiB per partition and drops the oldest
    /// batches past that, read or not: the maximum-rate round's backlog (600,000 events, ≈ 60 MiB as lz4 batches) must
    /// fit, or the service loses events to retention and the round measures a stall. 16 partitions hold 80 MiB.</summary>
    public int Partitions { get; init; } = 16;

    /// <summary>A PostgreSQL URL for the alerts (and checkpoints); null is SQLite in a temporary directory.</summary>
    public string? Postgres { get; init; }

    /// <summary>A marked brute-force attack is injected this often; its alert's arrival in the API is the latency.</summary>
    public int AttackEveryMs { get; init; } = 200;
}

/// <summary>
/// <c>bench e2e</c>: <c>vigil broker</c> and <c>vigil serve</c> as their own processes; simulator traffic produced
/// with the idempotent producer, re-stamped with the wall clock, at a fixed rate and then as fast as it goes; marked
/// brute-force attacks injected at known times, and GET /api/alerts?user=… polled every few milliseconds until the
/// alert is there. Rates and memory come from the service's own /metrics.
/// </summary>
internal static class E2eBench
{
    private const string Topic = "user-events";
    private static readonly TimeSpan s_pollEvery = TimeSpan.FromMilliseconds(3);

    // Polling backs off as an alert takes longer: every 3 ms up to 60 ms, then a twentieth of the time waited so far
    // (an overestimate of at most 5 %), at most every 50 ms. At the maximum rate, where alerts take seconds, polling
    // every 3 ms put thousands of API requests a second on the service being measured.
    private static readonly TimeSpan s_pollAtMost = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan s_alertTimeout = TimeSpan.FromSeconds(60);

    public static async Task<JsonObject> RunAsync(E2eBenchOptions options, TextWriter progress, CancellationToken ct)
    {
        var perRun = Math.Max(options.Events, (int)(options.Rate * options.Seconds));
        var corpus = CoreBench.Generate(new CoreBenchOptions { Events = perRun, Users = 20_000, PrimeEvents = 0 });
        await progress.WriteLineAsync($"bench e2e: {corpus.Count:N0} events generated");
        var directory = Directory.CreateTempSubdirectory("vigil-bench-e2e-").FullName;
        try
        {
            await using var broker = await Child.StartAsync(directory, ["broker", "--partitions", options.Partitions.ToString(CultureInfo.InvariantCulture)], null, ct);
            var bootstrap = await broker.FirstLineAsync(TimeSpan.FromSeconds(30), ct);
            var port = FreePort();
            var baseUrl = $"http://127.0.0.1:{port}";
            var serveArgs = new List<string>
            {
                "serve", "--kafka", bootstrap, "--simulator", "off", "--urls", baseUrl, "--partitions",
                options.Partitions.ToString(CultureInfo.InvariantCulture), "--data-dir", Path.Combine(directory, "data"),
            };
            if (options.Postgres is { } pg)
            {
                serveArgs.AddRange(["--postgres", pg]);
            }
            var runId = Environment.TickCount64.ToString("x", CultureInfo.InvariantCulture);
            // The mock cluster holds a rebalance for the session timeout; serve sets these itself only for its own broker.
            // A group of its own: checkpoints are kept per group, and an earlier run's would skip this broker's offsets.
            await using var serve = await Child.StartAsync(directory, [.. serveArgs], new Dictionary<string, string>
            {
                ["Vigil__Kafka__GroupId"] = "bench-e2e-" + runId,
                ["Vigil__Kafka__Client__session.timeout.ms"] = "3000",
                ["Vigil__Kafka__Client__heartbeat.interval.ms"] = "500",
                // The first K-Means and Isolation Forest training (K-Means took 0.94 s on the 5,230 users sampled by then;
                // the next comes 10 minutes later) falls into the warm-up instead of the first measured round, where
                // serve's default (tried every 30 s) put it.
                ["Vigil__Ml__FirstTrainingInterval"] = "5s",
            }, ct);
            using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(10) };
            await WaitForHealthAsync(http, serve, ct);

            var producerSettings = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["linger.ms"] = "2",
                ["batch.num.messages"] = "10000",
                ["queue.buffering.max.messages"] = "1000000",
            };
            using var producer = new KafkaProducer(new KafkaOptions { BootstrapServers = bootstrap, ClientSettings = producerSettings },
                NullLogger<KafkaProducer>.Instance);
            var attacks = new Attacks(producer, http, runId);

            // Warm-up: the consumer has its partitions and the code path is compiled once the first alert is in the API.
            await progress.WriteLineAsync("bench e2e: waiting for the first alert (partition assignment, warm-up)");
            var warm = attacks.Inject();
            producer.Flush(TimeSpan.FromSeconds(10));
            if (await warm is null)
            {
                throw new InvalidOperationException("The warm-up alert never appeared.\n" + serve.Tail());
            }

            var fixedRuns = new List<RunFigures>();
            var maxRuns = new List<RunFigures>();
            var sampler = new MetricsSampler(http);
            using var sampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var samplingTask = sampler.RunAsync(TimeSpan.FromMilliseconds(500), sampling.Token);
            RunFigures? warmUp = null;
            if (options.WarmupSeconds > 0)
            {
                warmUp = await RoundAsync(corpus, producer, attacks, sampler, () => broker.CpuSeconds, options, options.Rate, (int)(options.Rate * options.WarmupSeconds), ct);
                await progress.WriteLineAsync($"bench e2e: warm-up {options.WarmupSeconds} s at {options.Rate:N0}/s (not measured): {warmUp.Describe()}");
                sampler.Reset();
            }
            for (var run = 0; run < options.Runs && !serve.HasExited; run++)
            {
                fixedRuns.Add(await RoundAsync(corpus, producer, attacks, sampler, () => broker.CpuSeconds, options, options.Rate, (int)(options.Rate * options.Seconds), ct));
                await progress.WriteLineAsync($"bench e2e: run {run + 1} fixed {options.Rate:N0}/s: {fixedRuns[^1].Describe()}");
                maxRuns.Add(await RoundAsync(corpus, producer, attacks, sampler, () => broker.CpuSeconds, options, null, options.Events, ct));
                await progress.WriteLineAsync($"bench e2e: run {run + 1} maximum: {maxRuns[^1].Describe()}");
            }
            await sampling.CancelAsync();
            await samplingTask;

            // The mock broker dropped events before the service read them (its per-partition retention), so the
            // service's consumer jumped ahead: such a round measured a stall, not the service's rate.
            var retentionResets = serve.CountOccurrences("Offset out of range");
            var anomalies = serve.HasExited || retentionResets > 0 || fixedRuns.Concat(maxRuns).Any(r => r.Uncounted > 0 || r.Missing > 0);
            return new JsonObject
            {
                ["bench"] = "e2e",
                ["serviceExited"] = serve.HasExited,
                ["serviceLogTail"] = anomalies ? serve.Tail() : null,
                ["brokerRetentionResets"] = retentionResets,
                ["valid"] = retentionResets == 0 && !serve.HasExited,
                ["machine"] = BenchStats.Machine(),
                ["setup"] = new JsonObject
                {
                    ["broker"] = "vigil broker (librdkafka mock cluster) as its own process, " + options.Partitions + " partitions",
                    ["service"] = "vigil serve as its own process, simulator off, first model training tried every 5 s (so it falls into the warm-up; the next is 10 minutes later)",
                    ["store"] = options.Postgres is null ? "SQLite (temporary directory)" : "PostgreSQL",
                    ["producer"] = "Vigil.Kafka.KafkaProducer (idempotent, acks=all, lz4, linger 2 ms) in this process",
                    ["traffic"] = "simulator user events (20,000 users), timestamps rewritten to the wall clock when produced",
                    ["latency"] = $"a marked brute force (5 LOGIN_FAILED of a fresh user) every {options.AttackEveryMs} ms; from just before " +
                        $"the 5th is produced until GET /api/alerts?user=… (polled every {s_pollEvery.TotalMilliseconds} ms, backing off to a twentieth of the time waited, at most {s_pollAtMost.TotalMilliseconds} ms) lists its alert",
                    ["runs"] = options.Runs,
                    ["fixedRateSeconds"] = options.Seconds,
                    ["warmUpSeconds"] = options.WarmupSeconds,
                    ["maxRateEvents"] = options.Events,
                },
                // The cold start: the unmeasured first round, from the first alert on, at the fixed load.
                ["warmUp"] = warmUp is null ? null : Summarize([warmUp], options.Rate),
                ["fixedRate"] = Summarize(fixedRuns, options.Rate),
                ["maximum"] = Summarize(maxRuns, null),
                ["service"] = sampler.Summary(),
                ["goals"] = new JsonObject
                {
                    ["sustainedEventsPerSecond"] = Goal(BenchStats.Median([.. maxRuns.Select(r => r.ProcessedPerSecond)]), 150_000, higherIsBetter: true),
                    ["p99MsAtFixedRate"] = Goal(Pooled(fixedRuns, 99), 250, higherIsBetter: false),
                },
            };
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static JsonObject Goal(double measured, double goal, bool higherIsBetter) => new()
    {
        ["goal"] = goal,
        ["measured"] = BenchStats.Round(measured, 1),
        ["met"] = higherIsBetter ? measured >= goal : measured <= goal,
    };

    private static double Pooled(List<RunFigures> runs, double p)
    {
        var all = runs.SelectMany(r => r.LatenciesMs).Order().ToArray();
        return BenchStats.Percentile(all, p);
    }

    private static JsonObject Summarize(List<RunFigures> runs, double? rate)
    {
        var latencies = runs.SelectMany(r => r.LatenciesMs).Order().ToArray();
        var detected = runs.SelectMany(r => r.DetectedMs).Order().ToArray();
        var produced = new JsonArray();
        var processed = new JsonArray();
        foreach (var r in runs)
        {
            produced.Add(Math.Round(r.ProducedPerSecond));
            processed.Add(Math.Round(r.ProcessedPerSecond));
        }
        return new JsonObject
        {
            ["targetEventsPerSecond"] = rate is { } x ? x : "as fast as the producer goes",
            ["producedPerSecond"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.ProducedPerSecond)]), 0),
            ["processedPerSecond"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.ProcessedPerSecond)]), 0),
            ["runsProducedPerSecond"] = produced,
            ["runsProcessedPerSecond"] = processed,
            // A flat-out round has two parts: while the harness produces (it, the broker and the service share the
            // cores), then the service draining what is left. The drain's rate alone, per run (null: no backlog left).
            ["drainPerSecond"] = runs.Where(r => double.IsFinite(r.DrainPerSecond)).Select(r => r.DrainPerSecond).ToArray() is { Length: > 0 } drains
                ? (JsonNode)Math.Round(BenchStats.Median(drains)) : null,
            ["runsDrainPerSecond"] = new JsonArray([.. runs.Select(r => (JsonNode?)(double.IsFinite(r.DrainPerSecond) ? Math.Round(r.DrainPerSecond) : null))]),
            // Produced events vigil_events_total never counted: dead-lettered, or stuck when the counter stalled for 5 s.
            ["eventsNotCounted"] = runs.Sum(r => r.Uncounted),
            ["alertsRaised"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.AlertsRaised)]), 0),
            // From the round's start to the last event counted, divided by the events counted: what each event costs
            // each process, the figure that says what limits the rate on a given number of cores.
            ["cpuMicrosecondsPerEvent"] = new JsonObject
            {
                ["service"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.CpuMicrosPerEvent.Service)]), 2),
                ["broker"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.CpuMicrosPerEvent.Broker)]), 2),
                ["harness"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.CpuMicrosPerEvent.Harness)]), 2),
                ["total"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.CpuMicrosPerEvent.Total)]), 2),
                ["runsService"] = new JsonArray([.. runs.Select(r => (JsonNode)BenchStats.Round(r.CpuMicrosPerEvent.Service, 2))]),
            },
            // Over the same span: what the service allocated per event, and the collections that cost (gen2 ones are
            // counted among the gen0 ones too).
            ["serviceAllocatedBytesPerEvent"] = BenchStats.Round(BenchStats.Median([.. runs.Select(r => r.AllocatedBytesPerEvent)]), 0),
            ["serviceCollectionsPerRun"] = new JsonObject
            {
                ["all"] = new JsonArray([.. runs.Select(r => (JsonNode)r.Gen0Collections)]),
                ["gen2"] = new JsonArray([.. runs.Select(r => (JsonNode)r.Gen2Collections)]),
            },
            ["latencyMs"] = new JsonObject
            {
                ["p50"] = BenchStats.Round(BenchStats.Percentile(latencies, 50), 1),
                ["p99"] = BenchStats.Round(BenchStats.Percentile(latencies, 99), 1),
                ["p999"] = BenchStats.Round(BenchStats.Percentile(latencies, 99.9), 1),
                ["max"] = BenchStats.Round(latencies.Length > 0 ? latencies[^1] : double.NaN, 1),
                ["alerts"] = latencies.Length,
                ["missing"] = runs.Sum(r => r.Missing),
                ["runsP99"] = new JsonArray([.. runs.Select(r => (JsonNode)BenchStats.Round(BenchStats.Percentile([.. r.LatenciesMs.Order()], 99), 1))]),
                // The split: produce → the rule fires (broker, consumer, pipeline), the rest being the sink and the API.
                ["toDetection"] = new JsonObject
                {
                    ["p50"] = BenchStats.Round(BenchStats.Percentile(detected, 50), 1),
                    ["p99"] = BenchStats.Round(BenchStats.Percentile(detected, 99), 1),
                },
            },
        };
    }

    /// <summary>One round: <paramref name="count"/> events at <paramref name="rate"/> (null: flat out), attacks among them.</summary>
    private static async Task<RunFigures> RoundAsync(CoreBench.Corpus corpus, KafkaProducer producer, Attacks attacks, MetricsSampler sampler,
        Func<double> brokerCpu, E2eBenchOptions options, double? rate, int count, CancellationToken ct)
    {
        var before = await sampler.ScrapeAsync(ct);
        var cpuBefore = new CpuSeconds(before.Cpu, brokerCpu(), HarnessCpu());
        if (before.Events < 0)
        {
            return new RunFigures(0, 0, [], 0, count);
        }
        var baseline = before.Events;
        var pending = new List<Task<AttackTiming?>>();
        var attackEvery = Stopwatch.Frequency * options.AttackEveryMs / 1000;
        var start = Stopwatch.GetTimestamp();
        var nextAttack = start + attackEvery;
        var restamp = new Restamper();
        for (var i = 0; i < count; i++)
        {
            if (rate is { } r)
            {
                // Paced in 1 ms steps: never ahead of the schedule, catching up in a burst when behind.
                while (i >= r * Stopwatch.GetElapsedTime(start).TotalSeconds)
                {
                    Thread.Sleep(1);
                }
            }
            var now = Stopwatch.GetTimestamp();
            if (now >= nextAttack)
            {
                pending.Add(attacks.Inject());
                nextAttack += attackEvery;
            }
            var index = i % corpus.Count;
            producer.Produce(Topic, corpus.Keys[index], restamp.Apply(corpus.Values[index]));
            if ((i & 0x3FFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }
        producer.Flush(TimeSpan.FromSeconds(60));
        var produceSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var expected = baseline + count + (pending.Count * Attacks.EventsPerAttack);
        // Where the service stood when the last event was in the broker: past this point the harness only polls, so the
        // rest of a flat-out round is the service draining its backlog with the machine (nearly) to itself.
        var atProduced = await sampler.ScrapeAsync(ct);
        var atProducedSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        // Processed rate: from the first event counted to the last, as the service's own counter saw them.
        // Stops at the expected count, or when the counter has not moved for 5 s (a stall is reported, not waited out).
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 120);
        long last = baseline;
        var lastChange = Stopwatch.GetTimestamp();
        var processSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var cpuAfter = cpuBefore;
        var alertsAfter = before.Alerts;
        var gcAfter = before;
        while (last < expected && Stopwatch.GetTimestamp() < deadline && Stopwatch.GetElapsedTime(lastChange) < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50, ct);
            var sample = await sampler.ScrapeAsync(ct);
            var now = sample.Events;
            if (now < 0)
            {
                break;
            }
            if (now != last)
            {
                last = now;
                lastChange = Stopwatch.GetTimestamp();
                processSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                cpuAfter = new CpuSeconds(sample.Cpu, brokerCpu(), HarnessCpu());
                alertsAfter = sample.Alerts;
                gcAfter = sample;
            }
        }
        var latencies = new List<double>();
        var toDetection = new List<double>();
        var missing = 0;
        foreach (var task in pending)
        {
            if (await task is { } timing)
            {
                latencies.Add(timing.VisibleMs);
                toDetection.Add(timing.DetectedMs);
            }
            else
            {
                missing++;
            }
        }
        var counted = Math.Max(1, last - baseline);
        return new RunFigures(count / produceSeconds, (last - baseline) / processSeconds, latencies, missing, Math.Max(0, expected - last))
        {
            DetectedMs = toDetection,
            AlertsRaised = alertsAfter - before.Alerts,
            AllocatedBytesPerEvent = (gcAfter.Allocated - before.Allocated) / counted,
            // Only a backlog left at that point makes a drain; at a rate the service keeps up with there is none.
            DrainPerSecond = atProduced.Events >= 0 && last - atProduced.Events >= count / 10 && processSeconds > atProducedSeconds
                ? (last - atProduced.Events) / (processSeconds - atProducedSeconds)
                : double.NaN,
            Gen0Collections = gcAfter.Gen0 - before.Gen0,
            Gen2Collections = gcAfter.Gen2 - before.Gen2,
            CpuMicrosPerEvent = new CpuSeconds(
                (cpuAfter.Service - cpuBefore.Service) * 1e6 / counted,
                (cpuAfter.Broker - cpuBefore.Broker) * 1e6 / counted,
                (cpuAfter.Harness - cpuBefore.Harness) * 1e6 / counted),
        };
    }

    /// <summary>Each message with its ISO-8601 timestamp replaced by now (same length), so the stream is live. The
    /// producer copies a value as it queues it, so one buffer per message length serves the whole round, and the time is
    /// formatted once per millisecond: the harness shares the machine with the service it measures.</summary>
    private sealed class Restamper
    {
        private readonly Dictionary<int, byte[]> _buffers = [];
        private readonly byte[] _stamp = new byte[24];
        private long _stampMs = -1;

        public byte[] Apply(byte[] value)
        {
            if (!_buffers.TryGetValue(value.Length, out var buffer))
            {
                _buffers[value.Length] = buffer = new byte[value.Length];
            }
            value.CopyTo(buffer, 0);
            var at = buffer.AsSpan().IndexOf("\"timestamp\":\""u8);
            if (at < 0)
            {
                return buffer;
            }
            var target = buffer.AsSpan(at + 13);
            if (target.Length < 25 || target[24] != (byte)'"')
            {
                return buffer;
            }
            var now = DateTime.UtcNow;
            var ms = now.Ticks / TimeSpan.TicksPerMillisecond;
            if (ms != _stampMs)
            {
                if (!now.TryFormat(_stamp, out var written, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture) || written != 24)
                {
                    return buffer;
                }
                _stampMs = ms;
            }
            _stamp.CopyTo(target);
            return buffer;
        }
    }

    private static async Task WaitForHealthAsync(HttpClient http, Child serve, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (serve.HasExited)
            {
                throw new InvalidOperationException("vigil serve exited:\n" + serve.Tail());
            }
            try
            {
                using var response = await http.GetAsync("/api/health", ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200, ct);
        }
        throw new TimeoutException("vigil serve did not answer /api/health in 90 s:\n" + serve.Tail());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>CPU of the three processes: the service, the broker, and this one (the producer, the attacks and their
    /// polling, the metrics scrapes). As seconds, or per event in microseconds.</summary>
    private readonly record struct CpuSeconds(double Service, double Broker, double Harness)
    {
        public double Total => Service + Broker + Harness;
    }

    private static double HarnessCpu() => Environment.CpuUsage.TotalTime.TotalSeconds;

    private sealed record RunFigures(double ProducedPerSecond, double ProcessedPerSecond, List<double> LatenciesMs, int Missing, long Uncounted)
    {
        /// <summary>CPU per event counted in the round, from its start to the last event counted.</summary>
        public CpuSeconds CpuMicrosPerEvent { get; init; } = new(double.NaN, double.NaN, double.NaN);

        /// <summary>Alerts the service raised in the round (new ones and updates of open ones), the marked ones among them.</summary>
        public double AlertsRaised { get; init; }

        /// <summary>Events/s counted from the moment the harness had produced the round's last event to the last one
        /// counted: the service with the backlog and without the producer beside it. NaN when less than a tenth of the
        /// round was left by then.</summary>
        public double DrainPerSecond { get; init; } = double.NaN;

        /// <summary>Bytes the service allocated per event counted, over the same span as the CPU.</summary>
        public double AllocatedBytesPerEvent { get; init; } = double.NaN;

        /// <summary>The service's gen0 and gen2 collections over that span (a gen2 collection counts as a gen0 one too).</summary>
        public double Gen0Collections { get; init; }

        public double Gen2Collections { get; init; }

        /// <summary>Per alert, from produce to the rule firing (the alert's detectedAt): the part of the latency spent
        /// in the broker, the consumer and the pipeline; the rest is the sink and the API.</summary>
        public List<double> DetectedMs { get; init; } = [];

        public string Describe()
        {
            var sorted = LatenciesMs.Order().ToArray();
            var detected = DetectedMs.Order().ToArray();
            var drain = double.IsFinite(DrainPerSecond) ? $" ({DrainPerSecond:N0}/s once produced)" : "";
            return $"produced {ProducedPerSecond:N0}/s, processed {ProcessedPerSecond:N0}/s{drain}, latency p50 {BenchStats.Percentile(sorted, 50):F1} ms " +
                $"p99 {BenchStats.Percentile(sorted, 99):F1} ms (to detection p50 {BenchStats.Percentile(detected, 50):F1} ms p99 {BenchStats.Percentile(detected, 99):F1} ms; " +
                $"{sorted.Length} alerts, {Missing} missing; {Uncounted} events not counted as processed; {AlertsRaised:N0} alerts raised; CPU per event: service " +
                $"{CpuMicrosPerEvent.Service:F1} µs, broker {CpuMicrosPerEvent.Broker:F1} µs, harness {CpuMicrosPerEvent.Harness:F1} µs; service allocated " +
                $"{AllocatedBytesPerEvent:F0} B/event, {Gen0Collections:F0} collections, {Gen2Collections:F0} of gen2)";
        }
    }

    /// <summary>One attack's alert: produce → visible in the API, and produce → detected (the alert's detectedAt).</summary>
    private readonly record struct AttackTiming(double VisibleMs, double DetectedMs);

    /// <summary>Marked brute-force attacks on fresh users, each timed until its alert can be read from the API.</summary>
    private sealed class Attacks(KafkaProducer producer, HttpClient http, string runId)
    {
        public const int EventsPerAttack = 5;
        private int _next;

        public Task<AttackTiming?> Inject()
        {
            var user = $"e2e-{runId}-{_next++}";
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            long started = 0;
            for (var i = 0; i < EventsPerAttack; i++)
            {
                var json = $$$"""{"eventId":"{{{user}}}-{{{i}}}","eventType":"LOGIN_FAILED","timestamp":{{{now + i}}},"userId":"{{{user}}}","ipAddress":"203.0.113.{{{i + 1}}}","properties":{"reason":"bad_password"}}""";
                if (i == EventsPerAttack - 1)
                {
                    started = Stopwatch.GetTimestamp();
                }
                producer.Produce(Topic, user, Encoding.UTF8.GetBytes(json));
            }
            return PollAsync(user, started);
        }

        private async Task<AttackTiming?> PollAsync(string user, long started)
        {
            var url = "/api/alerts?user=" + Uri.EscapeDataString(user);
            while (Stopwatch.GetElapsedTime(started) < s_alertTimeout)
            {
                try
                {
                    using var response = await http.GetAsync(url);
                    if (response.IsSuccessStatusCode)
                    {
                        var body = await response.Content.ReadAsByteArrayAsync();
                        using var doc = JsonDocument.Parse(body);
                        var items = doc.RootElement.GetProperty("items");
                        if (items.GetArrayLength() > 0)
                        {
                            var visibleMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                            // The same machine's clock on both sides: the service stamps detectedAt when the rule fires.
                            var producedAt = DateTimeOffset.UtcNow.AddMilliseconds(-visibleMs);
                            var detectedMs = (items[0].GetProperty("detectedAt").GetDateTimeOffset() - producedAt).TotalMilliseconds;
                            return new AttackTiming(visibleMs, Math.Clamp(detectedMs, 0, visibleMs));
                        }
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }
                var waited = Stopwatch.GetElapsedTime(started);
                await Task.Delay(waited / 20 < s_pollEvery ? s_pollEvery : waited / 20 > s_pollAtMost ? s_pollAtMost : waited / 20);
            }
            return null;
        }
    }

    /// <summary>Reads the service's /metrics: the event counter, and RSS and GC pauses over the run.</summary>
    private sealed class MetricsSampler(HttpClient http)
    {
        private readonly List<double> _rss = [];
        private readonly List<double> _pauseShare = [];
        private readonly List<double> _processedPerSecond = [];
        private readonly Lock _lock = new();
        private Sample? _previous;
        private double _gen2AtReset;

        public readonly record struct Sample(long Events, double Rss, double PauseSeconds, double Uptime, double Gen2, double Cpu = double.NaN, double Alerts = 0)
        {
            /// <summary>Bytes the service allocated since it started (NaN when it does not say).</summary>
            public double Allocated { get; init; } = double.NaN;

            /// <summary>Gen0 collections since it started (every collection counts as one of gen0 too).</summary>
            public double Gen0 { get; init; }
        }

        /// <summary>The service's figures now; Events is −1 when it does not answer (it crashed: see serviceLogTail).</summary>
        public async Task<Sample> ScrapeAsync(CancellationToken ct)
        {
            string text;
            try
            {
                text = await http.GetStringAsync("/metrics", ct);
            }
            catch (HttpRequestException)
            {
                return new Sample(-1, 0, 0, 0, 0);
            }
            double events = 0, rss = 0, ratio = 0, uptime = 0, gen2 = 0, cpu = double.NaN, alerts = 0, allocated = double.NaN, gen0 = 0;
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith('#'))
                {
                    continue;
                }
                var space = line.LastIndexOf(' ');
                if (space < 0 || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                {
                    continue;
                }
                var name = line[..space];
                switch (name)
                {
                    case "vigil_events_total": events = v; break;
                    case "process_resident_memory_bytes": rss = v; break;
                    case "dotnet_gc_pause_time_ratio": ratio = v; break;
                    case "vigil_uptime_seconds": uptime = v; break;
                    case "dotnet_gc_collections_total{generation=\"0\"}": gen0 = v; break;
                    case "dotnet_gc_collections_total{generation=\"2\"}": gen2 = v; break;
                    case "dotnet_gc_allocated_bytes_total": allocated = v; break;
                    case "process_cpu_seconds_total": cpu = v; break;
                    case var raised when raised.StartsWith("vigil_alerts_raised_total{", StringComparison.Ordinal): alerts += v; break;
                }
            }
            // The ratio is over the whole uptime (at least 1 s); back to cumulative pause seconds.
            return new Sample((long)events, rss, ratio * Math.Max(1, uptime), uptime, gen2, cpu, alerts) { Allocated = allocated, Gen0 = gen0 };
        }

        public async Task RunAsync(TimeSpan every, CancellationToken ct)
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    var s = await ScrapeAsync(ct);
                    if (s.Events < 0)
                    {
                        await Task.Delay(every, ct);
                        continue;
                    }
                    lock (_lock)
                    {
                        _rss.Add(s.Rss);
                        if (_previous is { } p && s.Uptime > p.Uptime)
                        {
                            _pauseShare.Add((s.PauseSeconds - p.PauseSeconds) / (s.Uptime - p.Uptime));
                            _processedPerSecond.Add((s.Events - p.Events) / (s.Uptime - p.Uptime));
                        }
                        _previous = s;
                    }
                    await Task.Delay(every, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                catch (HttpRequestException)
                {
                }
            }
        }

        /// <summary>Forgets what was sampled so far (the warm-up): the summary covers the measured rounds only.</summary>
        public void Reset()
        {
            lock (_lock)
            {
                _rss.Clear();
                _pauseShare.Clear();
                _processedPerSecond.Clear();
                _gen2AtReset = _previous?.Gen2 ?? 0;
            }
        }

        public JsonObject Summary()
        {
            lock (_lock)
            {
                var rss = _rss.Order().ToArray();
                var pause = _pauseShare.Order().ToArray();
                var rate = _processedPerSecond.Order().ToArray();
                return new JsonObject
                {
                    ["samples"] = rss.Length,
                    ["rssMiB"] = new JsonObject
                    {
                        ["p50"] = BenchStats.Round(BenchStats.Percentile(rss, 50) / (1 << 20), 1),
                        ["max"] = BenchStats.Round((rss.Length > 0 ? rss[^1] : double.NaN) / (1 << 20), 1),
                    },
                    ["gcPauseShareOfEachInterval"] = new JsonObject
                    {
                        ["method"] = "dotnet_gc_pause_time_ratio × vigil_uptime_seconds gives cumulative pause seconds; differences between scrapes 0.5 s apart give the share of each interval spent paused",
                        ["p50"] = BenchStats.Round(BenchStats.Percentile(pause, 50), 4),
                        ["p99"] = BenchStats.Round(BenchStats.Percentile(pause, 99), 4),
                        ["max"] = BenchStats.Round(pause.Length > 0 ? pause[^1] : double.NaN, 4),
                    },
                    ["processedPerSecondOfEachInterval"] = new JsonObject
                    {
                        ["p50"] = BenchStats.Round(BenchStats.Percentile(rate, 50), 0),
                        ["max"] = BenchStats.Round(rate.Length > 0 ? rate[^1] : double.NaN, 0),
                    },
                    ["gen2Collections"] = (_previous?.Gen2 ?? 0) - _gen2AtReset,
                };
            }
        }
    }

    /// <summary>A <c>vigil</c> verb as a child process, killed with its tree on dispose.</summary>
    private sealed class Child : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();

        private Child(Process process) => _process = process;

        public bool HasExited => _process.HasExited;

        /// <summary>The CPU time the child has used so far, in seconds; NaN once it is gone.</summary>
        public double CpuSeconds
        {
            get
            {
                try
                {
                    _process.Refresh();
                    return _process.HasExited ? double.NaN : _process.TotalProcessorTime.TotalSeconds;
                }
                catch (InvalidOperationException)
                {
                    return double.NaN;
                }
            }
        }

        public static Task<Child> StartAsync(string directory, string[] args, IReadOnlyDictionary<string, string>? env, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            var info = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(typeof(E2eBench).Assembly.Location);
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }
            info.Environment.Remove("KAFKA_BOOTSTRAP_SERVERS");
            info.Environment.Remove("POSTGRES_URL");
            foreach (var (key, value) in env ?? new Dictionary<string, string>())
            {
                info.Environment[key] = value;
            }
            var process = new Process { StartInfo = info };
            var child = new Child(process);
            process.OutputDataReceived += (_, e) => child.Append(e.Data, stdout: true);
            process.ErrorDataReceived += (_, e) => child.Append(e.Data, stdout: false);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return Task.FromResult(child);
        }

        public async Task<string> FirstLineAsync(TimeSpan timeout, CancellationToken ct) =>
            await _firstLine.Task.WaitAsync(timeout, ct);

        /// <summary>Occurrences of <paramref name="text"/> in the output so far.</summary>
        public int CountOccurrences(string text)
        {
            string output;
            lock (_lock)
            {
                output = _output.ToString();
            }
            var count = 0;
            for (var at = output.IndexOf(text, StringComparison.Ordinal); at >= 0; at = output.IndexOf(text, at + text.Length, StringComparison.Ordinal))
            {
                count++;
            }
            return count;
        }

        public string Tail()
        {
            lock (_lock)
            {
                var text = _output.ToString();
                return text.Length > 4000 ? text[^4000..] : text;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
            _process.Dispose();
        }

        private void Append(string? line, bool stdout)
        {
            if (line is null)
            {
                return;
            }
            if (stdout && line.Length > 0)
            {
                _firstLine.TrySetResult(line.Trim());
            }
            lock (_lock)
            {
                _output.AppendLine(line);
            }
        }
    }
}
