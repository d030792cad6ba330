using System.Text;
using Vigil.Core.Features;

namespace Vigil.Core.Ml;

/// <summary>
/// A fitted segmentation: k centroids in standardised feature space, the <see cref="FeatureScaler"/> that defines
/// that space, and a name per segment. Assigning a user is a nearest-centroid search (k × 15 multiply-adds), so it
/// needs no ML library and runs on the per-event path. Immutable and thread-safe.
/// </summary>
public sealed class SegmentModel
{
    private const uint Magic = 0x4D4B4756; // "VGKM" little-endian
    private const int Format = 1;

    private readonly float[] _centroids;
    private readonly short[] _codes;
    private readonly string[] _names;

    /// <param name="version">The registry version of the model.</param>
    /// <param name="scaler">Defines the standardised space; must have <see cref="UserFeatures.Count"/> features.</param>
    /// <param name="centroids">k standardised centroids, row-major.</param>
    /// <param name="k">The number of segments.</param>
    /// <param name="codes">The name code of each segment; null derives them with <see cref="SegmentNames.Assign"/>.</param>
    public SegmentModel(int version, FeatureScaler scaler, ReadOnlySpan<float> centroids, int k, IReadOnlyList<short>? codes = null)
    {
        ArgumentNullException.ThrowIfNull(scaler);
        if (scaler.FeatureCount != UserFeatures.Count)
        {
            throw new ArgumentException($"A segment model works on the {UserFeatures.Count} user features.", nameof(scaler));
        }
        if (k < 1 || centroids.Length != k * UserFeatures.Count)
        {
            throw new ArgumentException($"Expected {k} centroids of {UserFeatures.Count} features.", nameof(centroids));
        }
        foreach (var v in centroids)
        {
            if (!float.IsFinite(v))
            {
                throw new ArgumentException("A centroid holds a NaN or an infinity.", nameof(centroids));
            }
        }
        Version = version;
        Scaler = scaler;
        K = k;
        _centroids = centroids.ToArray();
        _codes = codes is null ? SegmentNames.Assign(centroids, k) : [.. codes];
        if (_codes.Length != k || new HashSet<short>(_codes).Count != k)
        {
            throw new ArgumentException("Segment codes must be one per segment and unique.", nameof(codes));
        }
        _names = new string[k];
        for (var c = 0; c < k; c++)
        {
            _names[c] = SegmentNames.FromCode(_codes[c]);
        }
    }

    /// <summary>The registry version of the model.</summary>
    public int Version { get; }

    /// <summary>The number of segments.</summary>
    public int K { get; }

    public FeatureScaler Scaler { get; }

    /// <summary>Standardised centroids, row-major (segment c at c × <see cref="UserFeatures.Count"/>).</summary>
    public ReadOnlySpan<float> Centroids => _centroids;

    /// <summary>The name of each segment, unique.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The stable name code of each segment (<see cref="SegmentNames"/>).</summary>
    public IReadOnlyList<short> Codes => _codes;

    /// <summary>The nearest segment to a row of raw features (original units); −1 when the row holds a NaN.</summary>
    public int Assign(ReadOnlySpan<float> rawFeatures)
    {
        Span<float> scaled = stackalloc float[UserFeatures.Count];
        Scaler.Transform(rawFeatures, scaled);
        return AssignScaled(scaled, out _);
    }

    /// <summary>The nearest segment to a standardised row, and the squared distance to it; −1 for a NaN row.</summary>
    public int AssignScaled(ReadOnlySpan<float> scaled, out double squaredDistance)
    {
        var d = UserFeatures.Count;
        var best = -1;
        squaredDistance = double.PositiveInfinity;
        for (var c = 0; c < K; c++)
        {
            var centroid = _centroids.AsSpan(c * d, d);
            double sum = 0;
            for (var f = 0; f < d; f++)
            {
                var diff = (double)scaled[f] - centroid[f];
                sum += diff * diff;
            }
            if (sum < squaredDistance)
            {
                squaredDistance = sum;
                best = c;
            }
        }
        return best;
    }

    /// <summary>Segment <paramref name="segment"/>'s centroid value of <paramref name="feature"/> in original units.</summary>
    public double CentroidInOriginalUnits(int segment, int feature) =>
        Scaler.Inverse(feature, _centroids[(segment * UserFeatures.Count) + feature]);

    /// <summary>Writes the model: the magic "VGKM", a format number, version, k, the scaler, the centroids and the codes.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Format);
        writer.Write(Version);
        writer.Write(K);
        Scaler.Write(writer);
        foreach (var v in _centroids)
        {
            writer.Write(v);
        }
        foreach (var code in _codes)
        {
            writer.Write(code);
        }
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    /// <exception cref="InvalidDataException">Not a segment model, another format, truncated or inconsistent.</exception>
    public static SegmentModel Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            if (reader.ReadUInt32() != Magic)
            {
                throw new InvalidDataException("Not a segment model (bad magic).");
            }
            var format = reader.ReadInt32();
            if (format != Format)
            {
                throw new InvalidDataException($"Segment model format {format}; this version reads {Format}.");
            }
            var version = reader.ReadInt32();
            var k = reader.ReadInt32();
            if (k is < 1 or > 1000)
            {
                throw new InvalidDataException($"A segment model claims {k} segments.");
            }
            var scaler = FeatureScaler.Read(reader);
            var centroids = new float[k * UserFeatures.Count];
            for (var i = 0; i < centroids.Length; i++)
            {
                centroids[i] = reader.ReadSingle();
            }
            var codes = new short[k];
            for (var i = 0; i < k; i++)
            {
                codes[i] = reader.ReadInt16();
            }
            return new SegmentModel(version, scaler, centroids, k, codes);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("The segment model is truncated.", ex);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException(ex.Message, ex);
        }
    }
}
