using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Vigil.Core.Alerts;
using Vigil.Core.Events;
using Vigil.Core.Processing;
using Vigil.Simulator;

namespace Vigil.Server.Bench;

/// <summary>Settings of <c>bench core</c>.</summary>
internal sealed record CoreBenchOptions
{
    public int Events { get; init; } = 500_000;

    public int Users { get; init; } = 20_000;

    public TimeSpan Duration { get; init; } = TimeSpan.FromHours(12);

    /// <summary>Events of the same simulation before the measured ones (at the same rate), fed untimed to each stateful
    /// contender before every round so that its state is a running service's (users past the anomaly rule's learning
    /// minimum, the forest trained); 0 starts every round from empty state, null is eight times <see cref="Events"/>
    /// (four days before the default twelve hours: measured, the rate stops falling after about that much history).</summary>
    public int? PrimeEvents { get; init; }

    /// <summary><see cref="PrimeEvents"/> with its default applied.</summary>
    public int PrimeCount => PrimeEvents ?? (int)Math.Min(int.MaxValue / 2, 8L * Events);

    public int Seed { get; init; } = 1;

    /// <summary>Measured rounds; each contender's figure is the median over them.</summary>
    public int Runs { get; init; } = 5;

    /// <summary>Rounds run first and thrown away (JIT tiers, caches, the GC's budgets).</summary>
    public int Warmups { get; init; } = 2;

    /// <summary>One event in this many is timed on its own for the latency percentiles.</summary>
    public int SampleEvery { get; init; } = 97;

    /// <summary>Run only this contender (jsonLimit, decodeOnly, vigil, vigilPeerRules or rx), for a profiler; null runs all five.</summary>
    public string? Only { get; init; }

    /// <summary>Sample the types the measured passes allocate (the runtime's allocation ticks), for a profile.</summary>
    public bool Allocations { get; init; }

    /// <summary>The IP geolocation data for the geo rules and features: null resolves it as replay does
    /// (<c>$VIGIL_GEO_DIR</c>, else ./data/geo) and runs without it when absent; "none" runs without it.</summary>
    public string? GeoDir { get; init; }

    /// <summary>The declarative rules file: null is the shipped one (as replay and serve load it), "none" built-in rules only.</summary>
    public string? RulesFile { get; init; }

    /// <summary>Whether the per-user ML feature operator (USER_FEATURES, as serve runs it) is in the pipeline.</summary>
    public bool Features { get; init; } = true;

    /// <summary>Measure each built-in rule's share of the engine instead (<see cref="RuleCosts"/>).</summary>
    public bool RuleCosts { get; init; }
}

/// <summary>
/// <c>bench core</c>: the detection pipeline on one thread over simulator traffic held in memory, side by side with the
/// JSON limit (a <see cref="Utf8JsonReader"/> that only scans the same bytes), the decoder alone (the share of
/// decoding in Vigil's cost) and the System.Reactive peer (<see cref="RxPeer"/>), in one process and one run.
/// </summary>
internal static class CoreBench
{
    private const string Topic = "user-events";

    /// <summary>User events of the simulator, as a producer would send them: the measured ones, and the ones of the
    /// same simulation before them that prime the contenders' state (none when not asked for).</summary>
    internal sealed class Corpus(string[] keys, byte[][] values, long bytes, string[]? primeKeys = null, byte[][]? primeValues = null)
    {
        public string[] Keys { get; } = keys;

        public byte[][] Values { get; } = values;

        public long Bytes { get; } = bytes;

        public int Count => Values.Length;

        public string[] PrimeKeys { get; } = primeKeys ?? [];

        public byte[][] PrimeValues { get; } = primeValues ?? [];

        public int PrimeCount => PrimeValues.Length;

        /// <summary>Feeds the priming events to <paramref name="pipeline"/> (raw bytes, as serve reads them; untimed)
        /// and returns the checkpoint they leave, which every measured round restores.</summary>
        public byte[] PrimeCheckpoint(DetectionPipeline pipeline)
        {
            var alerts = new List<Alert>();
            for (var i = 0; i < PrimeCount; i++)
            {
                pipeline.Process(Topic, 0, i, PrimeKeys[i], PrimeValues[i], alerts, out _);
                alerts.Clear();
            }
            return pipeline.Snapshot();
        }
    }

