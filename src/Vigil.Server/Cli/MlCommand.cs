using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Vigil.Core.Ml;

namespace Vigil.Server.Cli;

/// <summary><c>vigil ml iforest --csv FILE --label-column label</c>: fits and scores an isolation forest on a labelled CSV.</summary>
public static class MlCommand
{
    private const string Help = """
        Usage: ./vigil ml iforest --csv FILE [--label-column label] [--trees 100] [--sample 256] [--seed 1]
                                  [--rng sklearn|fast] [--threshold 0.8] [--threads 1] [--repeat 1]
                                  [--model-out FILE]

        Fits an isolation forest on every row of a CSV (a header row, numeric feature columns and one 0/1 label
        column, 1 = anomaly), scores every row, and prints one JSON object: rows, features, trees, sample, seed, rng,
        threshold, auc (ROC AUC of the scores against the labels; null when only one class is present), fitMs,
        scoreMs, scoreRowsPerSecond and anomaliesAtThreshold. The label is never a feature.

          --csv FILE           the data set
          --label-column NAME  the 0/1 label column (default label)
          --trees N            number of trees (default 100)
          --sample N           ψ, rows drawn for each tree (default 256, capped at the number of rows)
          --seed N             seed of the generator (default 1); the same seed gives the same forest
          --rng sklearn|fast   sklearn (default): draw the random numbers scikit-learn 1.2.1 draws, so --seed N
                               fits the trees of IsolationForest(random_state=N) on the same data (same scores
                               and AUC); fast: Vigil's own generator, O(ψ) per tree, the forests the stream fits
          --threshold S        a score at or above S is an anomaly (default 0.8, as ml.anomaly.threshold)
          --threads N          threads for fitting (trees) and scoring (rows); default 1. Results do not depend on it
          --repeat N           fit and score N times and report the median times (default 1)
          --model-out FILE     also save the fitted forest there (Vigil's binary forest format, that of
                               IsolationForest.Save; scripts/compare-iforest-trees.py reads it)

        fitMs and scoreMs are measured in the process around the fit and the scoring alone, after one untimed
        warm-up fit and score, so neither the start of dotnet, the CSV parsing nor JIT compilation counts.
        """;

