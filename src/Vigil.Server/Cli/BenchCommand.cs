using System.Text.Json;
using System.Text.Json.Nodes;
using Vigil.Server.Bench;

namespace Vigil.Server.Cli;

/// <summary><c>vigil bench core|e2e|batch</c>: the benchmark harness, each figure side by side with its limit and a peer.</summary>
public static class BenchCommand
{
    private const string Help = """
        Usage: ./vigil bench core  [--events N] [--users N] [--duration 12h] [--seed N] [--runs N] [--warmups N]
                               [--prime N]       (earlier events of the same simulation fed untimed before every
                                                  round, so the state is a running service's; default 8 ×
                                                  --events, 0 starts each round from empty state)
                               [--only jsonLimit|decodeOnly|vigil|vigilPeerRules|rx]   (one contender alone, for a profiler)
                               [--allocations]   (with --only: the types its passes allocate, sampled by the runtime)
                               [--geo-dir DIR|none] [--rules FILE|none] [--no-features]
                                                 (what the pipeline runs; by default what serve runs: the built-in
                                                  rules, the shipped rules file, the geo rules when ./data/geo is
                                                  there, and the ML feature operator)
                               [--rule-costs]    (instead: the engine over pre-decoded events with every built-in
                                                  rule and with each left out in turn, each primed as above;
                                                  ns/event per rule)
               ./vigil bench e2e   [--events N] [--rate R] [--seconds S] [--warmup-seconds S] [--postgres URL]
                               [--runs N] [--partitions N] [--attack-every-ms N]
               ./vigil bench batch [--events N] [--users N] [--seed N] [--runs N] [--duckdb-threads N]
               ./vigil bench memory [--users N] [--events-per-user N]

        Each sub-verb prints one JSON document on standard output (progress goes to standard error).

          core   decoding plus the detection pipeline serve runs (every built-in rule, the rules file, the geo
                 rules, the ML features and scoring) on ONE thread over simulator traffic held in memory, side by
                 side in the same run with the JSON limit (Utf8JsonReader scanning the same bytes and nothing
                 else), the decoder alone, Vigil with only the peer's two rules, and a System.Reactive peer
                 (BRUTE_FORCE and RAPID_ACTIVITY: GroupBy the user, Buffer and Window over event time,
                 JsonSerializer into a POCO). Events/s (median of --runs after --warmups), the ratios, allocated
                 bytes per event, GC pauses and p50/p99 per-event latency.
          e2e    through the broker as its own process (./vigil broker) to alerts stored by ./vigil serve as its
                 own process (PostgreSQL with --postgres or POSTGRES_URL, else SQLite): the sustained rate, and
                 produce → alert-visible-in-the-API latency at a fixed load and at the maximum, after an
                 unmeasured warm-up round at the fixed load (--warmup-seconds, default 30; reported apart);
                 per round also the CPU per event of the service, the broker and the bench itself, the
                 service's allocated bytes per event and collections, and the alerts raised; for a flat-out
                 round also the rate of the service draining its backlog once everything is produced.
          batch  per-user feature aggregation (the 15 ML features) over N simulator events (default 10M, sorted by
                 event time), Vigil's UserFeatureAggregator on one thread against DuckDB (DuckDB.NET, in process)
                 running the equivalent SQL on the same events loaded into a table; rows/s of each (median of
                 --runs), the ratio, and a user-by-user cross-check of the two results.
          memory resident memory with N users (default 1,000,000) active at once in the full per-user pipeline
                 (every rule, suppression, the ML feature operator): RSS, heap per user after a full GC.
        """;

    public static Task<int> RunAsync(string[] args, CancellationToken ct) => RunAsync(args, Console.Out, Console.Error, ct);

