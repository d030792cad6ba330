using System.Diagnostics;
using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Processing;

namespace Vigil.Server.Cli;

/// <summary><c>vigil replay FILE.jsonl --alerts alerts.jsonl</c>: the serve pipeline's decoder and rules over a file.</summary>
public static class ReplayCommand
{
    private const string Help = """
        Usage: ./vigil replay FILE.jsonl [--alerts ALERTS.jsonl] [--dead-letters DLQ.jsonl]
                                         [--max-future-skew 5m] [--max-message-bytes N]

        Runs the same decoder and detection rules as ./vigil serve over a JSON-lines file of user events
        (one message per line, as ./vigil simulate writes them), as fast as they go, and prints a one-line
        JSON summary: events, alerts, dead letters, seconds and events/s.

          --alerts FILE         write each alert as one JSON line (the security-alerts format)
          --dead-letters FILE   write each rejected line as one JSON line with its reason
          --max-future-skew D   event times further ahead of the wall clock are dead-lettered (default 5m)
          --max-message-bytes N longer lines are dead-lettered (default 1048576)
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        var cli = CliArgs.Parse(args, ["alerts", "dead-letters", "max-future-skew", "max-message-bytes"], ["help"]);
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

        var pipeline = new DetectionPipeline(new PipelineOptions
        {
            Decoder = new Core.Events.EventDecoderOptions { MaxFutureSkew = skew, MaxMessageBytes = maxBytes },
        }, TimeProvider.System);
        await using var alertsOut = cli.Get("alerts") is { } alertsPath ? OpenOutput(alertsPath) : null;
        await using var deadOut = cli.Get("dead-letters") is { } deadPath ? OpenOutput(deadPath) : null;

        var stopwatch = Stopwatch.StartNew();
        var alerts = new List<Alert>();
        long lines = 0, alertCount = 0;
        var newline = "\n"u8.ToArray();
        await using (var file = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
        {
            await foreach (var line in JsonLines.ReadAsync(file, maxBytes, ct))
            {
                var offset = lines++;
                if (line.IsBlank)
                {
                    continue;
                }
                pipeline.Process("file", 0, offset, null, line.Bytes.Span, alerts, out var deadLetter);
                if (deadLetter is not null && deadOut is not null)
                {
                    await deadOut.WriteAsync(Pipeline.DeadLetterJson.ToUtf8Bytes(deadLetter), ct);
                    await deadOut.WriteAsync(newline, ct);
                }
                foreach (var alert in alerts)
                {
                    alertCount++;
                    if (alertsOut is not null)
                    {
                        await alertsOut.WriteAsync(AlertJson.ToUtf8Bytes(alert), ct);
                        await alertsOut.WriteAsync(newline, ct);
                    }
                }
                alerts.Clear();
            }
        }
        stopwatch.Stop();
        var seconds = stopwatch.Elapsed.TotalSeconds;
        var summary = new Dictionary<string, object>
        {
            ["events"] = pipeline.Events,
            ["notifications"] = pipeline.Notifications,
            ["alerts"] = alertCount,
            ["deadLetters"] = pipeline.DeadLetters,
            ["unknownEventTypes"] = pipeline.UnknownTypes,
            ["seconds"] = Math.Round(seconds, 3),
            ["eventsPerSecond"] = Math.Round((pipeline.Events + pipeline.DeadLetters) / Math.Max(seconds, 1e-6), 0),
        };
        await stdout.WriteLineAsync(JsonSerializer.Serialize(summary));
        return 0;
    }

    private static FileStream OpenOutput(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
    }
}
