using Vigil.Core;
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Vigil.Simulator.Internal;

namespace Vigil.Simulator;

/// <summary>The <c>vigil simulate</c> verb.</summary>
public static class SimulatorCli
{
    /// <summary>Usage text printed by <c>--help</c>.</summary>
    public const string Usage = """
        usage: vigil simulate [options]

        Generates deterministic user-service traffic with labelled attack campaigns.

          --seed N               random seed (default 1); the same options give byte-identical output
          --users N              population size (default 1000)
          --duration D           event time to generate: 90s, 30m, 2h, 1d, 1h30m (default: endless live
                                 mode, paced to the wall clock and starting now)
          --rate R               mean legitimate events/s (default: the population's natural rate)
          --attacks KINDS        all (default), none, or a list such as BRUTE_FORCE,PASSWORD_SPRAY; kinds:
                                 BRUTE_FORCE, BRUTE_FORCE_IP, PASSWORD_SPRAY, CREDENTIAL_STUFFING,
                                 ACCOUNT_TAKEOVER, IMPOSSIBLE_TRAVEL, RAPID_ACTIVITY, BEHAVIOR_ANOMALY
          --attack-interval D    mean gap between campaign starts (default: every kind once per duration,
                                 at least one campaign per 10 min)
          --first-attack D       when the first campaign starts (default 10s)
          --start ISO            event time of the first event (default 2026-01-05T00:00:00Z)
          --out FILE             user-events as JSON lines (default: stdout, unless --to is given)
          --notifications FILE   notifications as JSON lines (not written unless given)
          --labels FILE          one JSON line per campaign: campaignId, kind, userIds, ips, start, end, eventIds
          --to BOOTSTRAP         produce both topics (user-events, notifications) to Kafka, keyed by user
          --help                 this text

        A one-line JSON summary (events, notifications, campaigns by kind, seconds) goes to stderr, or to
        stdout when --out is given. Exit codes: 0 done, 1 I/O failure, 2 bad arguments.
        """;

    private static readonly DateTimeOffset s_defaultStart = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    private static readonly JsonWriterOptions s_jsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Runs <c>vigil simulate</c>. With <c>--to</c>, every message goes to <paramref name="produce"/>(topic, key, value);
    /// the simulator itself never references Kafka.
    /// </summary>
    /// <returns>0 on success, 1 on an I/O failure, 2 on bad arguments.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr,
        Func<string, string, byte[], CancellationToken, ValueTask>? produce, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        if (!TryParse(args, out var cli, out var error))
        {
            await stderr.WriteLineAsync($"vigil simulate: {error}".AsMemory(), ct).ConfigureAwait(false);
            await stderr.WriteLineAsync("Run 'vigil simulate --help' for usage.".AsMemory(), ct).ConfigureAwait(false);
            return 2;
        }

        if (cli.Help)
        {
            await stdout.WriteLineAsync(Usage.AsMemory(), ct).ConfigureAwait(false);
            return 0;
        }

        if (cli.To is not null && produce is null)
        {
            await stderr.WriteLineAsync("vigil simulate: --to needs a Kafka producer, which this host does not provide.".AsMemory(), ct)
                .ConfigureAwait(false);
            return 2;
        }