    /// <summary>Runs the <c>ml</c> verb; <paramref name="args"/> starts with the sub-verb.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            await Console.Out.WriteLineAsync(Help);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] != "iforest")
        {
            throw new UsageException($"unknown sub-verb '{args[0]}'; the one there is: iforest.");
        }
        return await IsolationForestAsync(args[1..], ct);
    }

    private static async Task<int> IsolationForestAsync(string[] args, CancellationToken ct)
    {
        var cli = CliArgs.Parse(args, ["csv", "label-column", "trees", "sample", "seed", "rng", "threshold", "threads", "repeat", "model-out"], ["help"]);
        if (cli.Flag("help"))
        {
            await Console.Out.WriteLineAsync(Help);
            return 0;
        }
        if (cli.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{cli.Positionals[0]}'; give the data with --csv FILE.");
        }
        var path = cli.Get("csv") ?? throw new UsageException("--csv FILE is required.");
        if (!File.Exists(path))
        {
            throw new UsageException($"--csv file '{path}' does not exist.");
        }
        var labelColumn = cli.Get("label-column") ?? "label";
        var seedText = cli.Get("seed") ?? "1";
        if (!ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out var seed))
        {
            throw new UsageException($"--seed must be a whole number from 0 to {ulong.MaxValue}, not '{seedText}'.");
        }
        var rngText = cli.Get("rng") ?? "sklearn";
        var randomness = rngText switch
        {
            "sklearn" => IsolationForestRandomness.ScikitLearn,
            "fast" => IsolationForestRandomness.Fast,
            _ => throw new UsageException($"--rng must be sklearn or fast, not '{rngText}'."),
        };
        var thresholdText = cli.Get("threshold") ?? IsolationForestOptions.DefaultThreshold.ToString(CultureInfo.InvariantCulture);
        if (!double.TryParse(thresholdText, NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold) || !(threshold > 0 && threshold <= 1))
        {
            throw new UsageException($"--threshold must be a number in (0, 1], not '{thresholdText}'.");
        }
        var options = new IsolationForestOptions
        {
            Trees = cli.GetInt("trees", 100, 1, 100_000),
            SampleSize = cli.GetInt("sample", 256, 2, 1 << 24),
            Seed = seed,
            Randomness = randomness,
            Threshold = threshold,
            MaxDegreeOfParallelism = cli.GetInt("threads", 1, 1, 256),
        };
        var repeat = cli.GetInt("repeat", 1, 1, 1000);

        LabelledDataset data;
        try
        {
            using var reader = File.OpenText(path);
            data = LabelledCsv.Read(reader, labelColumn);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"vigil ml iforest: {path}: {ex.Message}");
            return 1;
        }
        if (data.RowCount < 2)
        {
            await Console.Error.WriteLineAsync($"vigil ml iforest: {path}: {data.RowCount} data rows; fitting needs at least 2.");
            return 1;
        }
        ct.ThrowIfCancellationRequested();

        // Warm-up: one untimed fit and score of the whole set, so JIT compilation (and tiering up the small helpers
        // on a background thread) is over before the timed runs.
        IsolationForest.Fit(data.Features, data.FeatureCount, options)
            .ScoreBatch(data.Features, new double[data.RowCount], options.MaxDegreeOfParallelism);

        var threads = options.MaxDegreeOfParallelism;
        var scores = new double[data.RowCount];
        var fitTimes = new double[repeat];
        var scoreTimes = new double[repeat];
        IsolationForest forest;
        var run = 0;
        do
        {
            ct.ThrowIfCancellationRequested();
            var fitStart = Stopwatch.GetTimestamp();
            forest = IsolationForest.Fit(data.Features, data.FeatureCount, options);
            fitTimes[run] = Stopwatch.GetElapsedTime(fitStart).TotalMilliseconds;

            var scoreStart = Stopwatch.GetTimestamp();
            forest.ScoreBatch(data.Features, scores, threads);
            scoreTimes[run] = Stopwatch.GetElapsedTime(scoreStart).TotalMilliseconds;
        }
        while (++run < repeat);
        var fitMs = Median(fitTimes);
        var scoreMs = Median(scoreTimes);

        if (cli.Get("model-out") is { } modelPath)
        {
            await using var file = File.Create(modelPath);
            forest.Save(file);
        }

        var anomalies = 0;
        foreach (var score in scores)
        {
            anomalies += forest.IsAnomaly(score) ? 1 : 0;
        }
        var auc = RocAuc.Compute(scores, data.Labels.Span);

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("rows", data.RowCount);
            json.WriteNumber("features", data.FeatureCount);
            json.WriteNumber("trees", forest.TreeCount);
            json.WriteNumber("sample", forest.SampleSize);
            json.WriteNumber("seed", forest.Seed);
            json.WriteString("rng", rngText);
            json.WriteNumber("threshold", forest.Threshold);
            if (double.IsNaN(auc))
            {
                json.WriteNull("auc");
            }
            else
            {
                json.WriteNumber("auc", Math.Round(auc, 6));
            }
            json.WriteNumber("fitMs", Math.Round(fitMs, 3));
            json.WriteNumber("scoreMs", Math.Round(scoreMs, 3));
            json.WriteNumber("scoreRowsPerSecond", Math.Round(data.RowCount / Math.Max(scoreMs / 1000, 1e-9), 0));
            json.WriteNumber("threads", threads);
            json.WriteNumber("repeat", repeat);
            json.WriteNumber("anomaliesAtThreshold", anomalies);
            json.WriteEndObject();
        }
        await Console.Out.WriteLineAsync(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        return 0;
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        var mid = values.Length / 2;
        return values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }
}
