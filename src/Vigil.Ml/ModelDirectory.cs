using System.Text.Json;
using Vigil.Core.Ml;

namespace Vigil.Ml;

/// <summary>
/// Keeps the models in service on disk so a restart serves them at once: <c>kmeans-v{N}.bin</c>
/// (<see cref="SegmentModel.Save"/>), <c>iforest-v{N}.bin</c> (<see cref="AnomalyModel.Save"/>, the forest in
/// <see cref="IsolationForest.Save"/>'s format) and <c>current.json</c> naming the files in service with their
/// records. Every file is written to a temporary name and renamed, and current.json last, so a crash mid-save leaves
/// the previous models in service. The newest <see cref="Keep"/> versions of each kind are kept.
/// </summary>
public sealed class ModelDirectory(string path, int keep = 5)
{
    private const string CurrentFile = "current.json";
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The directory.</summary>
    public string Path { get; } = path;

    /// <summary>Versions of each kind kept on disk.</summary>
    public int Keep { get; } = Math.Max(1, keep);

    /// <summary>Writes both models and makes them the ones in service.</summary>
    public void Save(SegmentModel segments, ModelInfo segmentsInfo, AnomalyModel anomaly, ModelInfo anomalyInfo)
    {
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(segmentsInfo);
        ArgumentNullException.ThrowIfNull(anomaly);
        ArgumentNullException.ThrowIfNull(anomalyInfo);
        Directory.CreateDirectory(Path);
        var kmFile = $"kmeans-v{segments.Version}.bin";
        var ifFile = $"iforest-v{anomaly.Version}.bin";
        WriteAtomically(kmFile, segments.Save);
        WriteAtomically(ifFile, anomaly.Save);
        var manifest = new Manifest(new Entry(kmFile, segmentsInfo), new Entry(ifFile, anomalyInfo));
        WriteAtomically(CurrentFile, s => JsonSerializer.Serialize(s, manifest, s_json));
        Prune("kmeans-v", segments.Version);
        Prune("iforest-v", anomaly.Version);
    }

    /// <summary>Loads the models in service; null when none were saved.</summary>
    /// <exception cref="InvalidDataException">current.json or a model file is corrupt or missing.</exception>
    public TrainingResult? Load()
    {
        var manifestPath = System.IO.Path.Combine(Path, CurrentFile);
        if (!File.Exists(manifestPath))
        {
            return null;
        }
        Manifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllBytes(manifestPath), s_json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{manifestPath} is not a model manifest: {ex.Message}", ex);
        }
        if (manifest?.KMeans is null || manifest.IsolationForest is null)
        {
            throw new InvalidDataException($"{manifestPath} does not name both models.");
        }
        SegmentModel segments;
        using (var stream = OpenModel(manifest.KMeans.File))
        {
            segments = SegmentModel.Load(stream);
        }
        AnomalyModel anomaly;
        using (var stream = OpenModel(manifest.IsolationForest.File))
        {
            anomaly = AnomalyModel.Load(stream);
        }
        return new TrainingResult(segments, manifest.KMeans.Info, anomaly, manifest.IsolationForest.Info, null);
    }

    private FileStream OpenModel(string file)
    {
        // The manifest names files in this directory only.
        if (file.Contains('/', StringComparison.Ordinal) || file.Contains('\\', StringComparison.Ordinal) || file.StartsWith('.'))
        {
            throw new InvalidDataException($"The model manifest names '{file}', which is not a file of {Path}.");
        }
        var full = System.IO.Path.Combine(Path, file);
        if (!File.Exists(full))
        {
            throw new InvalidDataException($"The model manifest names {full}, which does not exist.");
        }
        return File.OpenRead(full);
    }

    private void WriteAtomically(string file, Action<Stream> write)
    {
        var target = System.IO.Path.Combine(Path, file);
        var temp = target + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            write(stream);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, target, overwrite: true);
    }

    private void Prune(string prefix, int current)
    {
        var versions = new List<int>();
        foreach (var file in Directory.EnumerateFiles(Path, prefix + "*.bin"))
        {
            var name = System.IO.Path.GetFileNameWithoutExtension(file);
            if (int.TryParse(name.AsSpan(prefix.Length), out var v) && v != current)
            {
                versions.Add(v);
            }
        }
        versions.Sort();
        for (var i = 0; i < versions.Count - (Keep - 1); i++)
        {
            File.Delete(System.IO.Path.Combine(Path, $"{prefix}{versions[i]}.bin"));
        }
    }

    private sealed record Entry(string File, ModelInfo Info);

    private sealed record Manifest(Entry? KMeans, Entry? IsolationForest);
}
