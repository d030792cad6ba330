using System.Diagnostics;
using System.Text.Json.Nodes;
using Vigil.Core.Alerts;
using Vigil.Core.Events;
using Vigil.Core.Processing;

namespace Vigil.Server.Bench;

/// <summary>
/// <c>bench core --rule-costs</c>: what each built-in rule adds to the engine's cost per event. The corpus is decoded once
/// before timing; the pipeline then runs the decoded events (<see cref="DetectionPipeline.ProcessDecoded"/>) with every
/// rule, and again with each rule left out in turn, the variants alternating round by round so that they share the
/// machine's conditions. A rule's cost is the difference of the medians. Like <c>bench core</c>, every variant first
/// takes the priming events once (untimed, with its own rules) and every round restores the checkpoint they left, so
/// that the costs are of a running service's state; <c>--prime 0</c> starts every round empty.
/// </summary>
internal static class RuleCosts
{
    private sealed record Variant(string Name, Func<PipelineOptions, PipelineOptions> Configure);

    private static readonly Variant[] s_variants =
    [
        new("all", o => o),
        new("ACCOUNT_TAKEOVER", o => o with { AccountTakeover = o.AccountTakeover with { Enabled = false } }),
        new("RAPID_ACTIVITY", o => o with { RapidActivity = o.RapidActivity with { Enabled = false } }),
        new("BEHAVIOR_ANOMALY", o => o with { BehaviorAnomaly = o.BehaviorAnomaly with { Enabled = false } }),
        new("RESET_BOMBING", o => o with { ResetBombing = o.ResetBombing with { Enabled = false } }),
        new("BRUTE_FORCE_IP", o => o with { BruteForceIp = o.BruteForceIp with { Enabled = false } }),
        new("PASSWORD_SPRAY", o => o with { PasswordSpray = o.PasswordSpray with { Enabled = false } }),
        new("CREDENTIAL_STUFFING", o => o with { CredentialStuffing = o.CredentialStuffing with { Enabled = false } }),
        new("GEO_LOGIN (IMPOSSIBLE_TRAVEL, NEW_COUNTRY)", o => o with { GeoLogin = o.GeoLogin with { ImpossibleTravelEnabled = false, NewCountryEnabled = false } }),
        new("rules file", o => o with { Rules = null }),
        new("USER_FEATURES", o => o with { ExtraPerUserOperators = null }),
        new("allButBruteForce", o => o with
        {
            AccountTakeover = o.AccountTakeover with { Enabled = false },
            RapidActivity = o.RapidActivity with { Enabled = false },
            BehaviorAnomaly = o.BehaviorAnomaly with { Enabled = false },
            ResetBombing = o.ResetBombing with { Enabled = false },
            BruteForceIp = o.BruteForceIp with { Enabled = false },
            PasswordSpray = o.PasswordSpray with { Enabled = false },
            CredentialStuffing = o.CredentialStuffing with { Enabled = false },
            GeoLogin = o.GeoLogin with { ImpossibleTravelEnabled = false, NewCountryEnabled = false },
            Rules = null,
            ExtraPerUserOperators = null,
        }),
    ];

