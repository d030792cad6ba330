namespace Vigil.Core.Engine;

/// <summary>Counts events.</summary>
public sealed class CountAggregator<TIn> : IAggregator<TIn, long, long>
{
    public long Create() => 0;

    public void Add(ref long accumulator, in TIn value) => accumulator++;

    public void Merge(ref long target, in long other) => target += other;

    public long Result(in long accumulator) => accumulator;
}

/// <summary>Counts distinct non-null values of a field (users per IP for password spraying, IPs per user, …).</summary>
public sealed class DistinctCountAggregator<TIn>(Func<TIn, string?> selector) : IAggregator<TIn, HashSet<string>, int>
{
    public HashSet<string> Create() => new(StringComparer.Ordinal);

    public void Add(ref HashSet<string> accumulator, in TIn value)
    {
        if (selector(value) is { } item)
        {
            accumulator.Add(item);
        }
    }

    public void Merge(ref HashSet<string> target, in HashSet<string> other)
    {
        // Fold the smaller set into the larger one.
        if (other.Count > target.Count)
        {
            var small = target;
            target = other;
            foreach (var item in small)
            {
                target.Add(item);
            }
            return;
        }
        foreach (var item in other)
        {
            target.Add(item);
        }
    }

    public int Result(in HashSet<string> accumulator) => accumulator.Count;
}

/// <summary>Checkpoint form of a long.</summary>
public sealed class Int64StateSerializer : IStateSerializer<long>
{
    public static Int64StateSerializer Instance { get; } = new();

    public void Write(BinaryWriter writer, long value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(value);
    }

    public long Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.ReadInt64();
    }
}

/// <summary>Checkpoint form of an ordinal string set.</summary>
public sealed class StringSetSerializer : IStateSerializer<HashSet<string>>
{
    public static StringSetSerializer Instance { get; } = new();

    public void Write(BinaryWriter writer, HashSet<string> value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.Write(value.Count);
        foreach (var item in value)
        {
            writer.Write(item);
        }
    }

    public HashSet<string> Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var count = reader.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"A checkpointed set claims {count} items.");
        }
        var set = new HashSet<string>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            set.Add(reader.ReadString());
        }
        return set;
    }
}
