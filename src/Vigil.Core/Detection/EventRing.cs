using Vigil.Core.Engine;

namespace Vigil.Core.Detection;

/// <summary>One event remembered by an <see cref="EventRing"/>.</summary>
/// <param name="TimeMs">Event time.</param>
/// <param name="EventId">The event's id, for the evidence.</param>
/// <param name="Subject">Whom it was about: a user id or an unknown account's user name.</param>
/// <param name="Ip">Where it came from.</param>
public readonly record struct RingEntry(long TimeMs, string EventId, string? Subject, string? Ip);

/// <summary>
/// The recent events of one key, sorted by event time, in a bounded ring: the state behind the threshold rules'
/// exact sliding windows ("at least N within T, ending at the latest event").
/// </summary>
/// <remarks>
/// Events arrive nearly in order, so inserting from the back keeps the ring sorted at the cost of a short shift for
/// the few that do not. When full, the oldest entry falls out: the capacity bounds memory per key and must exceed the
/// largest threshold a rule counts to. Not thread-safe.
/// </remarks>
public sealed class EventRing
{
    // Allocated on the first entry and released when the last one goes: an idle key's ring costs only this object.
    private RingEntry[] _items = [];
    private readonly int _initial;
    private int _start;
    private int _count;

    /// <param name="capacity">The most entries kept.</param>
    /// <param name="initial">The initial array size; grows by doubling up to <paramref name="capacity"/>.</param>
    public EventRing(int capacity, int initial = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _initial = Math.Clamp(initial, 1, capacity);
    }

    /// <summary>The most entries kept.</summary>
    public int Capacity { get; }

    /// <summary>Entries held.</summary>
    public int Count => _count;

    /// <summary>The latest event time ever added (long.MinValue before any).</summary>
    public long LatestMs { get; private set; } = long.MinValue;

    /// <summary>The <paramref name="index"/>-th entry, oldest first.</summary>
    public ref readonly RingEntry this[int index] => ref _items[Slot(index)];

    /// <summary>Adds an entry in time order, dropping the oldest when full.</summary>
    public void Add(in RingEntry entry)
    {
        if (_items.Length == 0)
        {
            _items = new RingEntry[_initial];
            _start = 0;
        }
        else if (_count == _items.Length)
        {
            if (_items.Length < Capacity)
            {
                Grow();
            }
            else
            {
                _items[_start] = default;
                _start = RingIndex.Wrap(_start + 1, _items.Length);
                _count--;
            }
        }
        var pos = _count;
        while (pos > 0 && _items[Slot(pos - 1)].TimeMs > entry.TimeMs)
        {
            _items[Slot(pos)] = _items[Slot(pos - 1)];
            pos--;
        }
        _items[Slot(pos)] = entry;
        _count++;
        LatestMs = Math.Max(LatestMs, entry.TimeMs);
    }

    /// <summary>Drops entries at or before <paramref name="timeMs"/> (they can no longer fall in any window).</summary>
    public void DropThrough(long timeMs)
    {
        while (_count > 0 && _items[_start].TimeMs <= timeMs)
        {
            _items[_start] = default;
            _start = RingIndex.Wrap(_start + 1, _items.Length);
            _count--;
        }
        if (_count == 0)
        {
            _items = [];
            _start = 0;
        }
    }

    /// <summary>Removes every entry of <paramref name="subject"/>; returns how many went.</summary>
    public int RemoveSubject(string subject)
    {
        var kept = 0;
        for (var i = 0; i < _count; i++)
        {
            var item = _items[Slot(i)];
            if (string.Equals(item.Subject, subject, StringComparison.Ordinal))
            {
                continue;
            }
            _items[Slot(kept)] = item;
            kept++;
        }
        for (var i = kept; i < _count; i++)
        {
            _items[Slot(i)] = default;
        }
        var removed = _count - kept;
        _count = kept;
        if (_count == 0)
        {
            _items = [];
            _start = 0;
        }
        return removed;
    }

    /// <summary>The index of the first entry with a time above <paramref name="afterMs"/> (Count when none).</summary>
    public int FirstAfter(long afterMs)
    {
        var i = 0;
        while (i < _count && _items[Slot(i)].TimeMs <= afterMs)
        {
            i++;
        }
        return i;
    }

