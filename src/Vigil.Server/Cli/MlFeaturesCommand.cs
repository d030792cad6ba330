using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Vigil.Core.Events;
using Vigil.Core.Features;
using Vigil.Core.Geo;
using Vigil.Core.Ml;
using Vigil.Geo;
using Vigil.Ml;

namespace Vigil.Server.Cli;

/// <summary>
/// <c>vigil ml features</c> (per-user features of an event file, as the stream computes them, to CSV) and
/// <c>vigil ml kmeans</c> (standardise a CSV and fit ML.NET's k-means, timed, JSON out).
/// </summary>
public static class MlFeaturesCommand
{
    private const string Help = """
        Usage: ./vigil ml features --events FILE.jsonl --out FILE.csv [--labels labels.jsonl] [--label-kinds LIST|all]
                                   [--geo-dir DIR|none]
               ./vigil ml kmeans --csv FILE [--k 5] [--restarts 10] [--seed 1] [--label-column label] [--id-column userId]
                                 [--log-columns auto|none] [--standardized-out FILE] [--repeat 1]

        ml features  runs the stream's per-user feature aggregator over a JSON-lines event file (as written by
                     ./vigil simulate --out) and writes one CSV row per user: userId, the 15 features in original
                     units, and with --labels a 0/1 label column (1 = the user is a target of a campaign of the
                     --label-kinds, default BEHAVIOR_ANOMALY). Countries come from the geo database (--geo-dir, default
                     $VIGIL_GEO_DIR or data/geo; none to skip). Prints a JSON summary.
        ml kmeans    reads a CSV of numbers (the id and label columns are left out), standardises every column (after
                     log(1+x) for the count-like user features when --log-columns is auto), fits ML.NET's KMeansTrainer
                     with k-means++ --restarts times (seeds mixed from --seed and the start's index) and keeps the lowest inertia. Prints
                     rows, features, k, restarts, inertia, restartInertias and fitMs (median of --repeat timed fits after
                     one untimed warm-up, single-threaded). --standardized-out writes the standardised rows (with a
                     header) so another implementation can be run on exactly the same numbers.
        """;

