using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vigil.Core.Engine;

/// <summary>
/// Per-key state of one operator in one partition: a dictionary from key to a (usually struct) state updated in
/// place, with event-time TTL so keys that go quiet are dropped and memory stays bounded.
/// </summary>
/// <remarks>
/// <para>TTL: a key expires when the watermark passes its last access + TTL. Keys are filed in time buckets
/// (TTL/16 wide by default) by last access; <see cref="EvictExpired"/> only walks buckets that have wholly expired,
/// so eviction costs O(evicted) amortised, never a scan of every key. A key re-filed in a later bucket leaves a
/// stale entry behind that is skipped when its bucket comes up.</para>
/// <para>The refs returned by <see cref="GetOrAdd"/> and <see cref="GetValueRefOrNullRef"/> point into the
/// dictionary: use them before the next call that adds or removes a key. Not thread-safe.</para>
/// </remarks>
public sealed class KeyedState<TState>
{
    // Dictionary<string, Entry> entry: hash + next (8), key reference (8), the Entry itself; plus the bucket array
    // slot (4), the time-bucket list slot (8) and the string object's header and length (~22).
    private const int OverheadPerKey = 8 + 8 + 4 + 8 + 22;

    private readonly Dictionary<string, Entry> _map = new(StringComparer.Ordinal);
    private readonly IStateSerializer<TState> _serializer;
    private readonly long _ttlMs;
    private readonly long _bucketMs;
    private readonly Dictionary<long, List<string>> _buckets = [];
    private readonly PriorityQueue<long, long> _bucketOrder = new();
    private readonly Stack<List<string>> _spareLists = new();
    private long _evictedThrough = long.MinValue;
    private long _keyChars;

    private struct Entry
    {
        public TState Value;
        public long LastAccessMs;
        public long Bucket;
    }

