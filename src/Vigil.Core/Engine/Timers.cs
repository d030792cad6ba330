namespace Vigil.Core.Engine;

/// <summary>Which clock a timer follows.</summary>
public enum TimeDomain : byte
{
    /// <summary>Fires when the watermark passes it; replayable.</summary>
    EventTime,

    /// <summary>Fires when the runtime's <see cref="TimeProvider"/> passes it.</summary>
    ProcessingTime,
}

/// <summary>A timer that came due, as handed to <see cref="IOperator{TIn, TOut}.OnTimer"/>.</summary>
public readonly record struct TimerFiring(string Key, long TimeMs, int Tag, TimeDomain Domain);

/// <summary>The identity of a timer: one per (operator, key, time, tag), which is what makes registration idempotent.</summary>
internal readonly struct TimerId(int owner, string key, long timeMs, int tag) : IEquatable<TimerId>
{
    public int Owner { get; } = owner;

    public string Key { get; } = key;

    public long TimeMs { get; } = timeMs;

    public int Tag { get; } = tag;

    public bool Equals(TimerId other) =>
        TimeMs == other.TimeMs && Owner == other.Owner && Tag == other.Tag && string.Equals(Key, other.Key, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is TimerId other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Key, TimeMs, Owner, Tag);
}

/// <summary>Orders timers by time, then by registration: a total order that depends only on the input, so a restored
/// runtime fires ties in the same order as an uninterrupted one (hash or heap order would not be).</summary>
internal readonly record struct TimerOrder(long TimeMs, long Sequence) : IComparable<TimerOrder>
{
    public int CompareTo(TimerOrder other)
    {
        var c = TimeMs.CompareTo(other.TimeMs);
        return c != 0 ? c : Sequence.CompareTo(other.Sequence);
    }
}

/// <summary>
/// The timers of one domain: a set for de-duplication and deletion, and a heap for time order. Deletion is lazy —
/// the heap entry stays until it surfaces and is skipped because the set no longer holds it with the same sequence.
/// </summary>
internal sealed class TimerQueue
{
    private readonly Dictionary<TimerId, long> _live = [];
    private readonly PriorityQueue<TimerId, TimerOrder> _heap = new();
    private long _nextSequence;

    public int Count => _live.Count;

    public bool Register(TimerId id)
    {
        ref var sequence = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_live, id, out var exists);
        if (exists)
        {
            return false;
        }
        sequence = _nextSequence++;
        _heap.Enqueue(id, new TimerOrder(id.TimeMs, sequence));
        return true;
    }

    public bool Delete(TimerId id)
    {
        var removed = _live.Remove(id);
        if (_live.Count == 0)
        {
            // Nothing live: drop the stale heap entries at once rather than one by one later.
            _heap.Clear();
        }
        return removed;
    }

    /// <summary>Removes and returns the earliest live timer if its time is at most <paramref name="maxTimeMs"/>.</summary>
    public bool TryDequeue(long maxTimeMs, out TimerId id)
    {
        while (_heap.TryPeek(out id, out var order))
        {
            if (order.TimeMs > maxTimeMs)
            {
                return false;
            }
            _heap.Dequeue();
            if (_live.TryGetValue(id, out var sequence) && sequence == order.Sequence)
            {
                _live.Remove(id);
                return true;
            }
        }
        id = default;
        return false;
    }

    public void Clear()
    {
        _live.Clear();
        _heap.Clear();
        _nextSequence = 0;
    }

    /// <summary>Writes the live timers (owners as indexes into the name table the caller writes first).</summary>
    public void Write(BinaryWriter writer)
    {
        writer.Write(_nextSequence);
        writer.Write(_live.Count);
        foreach (var (id, sequence) in _live)
        {
            writer.Write(id.Owner);
            writer.Write(id.Key);
            writer.Write(id.TimeMs);
            writer.Write(id.Tag);
            writer.Write(sequence);
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote; timers of operators no longer present are dropped and counted.</summary>
    /// <param name="reader">The section.</param>
    /// <param name="ownerMap">Checkpointed owner index → current index, or −1 for an operator that is gone.</param>
    public int Read(BinaryReader reader, int[] ownerMap)
    {
        Clear();
        _nextSequence = reader.ReadInt64();
        var count = reader.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"A checkpoint claims {count} timers.");
        }
        var dropped = 0;
        for (var i = 0; i < count; i++)
        {
            var written = reader.ReadInt32();
            var owner = written >= 0 && written < ownerMap.Length ? ownerMap[written] : -1;
            var key = reader.ReadString();
            var time = reader.ReadInt64();
            var tag = reader.ReadInt32();
            var sequence = reader.ReadInt64();
            if (owner < 0)
            {
                dropped++;
                continue;
            }
            var id = new TimerId(owner, key, time, tag);
            _live[id] = sequence;
            _heap.Enqueue(id, new TimerOrder(time, sequence));
        }
        return dropped;
    }
}

/// <summary>The event-time and processing-time timers of one partition's operators.</summary>
internal sealed class TimerService
{
    public TimerQueue EventTime { get; } = new();

    public TimerQueue ProcessingTime { get; } = new();
}
