using System.Globalization;
using Vigil.Server.Hosting;

namespace Vigil.Server.Ml;

/// <summary>
/// The machine-learning settings. The original stack's names work as they are (<c>ml.clustering.k</c>,
/// <c>ml.anomaly.threshold</c>, flat or nested as <c>ml:clustering:k</c>); the rest live under <c>Vigil:Ml</c>.
/// </summary>
public sealed record MlOptions
{
    /// <summary>Segments (<c>ml.clustering.k</c>, default 5).</summary>
    public int ClusteringK { get; init; } = 5;

    /// <summary>Anomaly threshold on the forest's score (<c>ml.anomaly.threshold</c>, default 0.8).</summary>
    public double AnomalyThreshold { get; init; } = 0.8;

    /// <summary>Time between periodic retrainings (<c>Vigil:Ml:RetrainInterval</c>, default 10 minutes).</summary>
    public TimeSpan RetrainInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Until the first model exists, training is tried this often (<c>Vigil:Ml:FirstTrainingInterval</c>, default 30 s).</summary>
    public TimeSpan FirstTrainingInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Users the training sample holds at most (<c>Vigil:Ml:SampleSize</c>, default 20000).</summary>
    public int SampleSize { get; init; } = 20_000;

    /// <summary>Users a training needs at least (<c>Vigil:Ml:MinUsers</c>, default 50).</summary>
    public int MinUsers { get; init; } = 50;

    /// <summary>Users not refreshed for this long (event time) are left out of training (<c>Vigil:Ml:SampleMaxAge</c>, 7 days).</summary>
    public TimeSpan SampleMaxAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>K-means restarts, scikit-learn's n_init (<c>Vigil:Ml:KMeansRestarts</c>, default 10, as scikit-learn 1.2).</summary>
    public int KMeansRestarts { get; init; } = 10;

    /// <summary>Isolation trees (<c>Vigil:Ml:Trees</c>, default 100).</summary>
    public int Trees { get; init; } = 100;

    /// <summary>ψ of the forest (<c>Vigil:Ml:ForestSample</c>, default 256).</summary>
    public int ForestSample { get; init; } = 256;

    /// <summary>Successful logins before a user can be anomalous (<c>Vigil:Ml:MinLogins</c>, default 10).</summary>
    public int MinLogins { get; init; } = 10;

    /// <summary>Events before a user's first segment (<c>Vigil:Ml:SegmentMinEvents</c>, default 5).</summary>
    public int SegmentMinEvents { get; init; } = 5;

    /// <summary>Events between re-assessments of a user's segment (<c>Vigil:Ml:SegmentReassessEvery</c>, default 20).</summary>
    public int SegmentReassessEvery { get; init; } = 20;

    /// <summary>Seed of training (<c>Vigil:Ml:Seed</c>, default 1).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where models are kept (<c>Vigil:Ml:ModelDirectory</c>, default &lt;data dir&gt;/models).</summary>
    public string ModelDirectory { get; init; } = "./data/models";

    /// <summary>Reads and validates the settings; a bad value throws an <see cref="OptionsException"/> naming it.</summary>
    public static MlOptions From(IConfiguration config, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(config);
        var ml = config.GetSection("Vigil:Ml");
        return new MlOptions
        {
            ClusteringK = Int(config, ["ml.clustering.k", "ml:clustering:k", "Vigil:Ml:Clustering:K"], 5, 2, 50),
            AnomalyThreshold = Double(config, ["ml.anomaly.threshold", "ml:anomaly:threshold", "Vigil:Ml:Anomaly:Threshold"], 0.8, 0.5, 1),
            RetrainInterval = Time(ml, "RetrainInterval", TimeSpan.FromMinutes(10)),
            FirstTrainingInterval = Time(ml, "FirstTrainingInterval", TimeSpan.FromSeconds(30)),
            SampleSize = Int(config, ["Vigil:Ml:SampleSize"], 20_000, 100, 5_000_000),
            MinUsers = Int(config, ["Vigil:Ml:MinUsers"], 50, 10, 1_000_000),
            SampleMaxAge = Time(ml, "SampleMaxAge", TimeSpan.FromDays(7)),
            KMeansRestarts = Int(config, ["Vigil:Ml:KMeansRestarts"], 10, 1, 100),
            Trees = Int(config, ["Vigil:Ml:Trees"], 100, 1, 10_000),
            ForestSample = Int(config, ["Vigil:Ml:ForestSample"], 256, 2, 1 << 20),
            MinLogins = Int(config, ["Vigil:Ml:MinLogins"], 10, 0, 1_000_000),
            SegmentMinEvents = Int(config, ["Vigil:Ml:SegmentMinEvents"], 5, 1, 1_000_000),
            SegmentReassessEvery = Int(config, ["Vigil:Ml:SegmentReassessEvery"], 20, 1, 1_000_000),
            Seed = Int(config, ["Vigil:Ml:Seed"], 1, 0, int.MaxValue),
            ModelDirectory = ml["ModelDirectory"] ?? Path.Combine(dataDirectory, "models"),
        };
    }

    private static string? First(IConfiguration config, string[] keys, out string key)
    {
        foreach (var k in keys)
        {
            if (config[k] is { Length: > 0 } value)
            {
                key = k;
                return value;
            }
        }
        key = keys[0];
        return null;
    }

    private static int Int(IConfiguration config, string[] keys, int fallback, int min, int max)
    {
        if (First(config, keys, out var key) is not { } text)
        {
            return fallback;
        }
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new OptionsException(key, $"'{text}' is not a whole number from {min} to {max}.");
        }
        return value;
    }

    private static double Double(IConfiguration config, string[] keys, double fallback, double min, double max)
    {
        if (First(config, keys, out var key) is not { } text)
        {
            return fallback;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value >= min && value <= max))
        {
            throw new OptionsException(key, $"'{text}' is not a number from {min} to {max}.");
        }
        return value;
    }

    private static TimeSpan Time(IConfiguration section, string key, TimeSpan fallback)
    {
        if (section[key] is not { Length: > 0 } text)
        {
            return fallback;
        }
        if (Vigil.Core.Durations.TryParse(text, out var value) && value > TimeSpan.Zero)
        {
            return value;
        }
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value > TimeSpan.Zero)
        {
            return value;
        }
        throw new OptionsException("Vigil:Ml:" + key, $"'{text}' is not a duration such as 10m, 30s or 00:10:00.");
    }
}