    /// <param name="ttl">Idle time (event time) after which a key is dropped; <see cref="Timeout.InfiniteTimeSpan"/> keeps keys until removed.</param>
    /// <param name="serializer">Writes a state into checkpoints.</param>
    /// <param name="bucketWidth">Granularity of eviction; defaults to TTL/16. A key lives at most TTL + width.</param>
    public KeyedState(TimeSpan ttl, IStateSerializer<TState> serializer, TimeSpan? bucketWidth = null)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        if (ttl <= TimeSpan.Zero && ttl != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "The TTL must be positive or infinite.");
        }
        _serializer = serializer;
        _ttlMs = ttl == Timeout.InfiniteTimeSpan ? long.MaxValue : (long)ttl.TotalMilliseconds;
        _bucketMs = _ttlMs == long.MaxValue ? long.MaxValue
            : Math.Max(1, bucketWidth is { } w ? (long)w.TotalMilliseconds : _ttlMs / 16);
    }

    /// <summary>Keys held.</summary>
    public int Count => _map.Count;

    /// <summary>Keys dropped by TTL over this instance's life (not checkpointed).</summary>
    public long Evicted { get; private set; }

    /// <summary>Approximate heap bytes of the keys and fixed-size state held (not of objects a state references).</summary>
    public long ApproximateBytes => (_map.Count * (long)(OverheadPerKey + Unsafe.SizeOf<Entry>())) + (_keyChars * 2);

    /// <summary>The state of <paramref name="key"/>, created as default when absent; marks the key accessed at
    /// <paramref name="eventTimeMs"/> for the TTL.</summary>
    public ref TState GetOrAdd(string key, long eventTimeMs, out bool created)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_map, key, out var exists);
        created = !exists;
        if (!exists)
        {
            _keyChars += key.Length;
            entry.LastAccessMs = eventTimeMs;
            entry.Bucket = long.MinValue;
            File(key, ref entry);
        }
        else if (eventTimeMs > entry.LastAccessMs)
        {
            entry.LastAccessMs = eventTimeMs;
            File(key, ref entry);
        }
        return ref entry.Value;
    }

    /// <summary>The state of <paramref name="key"/> without touching its TTL, or a null ref (test with
    /// <see cref="Unsafe.IsNullRef{T}(ref readonly T)"/>) when absent.</summary>
    public ref TState GetValueRefOrNullRef(string key)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_map, key);
        if (Unsafe.IsNullRef(ref entry))
        {
            return ref Unsafe.NullRef<TState>();
        }
        return ref entry.Value;
    }

    public bool TryGetValue(string key, out TState value)
    {
        if (_map.TryGetValue(key, out var entry))
        {
            value = entry.Value;
            return true;
        }
        value = default!;
        return false;
    }

    public bool ContainsKey(string key) => _map.ContainsKey(key);

    /// <summary>Drops a key now (its bucket entry goes stale and is skipped later).</summary>
    public bool Remove(string key)
    {
        if (_map.Remove(key))
        {
            _keyChars -= key.Length;
            return true;
        }
        return false;
    }

    /// <summary>Drops keys whose last access + TTL is below <paramref name="watermarkMs"/>; returns how many went.
    /// Cheap when nothing is due: one comparison.</summary>
    public int EvictExpired(long watermarkMs)
    {
        if (_ttlMs == long.MaxValue || watermarkMs == long.MinValue)
        {
            return 0;
        }
        var evicted = 0;
        while (_bucketOrder.TryPeek(out var bucket, out _))
        {
            // The bucket's newest possible access is its end − 1; it is wholly expired once that + TTL < watermark.
            var newest = ((bucket + 1) * _bucketMs) - 1;
            if (newest > watermarkMs - _ttlMs - 1)
            {
                break;
            }
            _bucketOrder.Dequeue();
            var keys = _buckets[bucket];
            _buckets.Remove(bucket);
            foreach (var key in keys)
            {
                ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_map, key);
                if (!Unsafe.IsNullRef(ref entry) && entry.Bucket == bucket)
                {
                    _map.Remove(key);
                    _keyChars -= key.Length;
                    evicted++;
                }
            }
            keys.Clear();
            _spareLists.Push(keys);
            _evictedThrough = bucket;
        }
        Evicted += evicted;
        return evicted;
    }

    /// <summary>Every key and state, in the dictionary's order (use for reads that do not depend on order).</summary>
    public void ForEach<TArg>(TArg arg, KeyedStateVisitor<TState, TArg> visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        foreach (var (key, entry) in _map)
        {
            visitor(arg, key, entry.Value);
        }
    }

    public void Clear()
    {
        _map.Clear();
        foreach (var list in _buckets.Values)
        {
            list.Clear();
            _spareLists.Push(list);
        }
        _buckets.Clear();
        _bucketOrder.Clear();
        _evictedThrough = long.MinValue;
        _keyChars = 0;
    }

    /// <summary>Writes every key with its last access and state.</summary>
    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_map.Count);
        writer.Write(_evictedThrough);
        foreach (var (key, entry) in _map)
        {
            writer.Write(key);
            writer.Write(entry.LastAccessMs);
            _serializer.Write(writer, entry.Value);
        }
    }

    /// <summary>Replaces the content with what <see cref="Write"/> wrote.</summary>
    public void Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        Clear();
        var count = reader.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"A checkpoint claims {count} keys.");
        }
        _evictedThrough = reader.ReadInt64();
        _map.EnsureCapacity(count);
        for (var i = 0; i < count; i++)
        {
            var key = reader.ReadString();
            var lastAccess = reader.ReadInt64();
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_map, key, out var exists);
            if (exists)
            {
                throw new InvalidDataException($"A checkpoint holds the key '{key}' twice.");
            }
            entry.Value = _serializer.Read(reader);
            entry.LastAccessMs = lastAccess;
            entry.Bucket = long.MinValue;
            _keyChars += key.Length;
            File(key, ref entry);
        }
    }

    private void File(string key, ref Entry entry)
    {
        if (_bucketMs == long.MaxValue)
        {
            return;
        }
        // A bucket already evicted is never walked again, so a key touched with an old time goes in the next one.
        var bucket = Math.Max(FloorDiv(entry.LastAccessMs, _bucketMs), _evictedThrough == long.MinValue ? long.MinValue : _evictedThrough + 1);
        if (bucket == entry.Bucket)
        {
            return;
        }
        entry.Bucket = bucket;
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_buckets, bucket, out var exists);
        if (!exists)
        {
            list = _spareLists.Count > 0 ? _spareLists.Pop() : [];
            _bucketOrder.Enqueue(bucket, bucket);
        }
        list!.Add(key);
    }

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }
}

/// <summary>Visits one key of a <see cref="KeyedState{TState}"/>.</summary>
public delegate void KeyedStateVisitor<TState, in TArg>(TArg arg, string key, in TState state);
