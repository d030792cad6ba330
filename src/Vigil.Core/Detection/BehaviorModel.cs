using Vigil.Core.Ml;

namespace Vigil.Core.Detection;

/// <summary>Settings of the <see cref="BehaviorModel"/> that BEHAVIOR_ANOMALY learns from the stream.</summary>
public sealed record BehaviorModelOptions
{
    /// <summary>Successful logins a user needs before the rule may alert on them, the session's own included (default
    /// 10, as Entra ID's learning period).</summary>
    public int MinLogins { get; init; } = 10;

    /// <summary>Successful logins a user needs before their rows train the model (default 3): with fewer, "their own
    /// busiest hour before" means little, and newcomers would teach the forest that everything is new.</summary>
    public int TrainingMinLogins { get; init; } = 10;

    /// <summary>Users the training sample holds (default 20,000): each user's latest behaviour vector, so a few
    /// hyperactive accounts (scrapers) cannot fill it with their own events.</summary>
    public int SampleUsers { get; init; } = 20_000;

    /// <summary>Users in the sample before the first model is fitted (default 200); until then the rule is silent.</summary>
    public int MinTrainingUsers { get; init; } = 200;

    /// <summary>Event time between refits on the current sample (default 1 hour).</summary>
    public TimeSpan RetrainInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Trees of the forest (default 100).</summary>
    public int Trees { get; init; } = 100;

    /// <summary>ψ, rows per tree (default 256).</summary>
    public int SampleSize { get; init; } = 256;

    /// <summary>
    /// Normalise path lengths by the mean path length of the training rows instead of the paper's c(ψ) (default
    /// false). c(ψ) is the mean path length of ψ distinct values, so that an ordinary row scores about 0.5; these rows
    /// are mostly ties (most users do nothing beyond their own habits: all features 0), tie groups sink to deep
    /// leaves, and ordinary rows score about 0.35–0.4 with c(ψ). Dividing by the measured mean puts them back at 0.5
    /// without changing the order of any two rows; at the same threshold it alerts more, on both sides (docs/RULES.md
    /// has the measured trade-off).
    /// </summary>
    public bool NormaliseBySample { get; init; }

    /// <summary>Seed of the sample's replacement choices and of the forests, so a replay learns the same models.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MinLogins, nameof(MinLogins));
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleUsers, 2, nameof(SampleUsers));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinTrainingUsers, 2, nameof(MinTrainingUsers));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetrainInterval, TimeSpan.Zero, nameof(RetrainInterval));
        new IsolationForestOptions { Trees = Trees, SampleSize = SampleSize }.Validate();
    }
}

/// <summary>One refit of a <see cref="BehaviorModel"/>: what the registry, ml_model_metrics and MODEL_TRAINED report.</summary>
/// <param name="Version">The model's own version (1 for its first forest); alerts carry it as evidence.</param>
/// <param name="EventTimeMs">The event time of the event that made the refit due.</param>
/// <param name="SampleCount">Users in the sample the forest was fitted on.</param>
/// <param name="TrainingMs">Wall time of the fit and of the metrics, in milliseconds.</param>
/// <param name="Parameters">Trees, ψ, seed, threshold, normaliser and the sample's settings.</param>
/// <param name="Metrics">The score distribution over (up to 2,000 of) the sample's rows: p50, p90, p99, maximum and
/// the share at or above the threshold.</param>
public sealed record BehaviorModelTrained(int Version, long EventTimeMs, int SampleCount, double TrainingMs,
    IReadOnlyDictionary<string, double> Parameters, IReadOnlyDictionary<string, double?> Metrics);

