using System.Diagnostics;
using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Processing;
using Vigil.Geo;
using Vigil.Storage;

namespace Vigil.Server.Cli;

/// <summary><c>vigil replay FILE.jsonl --alerts alerts.jsonl</c>: the serve pipeline's decoder and rules over a file.</summary>
public static class ReplayCommand
{
    private const string Help = """
        Usage: ./vigil replay FILE.jsonl [--alerts ALERTS.jsonl] [--dead-letters DLQ.jsonl]
                                         [--checkpoint-dir DIR] [--checkpoint-every N] [--stop-after N]
                                         [--max-future-skew 5m] [--max-message-bytes N] [--geo-dir DIR]
                                         [--rules FILE|none]

        Runs the same decoder and detection rules as ./vigil serve over a JSON-lines file of user events
        (one message per line, as ./vigil simulate writes them), as fast as they go, and prints a one-line
        JSON summary: events, alerts, dead letters, seconds and events/s.

          --alerts FILE         write each alert as one JSON line (the security-alerts format); a repeat that
                                suppression folds into an open alert is written again as an update (same
                                alertId, higher evidence.occurrences); on a resumed run, lines already in the
                                file are not written again
          --checkpoint-dir DIR  checkpoint the engine's state there (every --checkpoint-every lines and at the
                                end or stop) and, when DIR holds a checkpoint of this file, resume from it
          --checkpoint-every N  lines between checkpoints (default 100000)
          --stop-after N        stop after N lines of this run, with a checkpoint (a resumed run then continues)
          --dead-letters FILE   write each rejected line as one JSON line with its reason
          --max-future-skew D   event times further ahead of the wall clock are dead-lettered (default 5m)
          --max-message-bytes N longer lines are dead-lettered (default 1048576)
          --geo-dir DIR         the IP geolocation data (default: $VIGIL_GEO_DIR, else ./data/geo; fetch it with
                                ./scripts/fetch-geo.sh)
          --rules FILE          the declarative rules file (default: rules/default.yaml beside the binary;
                                none: built-in rules only); a rule named like a built-in rule replaces it
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        var cli = CliArgs.Parse(args, ["alerts", "dead-letters", "max-future-skew", "max-message-bytes", "checkpoint-dir",
            "checkpoint-every", "stop-after", "geo-dir", "rules"], ["help"]);
        if (cli.Flag("help"))
        {
            await stdout.WriteLineAsync(Help);
            return 0;
        }
        if (cli.Positionals.Count != 1)
        {
            throw new UsageException("give exactly one input file: ./vigil replay FILE.jsonl --alerts OUT.jsonl");
        }
        var input = cli.Positionals[0];
        if (!File.Exists(input))
        {
            throw new UsageException($"input file '{input}' does not exist.");
        }
        var skew = TimeSpan.FromMinutes(5);
        if (cli.Get("max-future-skew") is { } skewText && (!Vigil.Core.Durations.TryParse(skewText, out skew) || skew < TimeSpan.Zero))
        {
            throw new UsageException($"--max-future-skew must be a duration such as 5m, not '{skewText}'.");
        }
        var maxBytes = cli.GetInt("max-message-bytes", 1024 * 1024, 16, 256 * 1024 * 1024);

        var checkpointEvery = cli.GetInt("checkpoint-every", 100_000, 1, int.MaxValue);
        var stopAfter = cli.GetInt("stop-after", int.MaxValue, 1, int.MaxValue);
        using var geo = OpenGeo(cli.Get("geo-dir"));
        Core.Rules.RuleSetSource? rules = null;
        if (Rules.RulesFile.Resolve(cli.Get("rules")) is { } rulesPath)
        {
            try
            {
                rules = new Core.Rules.RuleSetSource(Rules.RulesFile.Load(rulesPath));
            }
            catch (InvalidDataException ex)
            {
                throw new UsageException(ex.Message);
            }
        }
        var pipeline = new DetectionPipeline(new PipelineOptions
        {
            Geo = geo,
            Rules = rules,
            Decoder = new Core.Events.EventDecoderOptions { MaxFutureSkew = skew, MaxMessageBytes = maxBytes },
            // A replay is judged by its input alone: no wall-clock idleness, alerts stamped with stream time.
            Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan },
            DetectedAtFromEventTime = true,
        }, TimeProvider.System);

        LocalDirectoryCheckpointStore? store = null;
        var jobId = "replay-" + Path.GetFileName(input);
        long resumeFrom = 0;
        long restoredCheckpoint = 0;
        if (cli.Get("checkpoint-dir") is { } checkpointDir)
        {
            store = new LocalDirectoryCheckpointStore(checkpointDir);
            if (await store.LoadLatestAsync(jobId, 0, ct) is { } stored)
            {
                var status = pipeline.Restore(stored.Data);
                if (status != CheckpointReadStatus.Ok)
                {
                    throw new UsageException($"the checkpoint in {checkpointDir} cannot be restored ({status}); remove it to start over.");
                }
                resumeFrom = pipeline.ResumeOffset;
                restoredCheckpoint = stored.CheckpointId;
            }
        }

        var seenAlerts = new HashSet<string>(StringComparer.Ordinal);
        await using var alertsOut = cli.Get("alerts") is { } alertsPath ? OpenOutput(alertsPath, resumeFrom > 0, seenAlerts) : null;
        await using var deadOut = cli.Get("dead-letters") is { } deadPath ? OpenOutput(deadPath, resumeFrom > 0, null) : null;

        var stopwatch = Stopwatch.StartNew();
        var alerts = new List<Alert>();
        long offset = -1, alertCount = 0, updateCount = 0, linesThisRun = 0, checkpoints = 0;
        var stopped = false;
        var newline = "\n"u8.ToArray();

        async Task WriteAlertsAsync()
        {
            foreach (var alert in alerts)
            {
                // The sink is idempotent on the alert id, as the database sinks are: a resumed run may re-emit what
                // the checkpoint did not cover, and it is written once.
                if (!seenAlerts.Add(VersionKey(alert.AlertId, Occurrences(alert))))
                {
                    continue;
                }
                if (Occurrences(alert) > 1)
                {
                    updateCount++;
                }
                else
                {
                    alertCount++;
                }
                if (alertsOut is not null)
                {
                    await alertsOut.WriteAsync(AlertJson.ToUtf8Bytes(alert), ct);
                    await alertsOut.WriteAsync(newline, ct);
                }
            }
            alerts.Clear();
        }

        async Task CheckpointAsync()
        {
            if (store is null)
            {
                return;
            }
            if (alertsOut is not null)
            {
                await alertsOut.FlushAsync(ct);
            }
            var snapshot = pipeline.Snapshot();
            await store.SaveAsync(jobId, 0, pipeline.RuntimeMetrics.LastCheckpointId, snapshot, ct);
            checkpoints++;
        }

        await using (var file = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
        {
            await foreach (var line in JsonLines.ReadAsync(file, maxBytes, ct))
            {
                offset++;
                if (offset < resumeFrom || line.IsBlank)
                {
                    continue;
                }
                if (linesThisRun == stopAfter)
                {
                    stopped = true;
                    break;
                }
                linesThisRun++;
                pipeline.Process("file", 0, offset, null, line.Bytes.Span, alerts, out var deadLetter);
                if (deadLetter is not null && deadOut is not null)
                {
                    await deadOut.WriteAsync(Pipeline.DeadLetterJson.ToUtf8Bytes(deadLetter), ct);
                    await deadOut.WriteAsync(newline, ct);
                }
                await WriteAlertsAsync();
                if (linesThisRun % checkpointEvery == 0)
                {
                    await CheckpointAsync();
                }
            }
        }
        if (!stopped)
        {
            // The end of the file: event time runs to the end, so every window and timer fires.
            pipeline.Finish(alerts);
            await WriteAlertsAsync();
        }
        await CheckpointAsync();
        stopwatch.Stop();
        var seconds = stopwatch.Elapsed.TotalSeconds;
        var runtime = pipeline.RuntimeMetrics;
        var summary = new Dictionary<string, object>
        {
            ["events"] = pipeline.Events,
            ["notifications"] = pipeline.Notifications,
            ["alerts"] = alertCount,
            ["alertUpdates"] = updateCount,
            ["deadLetters"] = pipeline.DeadLetters,
            ["lateEvents"] = pipeline.LateEvents,
            ["unknownEventTypes"] = pipeline.UnknownTypes,
            ["seconds"] = Math.Round(seconds, 3),
            ["eventsPerSecond"] = Math.Round(linesThisRun / Math.Max(seconds, 1e-6), 0),
        };
        if (store is not null)
        {
            summary["resumedFromLine"] = resumeFrom;
            summary["restoredCheckpoint"] = restoredCheckpoint;
            summary["checkpoints"] = checkpoints;
            summary["lastCheckpointBytes"] = runtime.LastCheckpointBytes;
            summary["lastCheckpointMs"] = Math.Round(runtime.LastCheckpointDuration.TotalMilliseconds, 2);
            summary["stopped"] = stopped;
        }
        await stdout.WriteLineAsync(JsonSerializer.Serialize(summary));
        return 0;
    }

    /// <summary>Opens the geolocation data, or explains how to fetch it.</summary>
    private static MmdbGeoLocator OpenGeo(string? directory)
    {
        try
        {
            return MmdbGeoLocator.Open(GeoDirectory.Resolve(directory));
        }
        catch (GeoDatabaseMissingException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    /// <summary>An alert line's identity in the file: the id and the version (occurrences) it carries.</summary>
    private static string VersionKey(string alertId, int occurrences) =>
        string.Concat(alertId, "#", occurrences.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static int Occurrences(Alert alert) =>
        alert.Evidence.TryGetValue(Evidence.Occurrences, out var n) && n is int count ? count : 1;

    /// <summary>
    /// Opens an output; when resuming, appends after the last complete line (a crash may have left half a line) and
    /// collects the alert ids already written.
    /// </summary>
    private static FileStream OpenOutput(string path, bool resume, HashSet<string>? alertIds)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        if (!resume || !File.Exists(path))
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        var bytes = File.ReadAllBytes(path);
        var complete = bytes.AsSpan().LastIndexOf((byte)'\n') + 1;
        if (alertIds is not null)
        {
            foreach (var line in System.Text.Encoding.UTF8.GetString(bytes, 0, complete).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("alertId", out var id) && id.GetString() is { } text)
                {
                    var occurrences = doc.RootElement.TryGetProperty("evidence", out var evidence)
                        && evidence.ValueKind == JsonValueKind.Object
                        && evidence.TryGetProperty(Evidence.Occurrences, out var n) && n.TryGetInt32(out var count) ? count : 1;
                    alertIds.Add(VersionKey(text, occurrences));
                }
            }
        }
        var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read, 1 << 16);
        stream.SetLength(complete);
        stream.Seek(complete, SeekOrigin.Begin);
        return stream;
    }
}