    public static Corpus Generate(CoreBenchOptions options)
    {
        // Enough legitimate traffic to reach the event count inside the duration; attacks come on top. The priming
        // events come first, at the same rate, over a proportionally longer simulation.
        var rate = Math.Max(0.5, options.Events / options.Duration.TotalSeconds * 1.05);
        var total = options.PrimeCount + options.Events;
        var simulation = new Simulation(new SimulatorOptions
        {
            Seed = options.Seed,
            Users = options.Users,
            Duration = options.Duration * ((double)total / options.Events),
            Rate = rate,
        });
        var keys = new List<string>(total);
        var values = new List<byte[]>(total);
        foreach (var message in simulation.Messages())
        {
            if (message.Topic != SimulatedMessage.UserEventsTopic)
            {
                continue;
            }
            keys.Add(message.Key);
            values.Add(message.Value);
            if (values.Count == total)
            {
                break;
            }
        }
        var prime = Math.Min(options.PrimeCount, values.Count);
        long bytes = 0;
        for (var i = prime; i < values.Count; i++)
        {
            bytes += values[i].Length;
        }
        return new Corpus([.. keys[prime..]], [.. values[prime..]], bytes, [.. keys[..prime]], [.. values[..prime]]);
    }

    public static JsonObject Run(CoreBenchOptions options, TextWriter progress, CancellationToken ct)
    {
        var generate = Stopwatch.StartNew();
        var corpus = Generate(options);
        generate.Stop();
        progress.WriteLine($"bench core: {corpus.Count:N0} events ({corpus.Bytes / Math.Max(1, corpus.Count)} B each) after {corpus.PrimeCount:N0} priming ones generated in {generate.Elapsed.TotalSeconds:F1} s");

        var limit = new Measured("jsonLimit");
        var decoder = new Measured("decodeOnly");
        var vigil = new Measured("vigil");
        var rx = new Measured("rx");
        var peerRules = new Measured("vigilPeerRules");
        var limitC = new JsonLimitContender(corpus);
        var decodeC = new DecodeContender(corpus);
        using var setup = PipelineSetup.Open(options);
        var vigilC = new VigilContender(corpus, setup.Create);
        progress.WriteLine($"bench core: the pipeline runs {string.Join(", ", setup.Create().OperatorNames)}");
        var rxC = new RxContender(corpus);
        // The peer's own two rules alone in Vigil's pipeline, for the like-for-like ratio with the peer.
        var peerRulesC = new VigilContender(corpus, static () => PipelineSetup.PeerRulesOnly());
        var rounds = options.Warmups + options.Runs;
        using var sampler = options.Allocations ? new AllocationSampler() : null;
        for (var round = 0; round < rounds; round++)
        {
            ct.ThrowIfCancellationRequested();
            var keep = round >= options.Warmups;
            if (sampler is not null)
            {
                sampler.Recording = keep;
            }
            // The order turns every round, so no contender always runs right after the GC debris of another.
            for (var k = 0; k < s_names.Length; k++)
            {
                var which = (round + k) % s_names.Length;
                if (options.Only is { } only && only != s_names[which])
                {
                    continue;
                }
                switch (which)
                {
                    case 0:
                        Pass(ref limitC, corpus.Count, options.SampleEvery, limit);
                        break;
                    case 1:
                        Pass(ref decodeC, corpus.Count, options.SampleEvery, decoder);
                        break;
                    case 2:
                        Pass(ref vigilC, corpus.Count, options.SampleEvery, vigil);
                        break;
                    case 3:
                        Pass(ref peerRulesC, corpus.Count, options.SampleEvery, peerRules);
                        break;
                    default:
                        Pass(ref rxC, corpus.Count, options.SampleEvery, rx);
                        break;
                }
            }
            progress.WriteLine($"bench core: round {round + 1}/{rounds}{(keep ? "" : " (warm-up)")}: " +
                $"limit {limit.Last / 1e6:F2}M/s, vigil {vigil.Last / 1e6:F3}M/s, decode {decoder.Last / 1e6:F3}M/s, " +
                $"vigil with the peer's rules {peerRules.Last / 1e6:F3}M/s, rx {rx.Last / 1e6:F3}M/s");
            if (!keep)
            {
                limit.Clear();
                decoder.Clear();
                vigil.Clear();
                peerRules.Clear();
                rx.Clear();
            }
        }
        rxC.Dispose();

        var workload = new JsonObject
        {
            ["events"] = corpus.Count,
            ["users"] = options.Users,
            ["eventTimeHours"] = BenchStats.Round(options.Duration.TotalHours, 2),
            ["primeEvents"] = corpus.PrimeCount,
            ["prime"] = corpus.PrimeCount > 0
                ? "the same simulation's earlier events, untimed before every round: Vigil's pipelines restore the checkpoint they leave, the Rx peer takes the last stretch as long as the measured one again"
                : "none: every round starts from empty state",
            ["seed"] = options.Seed,
            ["meanMessageBytes"] = corpus.Bytes / Math.Max(1, corpus.Count),
            ["warmups"] = options.Warmups,
            ["runs"] = options.Runs,
            ["thread"] = "one thread; every contender gets the same byte arrays, in the same order",
            ["pipeline"] = setup.Describe(),
        };
        if (options.Only is { } single)
        {
            var measured = single switch { "jsonLimit" => limit, "decodeOnly" => decoder, "vigil" => vigil, "vigilPeerRules" => peerRules, _ => rx };
            return new JsonObject
            {
                ["bench"] = "core",
                ["machine"] = BenchStats.Machine(),
                ["workload"] = workload,
                [single] = measured.ToJson(sampler is null ? null : new JsonObject { ["allocationSamples"] = sampler.ToJson() }),
            };
        }

        var vigilEps = vigil.MedianEventsPerSecond;
        var limitEps = limit.MedianEventsPerSecond;
        var rxEps = rx.MedianEventsPerSecond;
        var vigilToLimit = vigilEps / limitEps;
        var vigilToRx = vigilEps / rxEps;
        var decodeNs = 1e9 / decoder.MedianEventsPerSecond;
        var vigilNs = 1e9 / vigilEps;
        return new JsonObject
        {
            ["bench"] = "core",
            ["machine"] = BenchStats.Machine(),
            ["workload"] = workload,
            ["latencyMethod"] = $"one event in {options.SampleEvery} is timed alone with Stopwatch.GetTimestamp before and after the call " +
                $"(a pair costs about {BenchStats.Round(BenchStats.TimerOverheadNs(), 0)} ns, included in the samples); percentiles over the samples of all measured runs",
            ["jsonLimit"] = limit.ToJson(),
            ["vigil"] = vigil.ToJson(new JsonObject
            {
                ["alerts"] = vigilC.LastAlerts,
                ["deadLetters"] = vigilC.LastDeadLetters,
            }),
            ["vigilPeerRules"] = peerRules.ToJson(new JsonObject
            {
                ["what"] = "Vigil's pipeline with only the two rules the peer implements (BRUTE_FORCE, RAPID_ACTIVITY): no rules file, geo, features or other rule",
                ["alerts"] = peerRulesC.LastAlerts,
            }),
            ["rx"] = rx.ToJson(new JsonObject
            {
                ["bruteForceAlerts"] = rxC.LastBruteForce,
                ["rapidActivityAlerts"] = rxC.LastRapidActivity,
            }),
            ["ratios"] = new JsonObject
            {
                ["vigilToLimit"] = BenchStats.Round(vigilToLimit, 3),
                ["vigilToRx"] = BenchStats.Round(vigilToRx, 2),
                ["limitToRx"] = BenchStats.Round(limitEps / rxEps, 2),
                // Rounds are short and the machine is shared: a ratio taken inside each round, where the contenders ran
                // seconds apart, is steadier than the ratio of medians taken across rounds.
                ["vigilToLimitMedianOfRounds"] = BenchStats.Round(RoundRatio(vigil, limit), 3),
                ["vigilToRxMedianOfRounds"] = BenchStats.Round(RoundRatio(vigil, rx), 2),
                // Like for like: the same two rules on both sides.
                ["vigilPeerRulesToRx"] = BenchStats.Round(peerRules.MedianEventsPerSecond / rxEps, 2),
                ["vigilPeerRulesToRxMedianOfRounds"] = BenchStats.Round(RoundRatio(peerRules, rx), 2),
                ["vigilPeerRulesToLimit"] = BenchStats.Round(peerRules.MedianEventsPerSecond / limitEps, 3),
            },
            ["breakdown"] = new JsonObject
            {
                ["decodeOnly"] = decoder.ToJson(),
                ["decodeNsPerEvent"] = BenchStats.Round(decodeNs, 1),
                ["engineAndRulesNsPerEvent"] = BenchStats.Round(vigilNs - decodeNs, 1),
                ["decodeShareOfVigil"] = BenchStats.Round(decodeNs / vigilNs, 3),
                // What the engine and the rules allocate per event beyond the decoder's event and its strings (the
                // pipeline is new each round, so this includes creating every user's state once per round).
                ["engineAndRulesAllocatedBytesPerEvent"] = BenchStats.Round(vigil.MedianBytesPerEvent - decoder.MedianBytesPerEvent, 1),
            },
            ["goals"] = new JsonObject
            {
                ["vigilEventsPerSecond"] = Goal(vigilEps, 1_000_000),
                ["vigilToLimit"] = Goal(vigilToLimit, 0.5),
                ["vigilToRx"] = Goal(vigilToRx, 20),
            },
        };
    }