    private int Slot(int index) => RingIndex.Wrap(_start + index, _items.Length);

    private void Grow()
    {
        var bigger = new RingEntry[Math.Min(Capacity, _items.Length * 2)];
        for (var i = 0; i < _count; i++)
        {
            bigger[i] = _items[Slot(i)];
        }
        _items = bigger;
        _start = 0;
    }

    /// <summary>Writes the entries oldest first and the latest time.</summary>
    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_count);
        for (var i = 0; i < _count; i++)
        {
            ref readonly var e = ref _items[Slot(i)];
            writer.Write(e.TimeMs);
            writer.Write(e.EventId);
            StateIo.WriteNullable(writer, e.Subject);
            StateIo.WriteNullable(writer, e.Ip);
        }
        writer.Write(LatestMs);
    }

    /// <summary>Reads what <see cref="Write"/> wrote into a new ring of <paramref name="capacity"/>.</summary>
    public static EventRing Read(BinaryReader reader, int capacity)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var count = reader.ReadInt32();
        if (count < 0 || count > capacity)
        {
            throw new InvalidDataException($"A checkpointed ring claims {count} entries; at most {capacity} fit.");
        }
        var ring = new EventRing(capacity, Math.Max(count, 8));
        for (var i = 0; i < count; i++)
        {
            var t = reader.ReadInt64();
            var id = reader.ReadString();
            var subject = StateIo.ReadNullable(reader);
            var ip = StateIo.ReadNullable(reader);
            ring.Add(new RingEntry(t, id, subject, ip));
        }
        ring.LatestMs = reader.ReadInt64();
        return ring;
    }
}

/// <summary>
/// The same bounded, time-sorted ring as <see cref="EventRing"/>, as a 56-byte struct to keep inline in a keyed state
/// (a field, reached by ref): a key costs no ring object, and a key with one entry (most addresses and users that fail
/// a login fail once) no array either, the entry sitting in the struct. The capacity is passed in by the owner rather
/// than kept; the array, from the second entry, starts at two and doubles up to it.
/// </summary>
/// <remarks>Checkpointed in <see cref="EventRing"/>'s layout, so either reads the other's. Not thread-safe. A copy
/// shares the array with the original: use it through a ref.</remarks>
public struct InlineEventRing
{
    // The only entry while there is no array (count 0 or 1); default once an array holds the entries.
    private RingEntry _single;
    private RingEntry[]? _items;
    private int _start;
    private int _count;

    /// <summary>Entries held.</summary>
    public readonly int Count => _count;

    /// <summary>The latest event time ever added (long.MinValue before any); set from outside only by an owner
    /// restoring its own checkpoint layout.</summary>
    public long LatestMs { readonly get; internal set; }

    /// <summary>An empty ring.</summary>
    public static InlineEventRing Empty => new() { LatestMs = long.MinValue };

    /// <summary>The <paramref name="index"/>-th entry, oldest first.</summary>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public readonly ref readonly RingEntry this[int index] =>
        ref _items is { } items ? ref items[RingIndex.Wrap(_start + index, items.Length)] : ref _single;

    /// <summary>Adds an entry in time order, dropping the oldest when <paramref name="capacity"/> are held.</summary>
    public void Add(in RingEntry entry, int capacity)
    {
        LatestMs = Math.Max(LatestMs, entry.TimeMs);
        var items = _items;
        if (items is null)
        {
            if (_count == 0 || capacity <= 1)
            {
                // Empty, or full at one (the oldest goes, as in the array): the entry sits inline.
                _single = entry;
                _count = 1;
                return;
            }
            items = _items = new RingEntry[Math.Min(capacity, 2)];
            items[0] = _single;
            _single = default;
            _start = 0;
        }
        else if (_count == items.Length)
        {
            if (items.Length < capacity)
            {
                var bigger = new RingEntry[Math.Min(capacity, items.Length * 2)];
                for (var i = 0; i < _count; i++)
                {
                    bigger[i] = items[RingIndex.Wrap(_start + i, items.Length)];
                }
                items = _items = bigger;
                _start = 0;
            }
            else
            {
                items[_start] = default;
                _start = RingIndex.Wrap(_start + 1, items.Length);
                _count--;
            }
        }
        var pos = _count;
        while (pos > 0 && items[RingIndex.Wrap(_start + pos - 1, items.Length)].TimeMs > entry.TimeMs)
        {
            items[RingIndex.Wrap(_start + pos, items.Length)] = items[RingIndex.Wrap(_start + pos - 1, items.Length)];
            pos--;
        }
        items[RingIndex.Wrap(_start + pos, items.Length)] = entry;
        _count++;
    }