/// <summary>
/// The Isolation Forest behind BEHAVIOR_ANOMALY, learnt in the stream. Its rows are the user's recent behaviour
/// against their own habits, taken at each search or purchase: searches, purchases and spending in the last hour
/// (log(1 + x), so that one scraper's thousands do not stretch the scale everyone else is split on), whether the
/// session's device is new to the account and whether its login came at an hour unusual for this user. The sample
/// keeps each user's latest row (at most <see cref="BehaviorModelOptions.SampleUsers"/>), and a forest is refitted
/// on it every <see cref="BehaviorModelOptions.RetrainInterval"/> of event time.
/// </summary>
/// <remarks>
/// Why these rows and not the whole-history user features the trainer fits: an account taken over for an hour is
/// ordinary over its history and extreme only in that hour, and the forest's score compresses towards 0.5 as
/// features the row is ordinary in are added (each split on one of them separates nothing). On five recent-behaviour
/// features a night-time spree from a new device is beyond the sample's range on all of them, and isolates in two or
/// three splits. Thread-safe: serve shares one model between its partitions (<see cref="BehaviorAnomalyOptions.SharedModel"/>);
/// a refit runs on the thread whose event made it due, under the sample's lock, and the new forest is swapped in whole.
/// Everything it does depends only on the order of the events it is shown, so a replay (one pipeline) learns the same
/// models and raises the same alerts every time.
/// </remarks>
public sealed class BehaviorModel
{
    /// <summary>The length of a behaviour vector.</summary>
    public const int FeatureCount = 5;

    private static readonly string[] s_names = ["searchesAboveOwnMax", "purchasesAboveOwnMax", "spendingAboveOwnMax", "newDevice", "loginHourRarity"];

    private readonly BehaviorModelOptions _options;
    private readonly double _threshold;
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly List<string> _owners = [];
    private readonly List<float> _rows = [];
    private readonly long _retrainMs;
    private readonly bool _fixed;
    private readonly Lock _lock = new();
    private Xoshiro256 _rng;
    private long _trainedAtMs = long.MinValue;
    private volatile Fitted? _fitted;
    private BehaviorModelTrained? _lastTraining;

    /// <summary>The state format <see cref="WriteState"/> writes.</summary>
    public const byte StateFormat = 1;

    /// <summary>Rows of the sample whose scores make a refit's metrics (the first ones, so the figures are reproducible).</summary>
    private const int MetricRows = 2_000;

