using System.Text;

namespace Vigil.Core.Ml;

public sealed partial class IsolationForest
{
    // "VGIF" read as a little-endian int32.
    private const int Magic = 0x46494756;

    /// <summary>The version <see cref="Save"/> writes; <see cref="Load"/> reads this one.</summary>
    public const int FormatVersion = 1;

    /// <summary>
    /// Writes the forest in a versioned little-endian binary form: the magic "VGIF", the format version, the
    /// shape (features, ψ, height limit, seed, threshold, trees, nodes), the root of each tree, then for each node
    /// its feature, split, left child, leaf path length and training-row count. The stream is left open.
    /// </summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(FeatureCount);
        writer.Write(SampleSize);
        writer.Write(MaxDepth);
        writer.Write(Seed);
        writer.Write(Threshold);
        writer.Write(_roots.Length);
        writer.Write(_nodes.Length);
        foreach (var root in _roots)
        {
            writer.Write(root);
        }
        for (var i = 0; i < _nodes.Length; i++)
        {
            var node = _nodes[i];
            writer.Write(node.Feature);
            writer.Write(node.Split);
            writer.Write(node.Left);
            writer.Write(node.PathLength);
            writer.Write(_sizes[i]);
        }
    }

    /// <summary>
    /// Reads a forest <see cref="Save"/> wrote; it scores exactly as the saved one. Everything is checked before
    /// use (the walk trusts the node indices), so a corrupt or foreign stream fails here, not while scoring.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a forest, an unknown version, truncated, or inconsistent.</exception>
    public static IsolationForest Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            if (reader.ReadInt32() != Magic)
            {
                throw new InvalidDataException("not an isolation forest (bad magic).");
            }
            var version = reader.ReadInt32();
            if (version != FormatVersion)
            {
                throw new InvalidDataException($"isolation forest format version {version} is not supported (this build reads {FormatVersion}).");
            }
            var featureCount = reader.ReadInt32();
            var sampleSize = reader.ReadInt32();
            var maxDepth = reader.ReadInt32();
            var seed = reader.ReadUInt64();
            var threshold = reader.ReadDouble();
            var treeCount = reader.ReadInt32();
            var nodeCount = reader.ReadInt32();
            Require(featureCount >= 1, "feature count");
            Require(sampleSize >= 2, "sample size");
            Require(maxDepth is >= 1 and <= MaxSupportedDepth, "height limit");
            Require(threshold is > 0 and <= 1, "threshold");
            Require(treeCount >= 1 && nodeCount >= treeCount && nodeCount <= treeCount * (2L * sampleSize - 1), "tree or node count");

            var roots = new int[treeCount];
            for (var t = 0; t < treeCount; t++)
            {
                roots[t] = reader.ReadInt32();
                Require(t == 0 ? roots[t] == 0 : roots[t] > roots[t - 1] && roots[t] < nodeCount, "tree root");
            }
            var nodes = new IsolationNode[nodeCount];
            var sizes = new int[nodeCount];
            for (var i = 0; i < nodeCount; i++)
            {
                nodes[i] = new IsolationNode
                {
                    Feature = reader.ReadInt32(),
                    Split = reader.ReadSingle(),
                    Left = reader.ReadInt32(),
                    PathLength = reader.ReadSingle(),
                };
                sizes[i] = reader.ReadInt32();
            }
            CheckTrees(nodes, sizes, roots, featureCount, maxDepth);
            return new IsolationForest(nodes, sizes, roots, featureCount, sampleSize, maxDepth, seed, threshold);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("the isolation forest is truncated.", ex);
        }
    }

    private static void CheckTrees(IsolationNode[] nodes, int[] sizes, int[] roots, int featureCount, int maxDepth)
    {
        var depths = new int[nodes.Length];
        for (var t = 0; t < roots.Length; t++)
        {
            var start = roots[t];
            var end = t + 1 < roots.Length ? roots[t + 1] : nodes.Length;
            for (var i = start; i < end; i++)
            {
                var node = nodes[i];
                Require(sizes[i] >= 1, "node size");
                if (node.Left == i)
                {
                    Require(node.Feature == 0 && float.IsNaN(node.Split) && float.IsFinite(node.PathLength) && node.PathLength >= 0, "leaf");
                    continue;
                }
                // Children after their parent and inside the tree: every walk moves forward and ends in a leaf.
                Require(node.Left > i && node.Left + 1 < end, "child index");
                Require(node.Feature >= 0 && node.Feature < featureCount && !float.IsNaN(node.Split), "split");
                Require(depths[i] < maxDepth, "tree depth");
                Require(sizes[node.Left] + sizes[node.Left + 1] == sizes[i], "node sizes");
                depths[node.Left] = depths[i] + 1;
                depths[node.Left + 1] = depths[i] + 1;
            }
        }
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidDataException($"the isolation forest is inconsistent: bad {what}.");
        }
    }
}