    /// <summary>Drops entries at or before <paramref name="timeMs"/>; the array goes with the last one.</summary>
    public void DropThrough(long timeMs)
    {
        var items = _items;
        if (items is null)
        {
            if (_count == 1 && _single.TimeMs <= timeMs)
            {
                _single = default;
                _count = 0;
            }
            return;
        }
        while (_count > 0 && items[_start].TimeMs <= timeMs)
        {
            items[_start] = default;
            _start = RingIndex.Wrap(_start + 1, items.Length);
            _count--;
        }
        if (_count == 0)
        {
            _items = null;
            _start = 0;
        }
    }

    /// <summary>The index of the first entry with a time above <paramref name="afterMs"/> (Count when none).</summary>
    public readonly int FirstAfter(long afterMs)
    {
        var i = 0;
        while (i < _count && this[i].TimeMs <= afterMs)
        {
            i++;
        }
        return i;
    }

    /// <summary>Writes the entries oldest first and the latest time, as <see cref="EventRing.Write"/> does.</summary>
    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_count);
        for (var i = 0; i < _count; i++)
        {
            ref readonly var e = ref this[i];
            writer.Write(e.TimeMs);
            writer.Write(e.EventId);
            StateIo.WriteNullable(writer, e.Subject);
            StateIo.WriteNullable(writer, e.Ip);
        }
        writer.Write(LatestMs);
    }

    /// <summary>Reads what <see cref="Write"/> (or <see cref="EventRing.Write"/>) wrote, refusing more than
    /// <paramref name="capacity"/> entries.</summary>
    public static InlineEventRing Read(BinaryReader reader, int capacity)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var count = reader.ReadInt32();
        if (count < 0 || count > capacity)
        {
            throw new InvalidDataException($"A checkpointed ring claims {count} entries; at most {capacity} fit.");
        }
        var ring = Empty;
        if (count > 1)
        {
            ring._items = new RingEntry[count];
        }
        for (var i = 0; i < count; i++)
        {
            var t = reader.ReadInt64();
            var id = reader.ReadString();
            var subject = StateIo.ReadNullable(reader);
            var ip = StateIo.ReadNullable(reader);
            ring.Add(new RingEntry(t, id, subject, ip), capacity);
        }
        ring.LatestMs = reader.ReadInt64();
        return ring;
    }
}

/// <summary>Small helpers for writing rule state into checkpoints.</summary>
public static class StateIo
{
    public static void WriteNullable(BinaryWriter writer, string? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(value is not null);
        if (value is not null)
        {
            writer.Write(value);
        }
    }

    public static string? ReadNullable(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.ReadBoolean() ? reader.ReadString() : null;
    }

    /// <summary>Writes a list of strings.</summary>
    public static void WriteList(BinaryWriter writer, List<string> values)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(values);
        writer.Write(values.Count);
        foreach (var v in values)
        {
            writer.Write(v);
        }
    }

    /// <summary>Reads a list written by <see cref="WriteList"/>, refusing more than <paramref name="max"/> items.</summary>
    public static List<string> ReadList(BinaryReader reader, int max)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var count = reader.ReadInt32();
        if (count < 0 || count > max)
        {
            throw new InvalidDataException($"A checkpointed list claims {count} items; at most {max} fit.");
        }
        var list = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            list.Add(reader.ReadString());
        }
        return list;
    }

    /// <summary>A stable 64-bit FNV-1a hash of a string: the same in every process, unlike string.GetHashCode, so it
    /// can be checkpointed.</summary>
    public static ulong StableHash(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return hash;
    }
}

/// <summary>An <see cref="IStateSerializer{T}"/> for a state class with its own Write and static Read.</summary>
public sealed class DelegateStateSerializer<T>(Action<BinaryWriter, T> write, Func<BinaryReader, T> read) : IStateSerializer<T>
{
    public void Write(BinaryWriter writer, T value) => write(writer, value);

    public T Read(BinaryReader reader) => read(reader);
}
