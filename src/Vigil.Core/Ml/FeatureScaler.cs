namespace Vigil.Core.Ml;

/// <summary>
/// Standardisation kept with a model: each feature is optionally put through log(1 + max(x, 0)), then centred on
/// the training mean and divided by the training standard deviation (population, as scikit-learn's StandardScaler).
/// A constant feature gets a deviation of 1, so it standardises to 0 instead of dividing by zero.
/// </summary>
/// <remarks>Immutable and thread-safe; <see cref="Transform"/> allocates nothing.</remarks>
public sealed class FeatureScaler
{
    private readonly string[] _names;
    private readonly bool[] _log;
    private readonly double[] _means;
    private readonly double[] _stds;

    private FeatureScaler(string[] names, bool[] log, double[] means, double[] stds)
    {
        _names = names;
        _log = log;
        _means = means;
        _stds = stds;
    }

    /// <summary>The number of features.</summary>
    public int FeatureCount => _names.Length;

    /// <summary>Feature names, in vector order.</summary>
    public IReadOnlyList<string> FeatureNames => _names;

    /// <summary>Training means after the log step, per feature.</summary>
    public IReadOnlyList<double> Means => _means;

    /// <summary>Training standard deviations after the log step (1 for constant features).</summary>
    public IReadOnlyList<double> StandardDeviations => _stds;

    /// <summary>Whether feature <paramref name="feature"/> is log-scaled before standardising.</summary>
    public bool IsLogScaled(int feature) => _log[feature];

    /// <summary>Learns means and deviations from <paramref name="rows"/> (row-major, <paramref name="names"/>.Count columns).</summary>
    /// <exception cref="ArgumentException">No rows, not whole rows, or a NaN or infinity.</exception>
    public static FeatureScaler Fit(ReadOnlySpan<float> rows, IReadOnlyList<string> names, IReadOnlyList<bool>? logScaled = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        var d = names.Count;
        if (d == 0 || rows.Length == 0 || rows.Length % d != 0)
        {
            throw new ArgumentException($"Need at least one whole row of {d} features; got {rows.Length} values.", nameof(rows));
        }
        if (logScaled is not null && logScaled.Count != d)
        {
            throw new ArgumentException($"{logScaled.Count} log flags for {d} features.", nameof(logScaled));
        }
        var log = new bool[d];
        for (var f = 0; f < d; f++)
        {
            log[f] = logScaled?[f] ?? false;
        }
        var n = rows.Length / d;
        var means = new double[d];
        var m2 = new double[d];
        for (var r = 0; r < n; r++)
        {
            for (var f = 0; f < d; f++)
            {
                var raw = rows[(r * d) + f];
                if (!float.IsFinite(raw))
                {
                    throw new ArgumentException($"Row {r}, feature '{names[f]}' is {raw}.", nameof(rows));
                }
                var x = Pre(raw, log[f]);
                var delta = x - means[f];
                means[f] += delta / (r + 1);
                m2[f] += delta * (x - means[f]);
            }
        }
        var stds = new double[d];
        for (var f = 0; f < d; f++)
        {
            var std = Math.Sqrt(m2[f] / n);
            stds[f] = std > 1e-12 ? std : 1;
        }
        var copy = new string[d];
        for (var f = 0; f < d; f++)
        {
            copy[f] = names[f];
        }
        return new FeatureScaler(copy, log, means, stds);
    }

    /// <summary>A scaler with given statistics (for tests and loading).</summary>
    public static FeatureScaler Create(IReadOnlyList<string> names, IReadOnlyList<bool> logScaled, IReadOnlyList<double> means, IReadOnlyList<double> stds)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(logScaled);
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(stds);
        var d = names.Count;
        if (logScaled.Count != d || means.Count != d || stds.Count != d)
        {
            throw new ArgumentException("Names, log flags, means and deviations must have one entry per feature.");
        }
        var s = new double[d];
        for (var f = 0; f < d; f++)
        {
            if (!double.IsFinite(means[f]) || !(stds[f] > 0) || !double.IsFinite(stds[f]))
            {
                throw new ArgumentException($"Feature '{names[f]}' has mean {means[f]} and deviation {stds[f]}.");
            }
            s[f] = stds[f];
        }
        return new FeatureScaler([.. names], [.. logScaled], [.. means], s);
    }

    /// <summary>Standardises one row; <paramref name="scaled"/> needs <see cref="FeatureCount"/> slots. A NaN stays NaN.</summary>
    public void Transform(ReadOnlySpan<float> raw, Span<float> scaled)
    {
        if (raw.Length < _names.Length || scaled.Length < _names.Length)
        {
            throw new ArgumentException($"A row has {_names.Length} features.");
        }
        for (var f = 0; f < _names.Length; f++)
        {
            scaled[f] = (float)((Pre(raw[f], _log[f]) - _means[f]) / _stds[f]);
        }
    }

    /// <summary>Standardises whole rows, row-major.</summary>
    public void TransformRows(ReadOnlySpan<float> raw, Span<float> scaled)
    {
        var d = _names.Length;
        if (raw.Length % d != 0 || scaled.Length < raw.Length)
        {
            throw new ArgumentException($"Rows have {d} features.");
        }
        for (var r = 0; r < raw.Length / d; r++)
        {
            Transform(raw.Slice(r * d, d), scaled.Slice(r * d, d));
        }
    }

    /// <summary>The standardised value <paramref name="z"/> of a feature back in original units.</summary>
    public double Inverse(int feature, double z)
    {
        var x = (z * _stds[feature]) + _means[feature];
        return _log[feature] ? Math.Exp(x) - 1 : x;
    }

    /// <summary>Writes the scaler (names, log flags, means, deviations).</summary>
    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_names.Length);
        for (var f = 0; f < _names.Length; f++)
        {
            writer.Write(_names[f]);
            writer.Write(_log[f]);
            writer.Write(_means[f]);
            writer.Write(_stds[f]);
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote.</summary>
    /// <exception cref="InvalidDataException">Truncated or inconsistent.</exception>
    public static FeatureScaler Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var d = reader.ReadInt32();
        if (d is < 1 or > 4096)
        {
            throw new InvalidDataException($"A scaler claims {d} features.");
        }
        var names = new string[d];
        var log = new bool[d];
        var means = new double[d];
        var stds = new double[d];
        for (var f = 0; f < d; f++)
        {
            names[f] = reader.ReadString();
            log[f] = reader.ReadBoolean();
            means[f] = reader.ReadDouble();
            stds[f] = reader.ReadDouble();
        }
        try
        {
            return Create(names, log, means, stds);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException(ex.Message, ex);
        }
    }

    private static double Pre(float x, bool log) => log ? Math.Log(1 + Math.Max(x, 0)) : x;
}