    internal static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            await stdout.WriteLineAsync(Help);
            return args.Length == 0 ? 2 : 0;
        }
        var rest = args[1..];
        JsonObject result;
        switch (args[0])
        {
            case "core":
                var core = ParseCore(rest);
                result = await Task.Run(() => core.RuleCosts ? RuleCosts.Run(core, progress, ct) : CoreBench.Run(core, progress, ct), ct);
                break;
            case "e2e":
                result = await E2eBench.RunAsync(ParseE2e(rest), progress, ct);
                break;
            case "batch":
                result = await Task.Run(() => BatchBench.Run(ParseBatch(rest), progress, ct), ct);
                break;
            case "memory":
                result = await Task.Run(() => MemoryBench.Run(ParseMemory(rest), progress, ct), ct);
                break;
            default:
                throw new UsageException($"unknown bench '{args[0]}': core, e2e, batch or memory.");
        }
        await stdout.WriteLineAsync(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static CoreBenchOptions ParseCore(string[] args)
    {
        var cli = CliArgs.Parse(args, ["events", "users", "duration", "seed", "runs", "warmups", "prime", "only", "geo-dir", "rules"], ["allocations", "rule-costs", "no-features"]);
        if (cli.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{cli.Positionals[0]}'.");
        }
        var defaults = new CoreBenchOptions();
        return new CoreBenchOptions
        {
            Events = cli.GetInt("events", defaults.Events, 100, 50_000_000),
            Users = cli.GetInt("users", defaults.Users, 1, 10_000_000),
            Duration = Duration(cli, "duration", defaults.Duration),
            PrimeEvents = cli.Has("prime") ? cli.GetInt("prime", 0, 0, 50_000_000) : null,
            Seed = cli.GetInt("seed", defaults.Seed, int.MinValue, int.MaxValue),
            Runs = cli.GetInt("runs", defaults.Runs, 1, 100),
            Warmups = cli.GetInt("warmups", defaults.Warmups, 0, 100),
            Only = cli.Get("only") switch
            {
                null => null,
                var name when name is "jsonLimit" or "decodeOnly" or "vigil" or "vigilPeerRules" or "rx" => name,
                var other => throw new UsageException($"--only must be jsonLimit, decodeOnly, vigil, vigilPeerRules or rx, not '{other}'."),
            },
            Allocations = cli.Has("allocations"),
            RuleCosts = cli.Has("rule-costs"),
            GeoDir = cli.Get("geo-dir"),
            RulesFile = cli.Get("rules"),
            Features = !cli.Has("no-features"),
        };
    }

    private static MemoryBenchOptions ParseMemory(string[] args)
    {
        var cli = CliArgs.Parse(args, ["users", "events-per-user"], []);
        if (cli.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{cli.Positionals[0]}'.");
        }
        var defaults = new MemoryBenchOptions();
        return new MemoryBenchOptions
        {
            Users = cli.GetInt("users", defaults.Users, 1, 50_000_000),
            EventsPerUser = cli.GetInt("events-per-user", defaults.EventsPerUser, 2, 1000),
        };
    }

    private static BatchBenchOptions ParseBatch(string[] args)
    {
        var cli = CliArgs.Parse(args, ["events", "users", "seed", "runs", "duckdb-threads"], []);
        if (cli.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{cli.Positionals[0]}'.");
        }
        var defaults = new BatchBenchOptions();
        return new BatchBenchOptions
        {
            Events = cli.GetInt("events", defaults.Events, 100, 100_000_000),
            Users = cli.GetInt("users", defaults.Users, 1, 10_000_000),
            Seed = cli.GetInt("seed", defaults.Seed, int.MinValue, int.MaxValue),
            Runs = cli.GetInt("runs", defaults.Runs, 1, 100),
            DuckDbThreads = cli.GetInt("duckdb-threads", defaults.DuckDbThreads, 0, 256),
        };
    }

    private static E2eBenchOptions ParseE2e(string[] args)
    {
        var cli = CliArgs.Parse(args, ["events", "rate", "seconds", "warmup-seconds", "runs", "partitions", "postgres", "attack-every-ms"], []);
        if (cli.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{cli.Positionals[0]}'.");
        }
        var defaults = new E2eBenchOptions();
        return new E2eBenchOptions
        {
            Events = cli.GetInt("events", defaults.Events, 1000, 50_000_000),
            Rate = cli.GetInt("rate", (int)defaults.Rate, 1, 10_000_000),
            Seconds = cli.GetInt("seconds", defaults.Seconds, 1, 3600),
            WarmupSeconds = cli.GetInt("warmup-seconds", defaults.WarmupSeconds, 0, 3600),
            Runs = cli.GetInt("runs", defaults.Runs, 1, 100),
            Partitions = cli.GetInt("partitions", defaults.Partitions, 1, 1024),
            AttackEveryMs = cli.GetInt("attack-every-ms", defaults.AttackEveryMs, 10, 60_000),
            Postgres = cli.Get("postgres") ?? Environment.GetEnvironmentVariable("POSTGRES_URL"),
        };
    }

    private static TimeSpan Duration(CliArgs cli, string name, TimeSpan fallback)
    {
        if (cli.Get(name) is not { } text)
        {
            return fallback;
        }
        return Core.Durations.TryParse(text, out var value) && value > TimeSpan.Zero
            ? value
            : throw new UsageException($"--{name} must be a duration such as 12h or 30m, not '{text}'.");
    }
}
