using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vigil.Core.Engine;

/// <summary>Counts events.</summary>
public sealed class CountAggregator<TIn> : IRetractingAggregator<TIn, long, long>
{
    public long Create() => 0;

    public void Add(ref long accumulator, in TIn value) => accumulator++;

    public void Merge(ref long target, in long other) => target += other;

    public void Retract(ref long target, in long other) => target -= other;

    public bool TryReset(ref long accumulator)
    {
        accumulator = 0;
        return true;
    }

    public long Result(in long accumulator) => accumulator;
}

/// <summary>
/// A multiset of strings: how many times each value was added. Unlike a set, it can take back what another multiset
/// added (<see cref="CountedDistinctAggregator{TIn}"/>), which is what lets a sliding window drop its oldest pane.
/// </summary>
public sealed class DistinctCounter
{
    internal Dictionary<string, int> Counts { get; } = new(StringComparer.Ordinal);

    /// <summary>Distinct values held.</summary>
    public int Distinct => Counts.Count;

    /// <summary>Distinct values it can hold before its table must grow (an allocation); for measuring that.</summary>
    public int Capacity => Counts.EnsureCapacity(0);

    /// <summary>How many times <paramref name="value"/> was added, net of retractions.</summary>
    public int CountOf(string value) => Counts.TryGetValue(value, out var n) ? n : 0;
}

/// <summary>
/// Counts distinct non-null values of a field with a retractable accumulator (<see cref="DistinctCounter"/>): sliding
/// windows over it are sliced into panes, so an event updates one pane instead of every window it falls in.
/// </summary>
public sealed class CountedDistinctAggregator<TIn>(Func<TIn, string?> selector) : IRetractingAggregator<TIn, DistinctCounter, int>
{
    /// <summary>Accumulators that grew beyond this many values are not reused: a burst must not pin its memory.</summary>
    private const int MaxReusedValues = 4096;

    public DistinctCounter Create() => new();

    public void Add(ref DistinctCounter accumulator, in TIn value)
    {
        if (selector(value) is { } item)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(accumulator.Counts, item, out _)++;
        }
    }

    public void Merge(ref DistinctCounter target, in DistinctCounter other)
    {
        var counts = target.Counts;
        foreach (var (item, n) in other.Counts)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(counts, item, out _) += n;
        }
    }

    public void Retract(ref DistinctCounter target, in DistinctCounter other)
    {
        var counts = target.Counts;
        foreach (var (item, n) in other.Counts)
        {
            ref var count = ref CollectionsMarshal.GetValueRefOrNullRef(counts, item);
            if (Unsafe.IsNullRef(ref count))
            {
                continue;
            }
            count -= n;
            if (count <= 0)
            {
                counts.Remove(item);
            }
        }
    }

    public bool TryReset(ref DistinctCounter accumulator)
    {
        if (accumulator.Counts.Count > MaxReusedValues)
        {
            return false;
        }
        accumulator.Counts.Clear();
        return true;
    }

    public int Result(in DistinctCounter accumulator) => accumulator.Counts.Count;
}

/// <summary>Checkpoint form of a <see cref="DistinctCounter"/>.</summary>
public sealed class DistinctCounterSerializer : IStateSerializer<DistinctCounter>
{
    public static DistinctCounterSerializer Instance { get; } = new();

    public void Write(BinaryWriter writer, DistinctCounter value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.Write(value.Counts.Count);
        foreach (var (item, n) in value.Counts)
        {
            writer.Write(item);
            writer.Write(n);
        }
    }

    public DistinctCounter Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var count = reader.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"A checkpointed multiset claims {count} values.");
        }
        var counter = new DistinctCounter();
        counter.Counts.EnsureCapacity(count);
        for (var i = 0; i < count; i++)
        {
            var item = reader.ReadString();
            var n = reader.ReadInt32();
            if (n <= 0)
            {
                throw new InvalidDataException($"A checkpointed multiset claims a count of {n}.");
            }
            counter.Counts[item] = n;
        }
        return counter;
    }
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
