using System.Text;
using Vigil.Core.Features;

namespace Vigil.Core.Ml;

/// <summary>An <see cref="IsolationForest"/> over standardised user features, with the scaler that standardises them.</summary>
/// <param name="Version">The registry version of the model.</param>
/// <param name="Scaler">Standardises raw features into the forest's space.</param>
/// <param name="Forest">Fitted on standardised rows of <see cref="UserFeatures.Count"/> features.</param>
public sealed record AnomalyModel(int Version, FeatureScaler Scaler, IsolationForest Forest)
{
    private const uint Magic = 0x4D414756; // "VGAM" little-endian
    private const int Format = 1;

    /// <summary>Writes the magic "VGAM", a format number, the version and the scaler, then the forest as <see cref="IsolationForest.Save"/> writes it.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(Format);
            writer.Write(Version);
            Scaler.Write(writer);
        }
        Forest.Save(stream);
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    /// <exception cref="InvalidDataException">Not an anomaly model, another format, truncated or inconsistent.</exception>
    public static AnomalyModel Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        int version;
        FeatureScaler scaler;
        using (var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true))
        {
            try
            {
                if (reader.ReadUInt32() != Magic)
                {
                    throw new InvalidDataException("Not an anomaly model (bad magic).");
                }
                var format = reader.ReadInt32();
                if (format != Format)
                {
                    throw new InvalidDataException($"Anomaly model format {format}; this version reads {Format}.");
                }
                version = reader.ReadInt32();
                scaler = FeatureScaler.Read(reader);
            }
            catch (EndOfStreamException ex)
            {
                throw new InvalidDataException("The anomaly model is truncated.", ex);
            }
        }
        var forest = IsolationForest.Load(stream);
        if (forest.FeatureCount != scaler.FeatureCount)
        {
            throw new InvalidDataException($"The forest has {forest.FeatureCount} features, the scaler {scaler.FeatureCount}.");
        }
        return new AnomalyModel(version, scaler, forest);
    }
}