    private static double RoundRatio(Measured a, Measured b)
    {
        var ratios = new List<double>();
        for (var i = 0; i < Math.Min(a.Runs.Count, b.Runs.Count); i++)
        {
            ratios.Add(a.Runs[i] / b.Runs[i]);
        }
        return BenchStats.Median(ratios);
    }

    private static JsonObject Goal(double measured, double goal) => new()
    {
        ["goal"] = goal,
        ["measured"] = BenchStats.Round(measured, 3),
        ["met"] = measured >= goal,
    };

    private static readonly string[] s_names = ["jsonLimit", "decodeOnly", "vigil", "vigilPeerRules", "rx"];

    private static void Pass<T>(ref T contender, int count, int sampleEvery, Measured into)
        where T : struct, IContender
    {
        contender.Reset();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var samples = new long[(count / sampleEvery) + 1];
        var sampled = 0;
        var nextSample = sampleEvery / 2;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var pauseBefore = GC.GetTotalPauseDuration();
        int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            if (i == nextSample)
            {
                var before = Stopwatch.GetTimestamp();
                contender.Process(i);
                samples[sampled++] = Stopwatch.GetTimestamp() - before;
                nextSample += sampleEvery;
            }
            else
            {
                contender.Process(i);
            }
        }
        contender.Complete();
        var elapsed = Stopwatch.GetTimestamp() - start;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var paused = GC.GetTotalPauseDuration() - pauseBefore;
        into.Add(count, elapsed, allocated, samples.AsSpan(0, sampled));
        into.AddGc(paused.TotalSeconds / (elapsed / (double)Stopwatch.Frequency),
            GC.CollectionCount(0) - gen0, GC.CollectionCount(1) - gen1, GC.CollectionCount(2) - gen2);
    }

    /// <summary>One side of the comparison. A struct, so the measuring loop is compiled for each and inlines it.</summary>
    private interface IContender
    {
        void Reset();

        void Process(int index);

        void Complete();
    }

    /// <summary>The JSON limit: read every token of the message and do nothing with it.</summary>
    private struct JsonLimitContender(Corpus corpus) : IContender
    {
        private readonly byte[][] _values = corpus.Values;

        public long Tokens { get; private set; }

        public void Reset() => Tokens = 0;

        public void Process(int index)
        {
            var reader = new Utf8JsonReader(_values[index]);
            var tokens = 0L;
            while (reader.Read())
            {
                tokens++;
            }
            Tokens += tokens;
        }

        public readonly void Complete()
        {
        }
    }

    /// <summary>Vigil's decoder alone: the bytes to a validated <see cref="UserEvent"/>, nothing after.</summary>
    private struct DecodeContender(Corpus corpus) : IContender
    {
        private readonly byte[][] _values = corpus.Values;
        private readonly EventDecoder _decoder = new(new EventDecoderOptions(), TimeProvider.System);

        public long Decoded { get; private set; }

        public void Reset() => Decoded = 0;

        public void Process(int index)
        {
            if (_decoder.TryDecode(_values[index], out _, out _))
            {
                Decoded++;
            }
        }

        public readonly void Complete()
        {
        }
    }

    /// <summary>Vigil: <see cref="DetectionPipeline.Process(string, int, long, string?, ReadOnlySpan{byte}, List{Alert}, out DeadLetter?)"/> over the raw bytes, as serve and replay drive it.</summary>
    private struct VigilContender(Corpus corpus, Func<DetectionPipeline> create) : IContender
    {
        private readonly byte[][] _values = corpus.Values;
        private readonly string[] _keys = corpus.Keys;
        private readonly int _prime = corpus.PrimeCount;
        private readonly List<Alert> _alerts = [];
        private DetectionPipeline? _pipeline;
        private byte[]? _primed;
        private long _alertCount;

        public long LastAlerts { get; private set; }

        public long LastDeadLetters { get; private set; }

        public void Reset()
        {
            _pipeline = create();
            if (_prime > 0)
            {
                // The priming events run once; every round restores the checkpoint they left (untimed), as a service
                // restarts from its checkpoint, and the measured events follow them in offsets and time.
                _primed ??= corpus.PrimeCheckpoint(create());
                if (_pipeline.Restore(_primed) != Vigil.Core.Engine.CheckpointReadStatus.Ok)
                {
                    throw new InvalidOperationException("bench core: the primed checkpoint did not restore.");
                }
            }
            _alertCount = 0;
        }

        public void Process(int index)
        {
            _pipeline!.Process(Topic, 0, _prime + index, _keys[index], _values[index], _alerts, out _);
            if (_alerts.Count > 0)
            {
                _alertCount += _alerts.Count;
                _alerts.Clear();
            }
        }

        public void Complete()
        {
            _pipeline!.Finish(_alerts);
            _alertCount += _alerts.Count;
            _alerts.Clear();
            LastAlerts = _alertCount;
            LastDeadLetters = _pipeline.DeadLetters;
        }
    }

    /// <summary>The System.Reactive peer, fed one message at a time.</summary>
    private struct RxContender(Corpus corpus) : IContender, IDisposable
    {
        private readonly byte[][] _values = corpus.Values;
        private RxPeer? _peer;

        public long LastBruteForce { get; private set; }

        public long LastRapidActivity { get; private set; }

        private long _primeBruteForce;
        private long _primeRapidActivity;

        public void Reset()
        {
            _peer?.Dispose();
            _peer = new RxPeer();
            // The peer is primed like Vigil with the same earlier events, untimed. It has no checkpoint to restore, so
            // it takes them every round, and only the last stretch as long as the measured one: its rules remember
            // minutes, and that stretch makes every user's group.
            var primeValues = corpus.PrimeValues;
            for (var i = Math.Max(0, primeValues.Length - corpus.Count); i < primeValues.Length; i++)
            {
                _peer.OnNext(primeValues[i]);
            }
            _primeBruteForce = _peer.BruteForceAlerts;
            _primeRapidActivity = _peer.RapidActivityAlerts;
        }

        public readonly void Process(int index) => _peer!.OnNext(_values[index]);

        public void Complete()
        {
            _peer!.OnCompleted();
            LastBruteForce = _peer.BruteForceAlerts - _primeBruteForce;
            LastRapidActivity = _peer.RapidActivityAlerts - _primeRapidActivity;
        }

        public void Dispose() => _peer?.Dispose();
    }

    /// <summary>The runs of one contender.</summary>
    private sealed class Measured(string name)
    {
        private readonly List<double> _eventsPerSecond = [];
        private readonly List<double> _bytesPerEvent = [];
        private readonly List<double> _latencyNs = [];
        private readonly List<double> _gcPauseShare = [];
        private readonly List<double> _collections = [];
        private readonly List<double> _gen1Collections = [];
        private readonly List<double> _gen2Collections = [];

        public string Name { get; } = name;

        public IReadOnlyList<double> Runs => _eventsPerSecond;

        public double Last => _eventsPerSecond.Count > 0 ? _eventsPerSecond[^1] : 0;

        public double MedianEventsPerSecond => BenchStats.Median(_eventsPerSecond);

        public double MedianBytesPerEvent => BenchStats.Median(_bytesPerEvent);

        public void Clear()
        {
            _eventsPerSecond.Clear();
            _bytesPerEvent.Clear();
            _latencyNs.Clear();
            _gcPauseShare.Clear();
            _collections.Clear();
            _gen1Collections.Clear();
            _gen2Collections.Clear();
        }

        /// <summary>The share of a pass's time the runtime had the threads paused for collections, and the collections
        /// of each generation during it (a gen-2 collection counts in all three).</summary>
        public void AddGc(double pauseShare, int gen0, int gen1, int gen2)
        {
            _gcPauseShare.Add(pauseShare);
            _collections.Add(gen0);
            _gen1Collections.Add(gen1);
            _gen2Collections.Add(gen2);
        }

        public void Add(int events, long elapsedTicks, long allocatedBytes, ReadOnlySpan<long> latencyTicks)
        {
            _eventsPerSecond.Add(events / (elapsedTicks / (double)Stopwatch.Frequency));
            _bytesPerEvent.Add(allocatedBytes / (double)events);
            foreach (var t in latencyTicks)
            {
                _latencyNs.Add(BenchStats.TicksToNs(t));
            }
        }

        public JsonObject ToJson(JsonObject? extra = null)
        {
            var latency = _latencyNs.ToArray();
            Array.Sort(latency);
            var runs = new JsonArray();
            foreach (var eps in _eventsPerSecond)
            {
                runs.Add(Math.Round(eps));
            }
            var result = new JsonObject
            {
                ["eventsPerSecond"] = BenchStats.Round(MedianEventsPerSecond, 0),
                ["nsPerEvent"] = BenchStats.Round(1e9 / MedianEventsPerSecond, 1),
                ["runsEventsPerSecond"] = runs,
                ["allocatedBytesPerEvent"] = BenchStats.Round(BenchStats.Median(_bytesPerEvent), 1),
                ["gc"] = new JsonObject
                {
                    ["pauseShare"] = BenchStats.Round(BenchStats.Median(_gcPauseShare), 3),
                    ["collectionsPerPass"] = BenchStats.Round(BenchStats.Median(_collections), 1),
                    ["gen1PerPass"] = BenchStats.Round(BenchStats.Median(_gen1Collections), 1),
                    ["gen2PerPass"] = BenchStats.Round(BenchStats.Median(_gen2Collections), 1),
                },
                ["latencyNs"] = new JsonObject
                {
                    ["p50"] = BenchStats.Round(BenchStats.Percentile(latency, 50), 0),
                    ["p99"] = BenchStats.Round(BenchStats.Percentile(latency, 99), 0),
                    ["p999"] = BenchStats.Round(BenchStats.Percentile(latency, 99.9), 0),
                    ["samples"] = latency.Length,
                },
            };
            if (extra is not null)
            {
                foreach (var (key, value) in extra)
                {
                    result[key] = value?.DeepClone();
                }
            }
            return result;
        }
    }

    /// <summary>
    /// What the vigil contender runs: the pipeline as replay builds it (the built-in rules, the shipped rules file and
    /// the geo rules when the data is there, judged by the input alone with alerts stamped with stream time), plus
    /// serve's per-user ML feature operator.
    /// </summary>
    internal sealed class PipelineSetup : IDisposable
    {
        private readonly Vigil.Geo.MmdbGeoLocator? _geo;
        private readonly string? _geoNote;
        private readonly string? _rulesPath;
        private readonly Vigil.Core.Rules.RuleSetSource? _rules;
        private readonly bool _features;

        private PipelineSetup(Vigil.Geo.MmdbGeoLocator? geo, string? geoNote, string? rulesPath, Vigil.Core.Rules.RuleSetSource? rules, bool features)
        {
            _geo = geo;
            _geoNote = geoNote;
            _rulesPath = rulesPath;
            _rules = rules;
            _features = features;
        }

        public static PipelineSetup Open(CoreBenchOptions options)
        {
            Vigil.Geo.MmdbGeoLocator? geo = null;
            string? note = null;
            if (!string.Equals(options.GeoDir, "none", StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    geo = Vigil.Geo.MmdbGeoLocator.Open(Vigil.Geo.GeoDirectory.Resolve(options.GeoDir));
                }
                catch (Vigil.Geo.GeoDatabaseMissingException ex) when (options.GeoDir is null)
                {
                    // Asked for by default only: run without, and say so in the report.
                    note = "absent, so IMPOSSIBLE_TRAVEL and NEW_COUNTRY did not run: " + ex.Message;
                }
                catch (Vigil.Geo.GeoDatabaseMissingException ex)
                {
                    throw new Cli.UsageException(ex.Message);
                }
            }
            var rulesPath = Rules.RulesFile.Resolve(options.RulesFile);
            Vigil.Core.Rules.RuleSetSource? rules = null;
            if (rulesPath is not null)
            {
                try
                {
                    rules = new Vigil.Core.Rules.RuleSetSource(Rules.RulesFile.Load(rulesPath));
                }
                catch (InvalidDataException ex)
                {
                    throw new Cli.UsageException(ex.Message);
                }
            }
            return new PipelineSetup(geo, note, rulesPath, rules, options.Features);
        }

        /// <summary>Whether the rules file has a rule named <paramref name="rule"/>, which mutes the built-in rule of that name.</summary>
        public bool RulesFileClaims(string rule)
        {
            foreach (var definition in _rules?.Current.Rules ?? [])
            {
                if (string.Equals(definition.Name, rule, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            return false;
        }

        public DetectionPipeline Create() => Create(static o => o);

        /// <summary>The pipeline with only BRUTE_FORCE and RAPID_ACTIVITY, the rules <see cref="RxPeer"/> implements.</summary>
        public static DetectionPipeline PeerRulesOnly() => new(new PipelineOptions
        {
            Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan },
            DetectedAtFromEventTime = true,
            AccountTakeover = new() { Enabled = false },
            BehaviorAnomaly = new() { Enabled = false },
            ResetBombing = new() { Enabled = false },
            BruteForceIp = new() { Enabled = false },
            PasswordSpray = new() { Enabled = false },
            CredentialStuffing = new() { Enabled = false },
        }, TimeProvider.System);

        /// <summary>The pipeline with <paramref name="configure"/> applied to its options (rule-costs leaves parts out).</summary>
        public DetectionPipeline Create(Func<PipelineOptions, PipelineOptions> configure) => new(configure(new PipelineOptions
        {
            Geo = _geo,
            Rules = _rules,
            Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan },
            DetectedAtFromEventTime = true,
            ExtraPerUserOperators = _features
                ? () => [new Vigil.Core.Features.UserFeaturesOperator(geo: _geo, reservoir: new Vigil.Core.Features.FeatureReservoir(20_000))]
                : null,
        }), TimeProvider.System);

        public JsonObject Describe()
        {
            var operators = new JsonArray();
            foreach (var name in Create().OperatorNames)
            {
                operators.Add(name);
            }
            return new JsonObject
            {
                ["operators"] = operators,
                ["geo"] = _geo is not null ? "on" : _geoNote ?? "off (--geo-dir none)",
                ["rulesFile"] = _rulesPath is null ? "none" : Path.GetFileName(_rulesPath),
                ["features"] = _features ? "USER_FEATURES with a 20,000-user training reservoir, as serve runs it (no K-Means segments: no model is trained here)" : "off",
            };
        }

        public void Dispose() => _geo?.Dispose();
    }
}