        var live = cli.Options.Duration is null;
        var options = live && !cli.StartGiven
            ? cli.Options with { Start = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) }
            : cli.Options;

        var stopwatch = Stopwatch.StartNew();
        long events = 0;
        long notifications = 0;
        var byKind = new SortedDictionary<string, int>(StringComparer.Ordinal);
        Stream? outStream = null;
        Stream? notificationStream = null;
        Stream? labelStream = null;
        try
        {
            outStream = cli.Out is null ? null : OpenWrite(cli.Out);
            notificationStream = cli.Notifications is null ? null : OpenWrite(cli.Notifications);
            labelStream = cli.Labels is null ? null : OpenWrite(cli.Labels);
            var toStdout = cli.Out is null && cli.To is null;

            var simulation = new Simulation(options);
            var labelBuffer = new ArrayBufferWriter<byte>(4096);
            simulation.CampaignCompleted += label =>
            {
                byKind[label.Kind] = byKind.GetValueOrDefault(label.Kind) + 1;
                if (labelStream is not null)
                {
                    labelBuffer.ResetWrittenCount();
                    WriteLabel(labelBuffer, label);
                    labelStream.Write(labelBuffer.WrittenSpan);
                    labelStream.WriteByte((byte)'\n');
                    if (live)
                    {
                        labelStream.Flush();
                    }
                }
            };

            var startMs = options.Start.ToUnixTimeMilliseconds();
            foreach (var m in simulation.Messages())
            {
                ct.ThrowIfCancellationRequested();
                if (live)
                {
                    // Live mode keeps event time in step with the wall clock.
                    var due = m.TimestampMs - startMs - stopwatch.ElapsedMilliseconds;
                    if (due > 0)
                    {
                        outStream?.Flush();
                        notificationStream?.Flush();
                        await stdout.FlushAsync(ct).ConfigureAwait(false);
                        await Task.Delay(TimeSpan.FromMilliseconds(due), ct).ConfigureAwait(false);
                    }
                }

                var isEvent = m.Topic == SimulatedMessage.UserEventsTopic;
                if (isEvent)
                {
                    events++;
                    if (outStream is not null)
                    {
                        outStream.Write(m.Value);
                        outStream.WriteByte((byte)'\n');
                    }
                    else if (toStdout)
                    {
                        await stdout.WriteLineAsync(Encoding.UTF8.GetString(m.Value).AsMemory(), ct).ConfigureAwait(false);
                    }
                }
                else
                {
                    notifications++;
                    if (notificationStream is not null)
                    {
                        notificationStream.Write(m.Value);
                        notificationStream.WriteByte((byte)'\n');
                    }
                }

                if (produce is not null && cli.To is not null)
                {
                    await produce(m.Topic, m.Key, m.Value, ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl-C in live mode: stop cleanly and still print the summary.
        }
        catch (IOException ex)
        {
            await stderr.WriteLineAsync($"vigil simulate: {ex.Message}".AsMemory(), CancellationToken.None).ConfigureAwait(false);
            return 1;
        }
        catch (UnauthorizedAccessException ex)
        {
            await stderr.WriteLineAsync($"vigil simulate: {ex.Message}".AsMemory(), CancellationToken.None).ConfigureAwait(false);
            return 1;
        }
        finally
        {
            if (outStream is not null)
            {
                await outStream.DisposeAsync().ConfigureAwait(false);
            }

            if (notificationStream is not null)
            {
                await notificationStream.DisposeAsync().ConfigureAwait(false);
            }

            if (labelStream is not null)
            {
                await labelStream.DisposeAsync().ConfigureAwait(false);
            }
        }

        var summary = Summary(events, notifications, byKind, stopwatch.Elapsed.TotalSeconds);
        var target = cli.Out is not null ? stdout : stderr;
        await target.WriteLineAsync(summary.AsMemory(), CancellationToken.None).ConfigureAwait(false);
        await target.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Parses 90s, 30m, 2h, 1d, 1h30m, 500ms (or hh:mm:ss) into a positive span.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan duration) => Durations.TryParse(text, out duration);

    private sealed record CliArgs(SimulatorOptions Options, bool StartGiven, string? Out, string? Notifications, string? Labels, string? To, bool Help);

    private static bool TryParse(string[] args, out CliArgs cli, out string error)
    {
        var options = new SimulatorOptions { Start = s_defaultStart };
        string? outPath = null, notifications = null, labels = null, to = null;
        var help = false;
        var startGiven = false;
        cli = new CliArgs(options, false, null, null, null, null, false);
        error = "";
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "simulate" && i == 0)
            {
                continue;
            }

            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            if (arg is "--help" or "-h")
            {
                help = true;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg is not ("--seed" or "--users" or "--duration" or "--rate"
                or "--attacks" or "--attack-interval" or "--first-attack" or "--start" or "--out" or "--notifications"
                or "--labels" or "--to"))
            {
                error = arg.StartsWith('-') ? $"unknown flag {arg}" : $"unexpected argument '{arg}'";
                return false;
            }

            string value;
            if (inline is not null)
            {
                value = inline;
            }
            else if (i + 1 < args.Length)
            {
                value = args[++i];
            }
            else
            {
                error = $"{arg} needs a value";
                return false;
            }

            switch (arg)
            {
                case "--seed":
                    if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed))
                    {
                        error = $"--seed: '{value}' is not an integer";
                        return false;
                    }

                    options = options with { Seed = seed };
                    break;
                case "--users":
                    if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var users) || users < 1)
                    {
                        error = $"--users: '{value}' is not a positive integer";
                        return false;
                    }

                    options = options with { Users = users };
                    break;
                case "--duration":
                    if (!TryParseDuration(value, out var duration))
                    {
                        error = $"--duration: '{value}' is not a duration such as 90s, 30m, 2h, 1d or 1h30m";
                        return false;
                    }

                    options = options with { Duration = duration };
                    break;
                case "--rate":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !(rate > 0) || double.IsInfinity(rate))
                    {
                        error = $"--rate: '{value}' is not a positive number of events per second";
                        return false;
                    }

                    options = options with { Rate = rate };
                    break;
                case "--attacks":
                    if (!AttackKindNames.TryParse(value, out var kinds))
                    {
                        error = $"--attacks: '{value}' is not all, none or a list of kinds such as BRUTE_FORCE,PASSWORD_SPRAY";
                        return false;
                    }

                    options = options with { Attacks = kinds };
                    break;
                case "--attack-interval":
                    if (!TryParseDuration(value, out var interval))
                    {
                        error = $"--attack-interval: '{value}' is not a duration such as 90s or 5m";
                        return false;
                    }

                    options = options with { AttackInterval = interval };
                    break;
                case "--first-attack":
                    if (!TryParseDuration(value, out var first) && value != "0")
                    {
                        error = $"--first-attack: '{value}' is not a duration such as 10s";
                        return false;
                    }

                    options = options with { FirstAttackAfter = first };
                    break;
                case "--start":
                    if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture,
                        DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var start))
                    {
                        error = $"--start: '{value}' is not an ISO-8601 time such as 2026-01-05T00:00:00Z";
                        return false;
                    }

                    options = options with { Start = start };
                    startGiven = true;
                    break;
                case "--out":
                    outPath = value;
                    break;
                case "--notifications":
                    notifications = value;
                    break;
                case "--labels":
                    labels = value;
                    break;
                default:
                    to = value;
                    break;
            }
        }

        cli = new CliArgs(options, startGiven, outPath, notifications, labels, to, help);
        return true;
    }

    private static FileStream OpenWrite(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
    }

    /// <summary>Writes a label as one JSON object (no newline).</summary>
    internal static void WriteLabel(IBufferWriter<byte> buffer, CampaignLabel label)
    {
        using var w = new Utf8JsonWriter(buffer, s_jsonOptions);
        w.WriteStartObject();
        w.WriteString("campaignId", label.CampaignId);
        w.WriteString("kind", label.Kind);
        w.WriteStartArray("userIds");
        foreach (var u in label.UserIds)
        {
            w.WriteStringValue(u);
        }

        w.WriteEndArray();
        w.WriteStartArray("ips");
        foreach (var ip in label.Ips)
        {
            w.WriteStringValue(ip);
        }

        w.WriteEndArray();
        w.WriteString("start", EventEncoder.FormatTimestamp(label.Start.ToUnixTimeMilliseconds()));
        w.WriteString("end", EventEncoder.FormatTimestamp(label.End.ToUnixTimeMilliseconds()));
        w.WriteStartArray("eventIds");
        foreach (var id in label.EventIds)
        {
            w.WriteStringValue(id);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static string Summary(long events, long notifications, SortedDictionary<string, int> byKind, double seconds)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, s_jsonOptions))
        {
            w.WriteStartObject();
            w.WriteNumber("events", events);
            w.WriteNumber("notifications", notifications);
            var total = 0;
            w.WriteStartObject("campaigns");
            foreach (var kind in AttackKindNames.Singles)
            {
                var name = kind.ToWireName();
                var n = byKind.GetValueOrDefault(name);
                total += n;
                w.WriteNumber(name, n);
            }

            w.WriteEndObject();
            w.WriteNumber("campaignsTotal", total);
            w.WriteNumber("seconds", Math.Round(seconds, 3));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