    public static JsonObject Run(CoreBenchOptions options, TextWriter progress, CancellationToken ct)
    {
        var corpus = CoreBench.Generate(options);
        using var setup = CoreBench.PipelineSetup.Open(options);
        var decoder = new EventDecoder(new EventDecoderOptions(), TimeProvider.System);
        var events = new UserEvent[corpus.Count];
        for (var i = 0; i < corpus.Count; i++)
        {
            if (!decoder.TryDecode(corpus.Values[i], out var evt, out var error))
            {
                throw new InvalidOperationException($"the simulator wrote an event the decoder rejects: {error.Reason}.");
            }
            events[i] = evt;
        }
        progress.WriteLine($"bench core --rule-costs: {events.Length:N0} events decoded after {corpus.PrimeCount:N0} priming ones; {s_variants.Length} variants × {options.Warmups + options.Runs} rounds");
        var primed = new byte[]?[s_variants.Length];

        // Muted built-in rules (replaced by the rules file) are not measured: leaving them out changes nothing.
        var nsPerEvent = new List<double>[s_variants.Length];
        var alertCounts = new long[s_variants.Length];
        for (var v = 0; v < s_variants.Length; v++)
        {
            nsPerEvent[v] = [];
        }
        var alerts = new List<Alert>();
        for (var round = 0; round < options.Warmups + options.Runs; round++)
        {
            for (var k = 0; k < s_variants.Length; k++)
            {
                ct.ThrowIfCancellationRequested();
                var v = (round + k) % s_variants.Length;
                if (v > 0 && v < s_variants.Length - 1 && setup.RulesFileClaims(s_variants[v].Name))
                {
                    continue;
                }
                var pipeline = setup.Create(s_variants[v].Configure);
                if (corpus.PrimeCount > 0)
                {
                    primed[v] ??= corpus.PrimeCheckpoint(setup.Create(s_variants[v].Configure));
                    if (pipeline.Restore(primed[v]) != Vigil.Core.Engine.CheckpointReadStatus.Ok)
                    {
                        throw new InvalidOperationException($"bench core --rule-costs: the primed checkpoint of '{s_variants[v].Name}' did not restore.");
                    }
                }
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                long count = 0;
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < events.Length; i++)
                {
                    pipeline.ProcessDecoded(0, corpus.PrimeCount + i, events[i], alerts);
                    count += alerts.Count;
                    alerts.Clear();
                }
                pipeline.Finish(alerts);
                var elapsed = Stopwatch.GetElapsedTime(start);
                count += alerts.Count;
                alerts.Clear();
                alertCounts[v] = count;
                if (round >= options.Warmups)
                {
                    nsPerEvent[v].Add(elapsed.TotalNanoseconds / events.Length);
                }
            }
            progress.WriteLine($"bench core --rule-costs: round {round + 1}/{options.Warmups + options.Runs}{(round < options.Warmups ? " (warm-up)" : "")}");
        }

        var all = BenchStats.Median(nsPerEvent[0]);
        var rules = new JsonObject();
        for (var v = 1; v < s_variants.Length - 1; v++)
        {
            if (setup.RulesFileClaims(s_variants[v].Name))
            {
                // The built-in operator is muted (it skips every event): its row would only measure noise.
                rules[s_variants[v].Name] = "replaced by the rules file's rule of that name (counted in 'rules file')";
                continue;
            }
            var without = BenchStats.Median(nsPerEvent[v]);
            rules[s_variants[v].Name] = new JsonObject
            {
                ["nsPerEvent"] = BenchStats.Round(all - without, 1),
                ["shareOfEngine"] = BenchStats.Round((all - without) / all, 3),
                ["engineNsPerEventWithout"] = BenchStats.Round(without, 1),
                ["alertsWithout"] = alertCounts[v],
            };
        }
        return new JsonObject
        {
            ["bench"] = "core-rule-costs",
            ["machine"] = BenchStats.Machine(),
            ["workload"] = new JsonObject
            {
                ["events"] = events.Length,
                ["primeEvents"] = corpus.PrimeCount,
                ["users"] = options.Users,
                ["eventTimeHours"] = BenchStats.Round(options.Duration.TotalHours, 2),
                ["seed"] = options.Seed,
                ["warmups"] = options.Warmups,
                ["runs"] = options.Runs,
                ["method"] = "events decoded before timing; each variant primed once (untimed) and restored from that checkpoint every round; DetectionPipeline.ProcessDecoded with everything bench core runs, and with each part left out in turn, variants alternating round by round; a part's cost = median(all) - median(without it)",
                ["pipeline"] = setup.Describe(),
            },
            ["engineNsPerEvent"] = BenchStats.Round(all, 1),
            ["alerts"] = alertCounts[0],
            ["bruteForceAndSuppressionOnlyNsPerEvent"] = BenchStats.Round(BenchStats.Median(nsPerEvent[^1]), 1),
            ["rules"] = rules,
        };
    }
}