    /// <param name="options">Sample and forest settings.</param>
    /// <param name="threshold">The anomaly threshold the forests carry (<c>ml.anomaly.threshold</c>).</param>
    public BehaviorModel(BehaviorModelOptions options, double threshold)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _threshold = threshold;
        _retrainMs = (long)options.RetrainInterval.TotalMilliseconds;
        _rng = new Xoshiro256(options.Seed ^ 0xB5AD4ECEDA1CE2A9UL);
    }

    /// <summary>A model that scores with a given forest and never learns (tests, a model trained elsewhere).</summary>
    public BehaviorModel(IsolationForest forest, int minLogins = 10)
    {
        ArgumentNullException.ThrowIfNull(forest);
        if (forest.FeatureCount != FeatureCount)
        {
            throw new ArgumentException($"a behaviour forest has {FeatureCount} features, not {forest.FeatureCount}.", nameof(forest));
        }
        _options = new BehaviorModelOptions { MinLogins = minLogins };
        _threshold = forest.Threshold;
        _fixed = true;
        _fitted = new Fitted(forest, IsolationForest.AveragePathLength(forest.SampleSize), 1);
    }

    /// <summary>The names of the vector's features, in order (the keys of an alert's attribution).</summary>
    public static IReadOnlyList<string> Names => s_names;

    /// <summary>The forest in use; null until <see cref="BehaviorModelOptions.MinTrainingUsers"/> users were seen.</summary>
    public IsolationForest? Forest => _fitted?.Forest;

    /// <summary>What a mean path length is divided by in <see cref="Score(ReadOnlySpan{float}, Span{double}, out double, out int)"/>: c(ψ), or the training rows' mean path length
    /// (<see cref="BehaviorModelOptions.NormaliseBySample"/>).</summary>
    public double PathNormaliser => _fitted?.Normaliser ?? double.NaN;

    /// <summary>Forests fitted so far (0 before the first).</summary>
    public int Version => _fitted?.Version ?? 0;

    /// <summary>Users in the training sample.</summary>
    public int SampleCount
    {
        get
        {
            lock (_lock)
            {
                return _owners.Count;
            }
        }
    }

    /// <summary>The settings.</summary>
    public BehaviorModelOptions Options => _options;

    /// <summary>False for a model built around a given forest, which never refits and has nothing to checkpoint.</summary>
    public bool Learns => !_fixed;

    /// <summary>The latest refit's record (null before the first, and after a restore until the next refit).</summary>
    public BehaviorModelTrained? LastTraining => Volatile.Read(ref _lastTraining);

    /// <summary>Raised after each refit, on the thread whose event made it due, outside the sample's lock.</summary>
    public event Action<BehaviorModelTrained>? Trained;

    /// <summary>Writes the behaviour vector of <paramref name="features"/> into <paramref name="vector"/> (<see cref="FeatureCount"/> slots).</summary>
    public static void ToVector(in BehaviorFeatures features, Span<float> vector)
    {
        vector[0] = Excess(features.SearchesLastHour, features.BaselineSearches);
        vector[1] = Excess(features.PurchasesLastHour, features.BaselinePurchases);
        vector[2] = Excess(features.PurchaseAmountLastHour, features.BaselineAmount);
        vector[3] = features.NewDevice ? 1 : 0;
        vector[4] = (float)(1 - Math.Clamp(features.LoginHourShare, 0, 1));
    }

    /// <summary>How far the last hour goes beyond the user's own busiest hour before, on a log scale (0 when not).</summary>
    /// <remarks>The logarithm never decreases, so an hour at or below the busiest is 0 without computing it (most events
    /// are; a NaN still takes the formula).</remarks>
    private static float Excess(double lastHour, double ownMax) =>
        lastHour <= ownMax ? 0f : (float)Math.Max(0, Math.Log(1 + Math.Max(0, lastHour)) - Math.Log(1 + Math.Max(0, ownMax)));

    /// <summary>Feature <paramref name="index"/> in words and original units, for an alert's evidence.</summary>
    public static string Describe(in BehaviorFeatures features, int index) => index switch
    {
        0 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{features.SearchesLastHour} searches in the last hour (own busiest hour before: {features.BaselineSearches})"),
        1 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{features.PurchasesLastHour} purchases in the last hour (own most in an hour before: {features.BaselinePurchases})"),
        2 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{features.PurchaseAmountLastHour:0.##} spent in the last hour (own most in an hour before: {features.BaselineAmount:0.##})"),
        3 => features.NewDevice ? "a device this account never used" : "a known device",
        _ => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{features.LoginHourShare:P0} of this account's earlier logins came within an hour of this session's ({features.LocalHour:00}:00 local)"),
    };

    /// <summary>
    /// The anomaly score s = 2^(−E[h] / <see cref="PathNormaliser"/>) of a behaviour vector, with each feature's share of
    /// the isolation in <paramref name="attribution"/> (<see cref="IsolationForest.Explain"/>); NaN before a forest.
    /// </summary>
    /// <param name="vector">The behaviour vector (<see cref="ToVector"/>).</param>
    /// <param name="attribution">Receives <see cref="FeatureCount"/> shares.</param>
    /// <param name="paperScore">The paper's s with c(ψ), for the evidence.</param>
    /// <param name="version">The version of the forest that scored (0 before the first).</param>
    public double Score(ReadOnlySpan<float> vector, Span<double> attribution, out double paperScore, out int version)
    {
        // One read of the fitted pair, so a refit on another thread never mixes one forest with another's normaliser.
        if (_fitted is not { } fitted)
        {
            attribution.Clear();
            paperScore = double.NaN;
            version = 0;
            return double.NaN;
        }
        version = fitted.Version;
        paperScore = fitted.Forest.Explain(vector, attribution);
        var meanPath = -Math.Log2(paperScore) * IsolationForest.AveragePathLength(fitted.Forest.SampleSize);
        return double.Exp2(-meanPath / fitted.Normaliser);
    }

    /// <summary>
    /// <see cref="Score(ReadOnlySpan{float}, Span{double}, out double, out int)"/> without the attribution, which most
    /// events never need; <paramref name="forest"/> is the forest that scored (null before one), for
    /// <see cref="IsolationForest.Explain"/> when the attribution is wanted after all. The scores are the same, bit for bit.
    /// </summary>
    public double Score(ReadOnlySpan<float> vector, out double paperScore, out int version, out IsolationForest? forest) =>
        Score(vector, out paperScore, out version, out forest, null);

    /// <summary>
    /// <see cref="Score(ReadOnlySpan{float}, out double, out int, out IsolationForest?)"/>, answering from
    /// <paramref name="memo"/> when the same forest scored the same vector (bit for bit) there before. Behaviour vectors
    /// repeat a great deal (most are zeros but for the login-hour term, and a user's page views in one hour give the
    /// same vector), and the forest's walk is the costliest step of the rule. The scores are the same with or without.
    /// </summary>
    /// <param name="vector">The behaviour vector.</param>
    /// <param name="paperScore">The forest's own score.</param>
    /// <param name="version">The version of the forest that scored (0 before one).</param>
    /// <param name="forest">The forest that scored (null before one).</param>
    /// <param name="memo">One caller's recent scores (not thread-safe: one per thread or pipeline), or null.</param>
    public double Score(ReadOnlySpan<float> vector, out double paperScore, out int version, out IsolationForest? forest, ScoreMemo? memo)
    {
        if (_fitted is not { } fitted)
        {
            paperScore = double.NaN;
            version = 0;
            forest = null;
            return double.NaN;
        }
        version = fitted.Version;
        forest = fitted.Forest;
        if (memo is null || vector.Length != FeatureCount)
        {
            return ScoreWith(fitted, vector, out paperScore);
        }
        uint a = BitConverter.SingleToUInt32Bits(vector[0]), b = BitConverter.SingleToUInt32Bits(vector[1]),
            c = BitConverter.SingleToUInt32Bits(vector[2]), d = BitConverter.SingleToUInt32Bits(vector[3]),
            e = BitConverter.SingleToUInt32Bits(vector[4]);
        ref var entry = ref memo.EntryFor(a, b, c, d, e);
        if (ReferenceEquals(entry.Fitted, fitted) && entry.A == a && entry.B == b && entry.C == c && entry.D == d && entry.E == e)
        {
            paperScore = entry.Paper;
            return entry.Score;
        }
        var score = ScoreWith(fitted, vector, out paperScore);
        entry = new ScoreMemo.Entry { Fitted = fitted, A = a, B = b, C = c, D = d, E = e, Paper = paperScore, Score = score };
        return score;
    }

    private static double ScoreWith(Fitted fitted, ReadOnlySpan<float> vector, out double paperScore)
    {
        // Score sums the same leaves' path lengths as Explain, exactly (IsolationForestKernelTests holds them equal).
        paperScore = fitted.Forest.Score(vector);
        var meanPath = -Math.Log2(paperScore) * IsolationForest.AveragePathLength(fitted.Forest.SampleSize);
        return double.Exp2(-meanPath / fitted.Normaliser);
    }

    /// <summary>
    /// Recent scores of <see cref="Score(ReadOnlySpan{float}, out double, out int, out IsolationForest?, ScoreMemo?)"/>
    /// by forest and vector: 4,096 entries of 48 bytes, one per hash of the vector, a newer score replacing an older
    /// one. Not thread-safe: one per pipeline.
    /// </summary>
    public sealed class ScoreMemo
    {
        private const int Size = 4096;
        private readonly Entry[] _entries = new Entry[Size];

        internal ref Entry EntryFor(uint a, uint b, uint c, uint d, uint e)
        {
            ulong h = (a * 0x9E3779B97F4A7C15UL) ^ (b * 0xC2B2AE3D27D4EB4FUL) ^ (c * 0x165667B19E3779F9UL)
                ^ (d * 0x27D4EB2F165667C5UL) ^ (e * 0xFF51AFD7ED558CCDUL);
            h ^= h >> 29;
            h *= 0xBF58476D1CE4E5B9UL;
            h ^= h >> 32;
            return ref _entries[(int)(h & (Size - 1))];
        }

        internal struct Entry
        {
            // The fitted forest and normaliser the score is of: a refit makes a new one, so old entries no longer match.
            public object? Fitted;
            public uint A;
            public uint B;
            public uint C;
            public uint D;
            public uint E;
            public double Paper;
            public double Score;
        }
    }

    /// <summary>
    /// Puts <paramref name="vector"/> in the sample as <paramref name="userId"/>'s latest row and refits the forest
    /// when one is due at <paramref name="timestampMs"/>. A user new to a full sample replaces a random one.
    /// </summary>
    public void Observe(string userId, ReadOnlySpan<float> vector, long timestampMs, int logins)
    {
        ushort hint = 0;
        Observe(userId, vector, timestampMs, logins, ref hint);
    }

    /// <summary>
    /// <see cref="Observe(string, ReadOnlySpan{float}, long, int)"/> with the caller's note of where the user's row is:
    /// <paramref name="sampleHint"/> is the row's index + 1 as the previous call left it (0 when unknown, or past
    /// 65,534). It is checked against the row's owner, so a stale note (the user replaced in the sample, a restored
    /// model) only costs the lookup it would have saved; the sample and the generator end the same either way.
    /// </summary>
    public void Observe(string userId, ReadOnlySpan<float> vector, long timestampMs, int logins, ref ushort sampleHint)
    {
        if (_fixed || logins < _options.TrainingMinLogins)
        {
            return;
        }
        BehaviorModelTrained? trained;
        lock (_lock)
        {
            trained = ObserveLocked(userId, vector, timestampMs, ref sampleHint);
        }
        if (trained is not null)
        {
            Trained?.Invoke(trained);
        }
    }

    private BehaviorModelTrained? ObserveLocked(string userId, ReadOnlySpan<float> vector, long timestampMs, ref ushort sampleHint)
    {
        // The caller's note when the row it names is still the user's, else the lookup.
        var slot = sampleHint - 1;
        var known = ((uint)slot < (uint)_owners.Count && _owners[slot] is var owner
                && (ReferenceEquals(owner, userId) || string.Equals(owner, userId, StringComparison.Ordinal)))
            || _slots.TryGetValue(userId, out slot);
        if (known)
        {
            vector[..FeatureCount].CopyTo(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_rows).Slice(slot * FeatureCount, FeatureCount));
        }
        else if (_owners.Count < _options.SampleUsers)
        {
            slot = _owners.Count;
            _slots[userId] = slot;
            _owners.Add(userId);
            for (var f = 0; f < FeatureCount; f++)
            {
                _rows.Add(vector[f]);
            }
        }
        else
        {
            slot = _rng.NextInt(_owners.Count);
            _slots.Remove(_owners[slot]);
            _owners[slot] = userId;
            _slots[userId] = slot;
            vector[..FeatureCount].CopyTo(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_rows).Slice(slot * FeatureCount, FeatureCount));
        }
        sampleHint = slot < ushort.MaxValue - 1 ? (ushort)(slot + 1) : (ushort)0;

        var due = _fitted is null ? _owners.Count >= _options.MinTrainingUsers : timestampMs - _trainedAtMs >= _retrainMs;
        if (!due)
        {
            return null;
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var version = Version + 1;
        var rows = _rows.ToArray();
        var forest = IsolationForest.Fit(rows, FeatureCount, new IsolationForestOptions
        {
            Trees = _options.Trees,
            SampleSize = _options.SampleSize,
            Seed = _options.Seed + (ulong)version,
            Threshold = _threshold,
        });
        var normaliser = IsolationForest.AveragePathLength(forest.SampleSize);
        if (_options.NormaliseBySample)
        {
            double sum = 0;
            for (var r = 0; r < _owners.Count; r++)
            {
                sum += forest.MeanPathLength(rows.AsSpan(r * FeatureCount, FeatureCount));
            }
            normaliser = Math.Max(1, sum / _owners.Count);
        }
        _fitted = new Fitted(forest, normaliser, version);
        _trainedAtMs = timestampMs;
        var metrics = SampleMetrics(forest, normaliser, rows, _owners.Count);
        var trained = new BehaviorModelTrained(version, timestampMs, _owners.Count,
            System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, Parameters(normaliser), metrics);
        Volatile.Write(ref _lastTraining, trained);
        return trained;
    }

    private Dictionary<string, double> Parameters(double normaliser) => new(StringComparer.Ordinal)
    {
        ["trees"] = _options.Trees,
        ["sampleSize"] = _options.SampleSize,
        ["seed"] = _options.Seed,
        ["threshold"] = _threshold,
        ["normaliser"] = normaliser,
        ["sampleUsers"] = _options.SampleUsers,
        ["minTrainingUsers"] = _options.MinTrainingUsers,
        ["retrainIntervalSeconds"] = _options.RetrainInterval.TotalSeconds,
    };

    private Dictionary<string, double?> SampleMetrics(IsolationForest forest, double normaliser, float[] rows, int users)
    {
        var n = Math.Min(users, MetricRows);
        var scores = new double[n];
        var above = 0;
        for (var r = 0; r < n; r++)
        {
            scores[r] = double.Exp2(-forest.MeanPathLength(rows.AsSpan(r * FeatureCount, FeatureCount)) / normaliser);
            if (scores[r] >= _threshold)
            {
                above++;
            }
        }
        Array.Sort(scores);
        return new Dictionary<string, double?>(StringComparer.Ordinal)
        {
            ["scoreP50"] = ClusterMetrics.Percentile(scores, 50),
            ["scoreP90"] = ClusterMetrics.Percentile(scores, 90),
            ["scoreP99"] = ClusterMetrics.Percentile(scores, 99),
            ["scoreMax"] = n == 0 ? null : scores[^1],
            ["shareAboveThreshold"] = n == 0 ? null : (double)above / n,
        };
    }

    /// <summary>
    /// Writes everything the model has learnt — the sample (each user's latest row), the replacement generator, the
    /// time and version of the last refit and the forest in service — so that a model read back with
    /// <see cref="ReadState"/> samples, refits and scores exactly as this one would have. Takes the sample's lock.
    /// </summary>
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        lock (_lock)
        {
            writer.Write(StateFormat);
            writer.Write(_trainedAtMs);
            _rng.Write(writer);
            writer.Write(_owners.Count);
            var rows = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_rows);
            for (var u = 0; u < _owners.Count; u++)
            {
                writer.Write(_owners[u]);
                for (var f = 0; f < FeatureCount; f++)
                {
                    writer.Write(rows[(u * FeatureCount) + f]);
                }
            }
            if (_fitted is { } fitted)
            {
                writer.Write(fitted.Version);
                writer.Write(fitted.Normaliser);
                using var forest = new MemoryStream();
                fitted.Forest.Save(forest);
                writer.Write((int)forest.Length);
                writer.Write(forest.GetBuffer(), 0, (int)forest.Length);
            }
            else
            {
                writer.Write(0);
            }
        }
    }

    /// <summary>
    /// Replaces everything learnt with what <see cref="WriteState"/> wrote (a model that never learns ignores it).
    /// </summary>
    /// <exception cref="InvalidDataException">An unknown format, a forest of another shape, or inconsistent data.</exception>
    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var format = reader.ReadByte();
        if (format != StateFormat)
        {
            throw new InvalidDataException($"behaviour model state format {format}; this build reads {StateFormat}.");
        }
        var trainedAtMs = reader.ReadInt64();
        var rng = Xoshiro256.Read(reader);
        var count = reader.ReadInt32();
        if (count < 0 || count > _options.SampleUsers)
        {
            throw new InvalidDataException($"a behaviour sample of {count} users (this model holds at most {_options.SampleUsers}).");
        }
        var owners = new List<string>(count);
        var rows = new List<float>(count * FeatureCount);
        var slots = new Dictionary<string, int>(count, StringComparer.Ordinal);
        for (var u = 0; u < count; u++)
        {
            var owner = reader.ReadString();
            if (!slots.TryAdd(owner, u))
            {
                throw new InvalidDataException("a user twice in the behaviour sample.");
            }
            owners.Add(owner);
            for (var f = 0; f < FeatureCount; f++)
            {
                rows.Add(reader.ReadSingle());
            }
        }
        Fitted? fitted = null;
        var version = reader.ReadInt32();
        if (version > 0)
        {
            var normaliser = reader.ReadDouble();
            var length = reader.ReadInt32();
            if (length <= 0 || !(normaliser > 0))
            {
                throw new InvalidDataException("a behaviour forest without bytes or normaliser.");
            }
            var forest = IsolationForest.Load(new MemoryStream(reader.ReadBytes(length), writable: false));
            if (forest.FeatureCount != FeatureCount)
            {
                throw new InvalidDataException($"a behaviour forest has {FeatureCount} features, not {forest.FeatureCount}.");
            }
            fitted = new Fitted(forest.Threshold == _threshold ? forest : forest.WithThreshold(_threshold), normaliser, version);
        }
        if (_fixed)
        {
            return;
        }
        lock (_lock)
        {
            _trainedAtMs = trainedAtMs;
            _rng = rng;
            _owners.Clear();
            _owners.AddRange(owners);
            _rows.Clear();
            _rows.AddRange(rows);
            _slots.Clear();
            foreach (var (owner, slot) in slots)
            {
                _slots[owner] = slot;
            }
            _fitted = fitted;
        }
    }

    private sealed record Fitted(IsolationForest Forest, double Normaliser, int Version);
}