    /// <summary>Runs <c>ml features</c> or <c>ml kmeans</c>; <paramref name="args"/> starts with the sub-verb.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            await Console.Out.WriteLineAsync(Help);
            return args.Length == 0 ? 2 : 0;
        }
        return args[0] switch
        {
            "features" => await FeaturesAsync(args[1..], ct),
            "kmeans" => await KMeansAsync(args[1..], ct),
            _ => throw new UsageException($"unknown sub-verb '{args[0]}'; these are: features, kmeans."),
        };
    }

    private static async Task<int> FeaturesAsync(string[] args, CancellationToken ct)
    {
        var cli = CliArgs.Parse(args, ["events", "out", "labels", "label-kinds", "geo-dir"], ["help"]);
        if (cli.Flag("help"))
        {
            await Console.Out.WriteLineAsync(Help);
            return 0;
        }
        var eventsPath = cli.Get("events") ?? throw new UsageException("--events FILE.jsonl is required.");
        var outPath = cli.Get("out") ?? throw new UsageException("--out FILE.csv is required.");
        if (!File.Exists(eventsPath))
        {
            throw new UsageException($"--events file '{eventsPath}' does not exist.");
        }
        HashSet<string>? labelled = null;
        if (cli.Get("labels") is { } labelsPath)
        {
            if (!File.Exists(labelsPath))
            {
                throw new UsageException($"--labels file '{labelsPath}' does not exist.");
            }
            labelled = ReadLabelledUsers(labelsPath, cli.Get("label-kinds") ?? "BEHAVIOR_ANOMALY");
        }
        using var geo = OpenGeo(cli.Get("geo-dir"));

        var decoder = new EventDecoder(new EventDecoderOptions { MaxFutureSkew = TimeSpan.FromDays(365 * 100) }, TimeProvider.System);
        var aggregator = new UserFeatureAggregator(geo: geo);
        long events = 0, skipped = 0, rejected = 0;
        var start = Stopwatch.GetTimestamp();
        await using (var stream = File.OpenRead(eventsPath))
        {
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }
                if (!decoder.TryDecode(Encoding.UTF8.GetBytes(line), out var evt, out _))
                {
                    rejected++;
                    continue;
                }
                events++;
                skipped += aggregator.Add(evt) ? 0 : 1;
            }
        }
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        var ids = aggregator.UserIds();
        var features = new float[UserFeatures.Count];
        await using (var writer = new StreamWriter(outPath, false, new UTF8Encoding(false)))
        {
            var header = new StringBuilder("userId");
            foreach (var name in UserFeatures.Names)
            {
                header.Append(',').Append(name);
            }
            if (labelled is not null)
            {
                header.Append(",label");
            }
            await writer.WriteLineAsync(header.ToString());
            var row = new StringBuilder();
            foreach (var id in ids)
            {
                aggregator.TryGetFeatures(id, features);
                row.Clear().Append(id);
                foreach (var v in features)
                {
                    row.Append(',').Append(v.ToString("R", CultureInfo.InvariantCulture));
                }
                if (labelled is not null)
                {
                    row.Append(labelled.Contains(id) ? ",1" : ",0");
                }
                await writer.WriteLineAsync(row.ToString());
            }
        }
        var summary = new Dictionary<string, object?>
        {
            ["users"] = ids.Count,
            ["events"] = events,
            ["eventsWithoutUser"] = skipped,
            ["rejected"] = rejected,
            ["labelledUsers"] = labelled is null ? null : CountIn(labelled, ids),
            ["geo"] = geo is not null,
            ["aggregateSeconds"] = Math.Round(seconds, 3),
            ["stateBytesPerUser"] = UserFeatureState.SizeInBytes,
            ["out"] = outPath,
        };
        await Console.Out.WriteLineAsync(JsonSerializer.Serialize(summary));
        return 0;
    }

    private static async Task<int> KMeansAsync(string[] args, CancellationToken ct)
    {
        var cli = CliArgs.Parse(args, ["csv", "k", "restarts", "seed", "label-column", "id-column", "log-columns", "standardized-out", "repeat"], ["help"]);
        if (cli.Flag("help"))
        {
            await Console.Out.WriteLineAsync(Help);
            return 0;
        }
        var path = cli.Get("csv") ?? throw new UsageException("--csv FILE is required.");
        if (!File.Exists(path))
        {
            throw new UsageException($"--csv file '{path}' does not exist.");
        }
        var k = cli.GetInt("k", 5, 1, 1000);
        var restarts = cli.GetInt("restarts", 10, 1, 1000);
        var seed = cli.GetInt("seed", 1, 0, int.MaxValue - 1000);
        var repeat = cli.GetInt("repeat", 1, 1, 100);
        var logMode = cli.Get("log-columns") ?? "auto";
        if (logMode is not ("auto" or "none"))
        {
            throw new UsageException($"--log-columns must be auto or none, not '{logMode}'.");
        }
        string[] names;
        float[] rows;
        try
        {
            (names, rows) = ReadNumericCsv(path, [cli.Get("label-column") ?? "label", cli.Get("id-column") ?? "userId"]);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"vigil ml kmeans: {path}: {ex.Message}");
            return 1;
        }
        var d = names.Length;
        var n = rows.Length / d;
        if (n < k)
        {
            await Console.Error.WriteLineAsync($"vigil ml kmeans: {path}: {n} rows cannot make {k} clusters.");
            return 1;
        }
        var log = new bool[d];
        for (var f = 0; f < d; f++)
        {
            var index = UserFeatures.IndexOf(names[f]);
            log[f] = logMode == "auto" && index >= 0 && UserFeatures.IsLogScaled((UserFeature)index);
        }
        var scaler = FeatureScaler.Fit(rows, names, log);
        var scaled = new float[rows.Length];
        scaler.TransformRows(rows, scaled);
        if (cli.Get("standardized-out") is { } outPath)
        {
            await WriteCsvAsync(outPath, names, scaled, ct);
        }

        var settings = new KMeansSettings { K = k, Restarts = restarts, Seed = seed, Threads = 1 };
        // Warm-up: JIT compilation and ML.NET's first-use costs are not the algorithm's.
        MlNetKMeans.Fit(scaled, d, settings with { Restarts = 1 }, ct);
        var times = new double[repeat];
        KMeansFit fit = null!;
        for (var r = 0; r < repeat; r++)
        {
            fit = MlNetKMeans.Fit(scaled, d, settings, ct);
            times[r] = fit.FitMs;
        }
        Array.Sort(times);
        var summary = new Dictionary<string, object?>
        {
            ["rows"] = n,
            ["features"] = d,
            ["k"] = k,
            ["restarts"] = restarts,
            ["seed"] = seed,
            ["logColumns"] = CountTrue(log),
            ["inertia"] = fit.Inertia,
            ["restartInertias"] = fit.RestartInertias,
            ["fitMs"] = Math.Round(times[repeat / 2], 3),
            ["repeat"] = repeat,
        };
        await Console.Out.WriteLineAsync(JsonSerializer.Serialize(summary));
        return 0;
    }

    private static MmdbGeoLocator? OpenGeo(string? configured)
    {
        if (configured == "none")
        {
            return null;
        }
        var directory = GeoDirectory.Resolve(configured);
        try
        {
            return MmdbGeoLocator.Open(directory);
        }
        catch (GeoDatabaseMissingException ex)
        {
            Console.Error.WriteLine($"vigil ml features: no geo database ({ex.Message}); distinctCountries will be 0.");
            return null;
        }
    }

    private static HashSet<string> ReadLabelledUsers(string path, string kinds)
    {
        var wanted = kinds == "all" ? null : new HashSet<string>(kinds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
        var users = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0)
            {
                continue;
            }
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (wanted is not null && (!root.TryGetProperty("kind", out var kind) || !wanted.Contains(kind.GetString() ?? "")))
            {
                continue;
            }
            if (root.TryGetProperty("userIds", out var ids))
            {
                foreach (var id in ids.EnumerateArray())
                {
                    if (id.GetString() is { } s)
                    {
                        users.Add(s);
                    }
                }
            }
        }
        return users;
    }

    /// <summary>A CSV with a header of numbers, the columns named in <paramref name="drop"/> left out.</summary>
    internal static (string[] Names, float[] Rows) ReadNumericCsv(string path, IReadOnlyCollection<string> drop)
    {
        using var reader = File.OpenText(path);
        var header = reader.ReadLine() ?? throw new FormatException("the file is empty.");
        var columns = header.Split(',');
        var keep = new List<int>();
        var names = new List<string>();
        for (var c = 0; c < columns.Length; c++)
        {
            var name = columns[c].Trim().Trim('"');
            if (!drop.Contains(name))
            {
                keep.Add(c);
                names.Add(name);
            }
        }
        if (keep.Count == 0)
        {
            throw new FormatException("no feature columns.");
        }
        var values = new List<float>();
        var lineNumber = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }
            var cells = line.Split(',');
            if (cells.Length != columns.Length)
            {
                throw new FormatException($"line {lineNumber} has {cells.Length} cells; the header has {columns.Length}.");
            }
            foreach (var c in keep)
            {
                if (!float.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !float.IsFinite(v))
                {
                    throw new FormatException($"line {lineNumber}, column '{columns[c]}': '{cells[c]}' is not a finite number.");
                }
                values.Add(v);
            }
        }
        return ([.. names], [.. values]);
    }

    private static async Task WriteCsvAsync(string path, string[] names, float[] rows, CancellationToken ct)
    {
        await using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        await writer.WriteLineAsync(string.Join(',', names));
        var line = new StringBuilder();
        for (var r = 0; r < rows.Length / names.Length; r++)
        {
            ct.ThrowIfCancellationRequested();
            line.Clear();
            for (var f = 0; f < names.Length; f++)
            {
                if (f > 0)
                {
                    line.Append(',');
                }
                line.Append(rows[(r * names.Length) + f].ToString("R", CultureInfo.InvariantCulture));
            }
            await writer.WriteLineAsync(line.ToString());
        }
    }

    private static int CountIn(HashSet<string> set, IReadOnlyList<string> ids)
    {
        var n = 0;
        foreach (var id in ids)
        {
            n += set.Contains(id) ? 1 : 0;
        }
        return n;
    }

    private static int CountTrue(bool[] flags)
    {
        var n = 0;
        foreach (var f in flags)
        {
            n += f ? 1 : 0;
        }
        return n;
    }
}
