using System.Runtime.CompilerServices;

namespace Vigil.Core.Engine;

/// <summary>
/// Per-key state of one operator in one partition: a (usually struct) state per key updated in place, with
/// event-time TTL so keys that go quiet are dropped and memory stays bounded.
/// </summary>
/// <remarks>
/// <para>Keys are numbered by a <see cref="KeyTable"/>, private by default or shared through <see cref="ShareKeys"/>
/// with the other states keyed the same way (the operators of a partition keyed by user), and the states sit in
/// pages of arrays indexed by that number: a key costs its state, its last access and a bit here, and its string and
/// dictionary entry once in the table however many operators hold state for it.</para>
/// <para>TTL: a key expires when the watermark passes its last access + TTL. Last accesses are kept as time buckets
/// (TTL/16 wide by default), one byte a key beside the states: the bucket less its page's base, which a sweep moves up
/// to the first bucket not yet swept, so a held key is normally within a few dozen buckets of it; a bucket 255 or more
/// from the base (an event far ahead of the watermark, or behind the base) is kept exactly in a small side dictionary.
/// Checkpoints carry the bucket's last millisecond. There is no per-key list of buckets: each page of keys keeps a lower bound of its keys' buckets, and
/// <see cref="EvictExpired"/>, once the watermark has wholly expired a bucket at or above the lowest bound, sweeps the
/// pages whose bound is due (dropping their expired keys and tightening the bound). A page is swept at most once per
/// bucket width of watermark, so eviction costs O(keys of due pages) per bucket width, nothing per event, and one
/// comparison when nothing is due.</para>
/// <para>The refs returned by <see cref="GetOrAdd"/> and <see cref="GetValueRefOrNullRef"/> point into a page that
/// stays put while the key is held. Not thread-safe.</para>
/// </remarks>
public sealed class KeyedState<TState> : IKeySlotHolder
{
    private const int Shift = KeyTable.PageShift;
    private const int Mask = KeyTable.PageMask;

    private readonly IStateSerializer<TState> _serializer;
    private readonly long _ttlMs;
    private readonly long _bucketMs;
    private KeyTable _keys;
    private bool _ownsKeys = true;
    private Page?[] _pages = [];
    private int _count;

    // The lowest page bound (an absolute bucket), long.MaxValue with no key; lets a call with nothing due stop at once.
    private long _lowest = long.MaxValue;
    private long _evictedThrough = long.MinValue;

    // Buckets that do not fit a page's byte (slot → bucket); rare: see the remarks.
    private readonly Dictionary<int, long> _far = [];
    private const byte Far = byte.MaxValue;

    private sealed class Page(bool tracksAccess)
    {
        public readonly TState[] Entries = new TState[KeyTable.PageSize];

        // The bucket of each key's last access less Base, or Far; none with an infinite TTL.
        public readonly byte[] Access = tracksAccess ? new byte[KeyTable.PageSize] : [];
        public long Base;
        public readonly ulong[] Held = new ulong[KeyTable.PageSize / 64];
        public int Count;

        // No held key of this page is due before this bucket; a key's bucket only grows, so only a new key lowers it,
        // and a sweep sets it to the lowest bucket left.
        public long Lowest = long.MaxValue;
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
        _keys = new KeyTable();
        _keys.Attach(this);
    }

    /// <summary>Keys held.</summary>
    public int Count => _count;

    /// <summary>Keys dropped by TTL over this instance's life (not checkpointed).</summary>
    public long Evicted { get; private set; }

    /// <summary>The key numbering this state uses (shared with other states after <see cref="ShareKeys"/>).</summary>
    public KeyTable Keys => _keys;

    /// <summary>Approximate heap bytes of the fixed-size state held (not of objects a state references), with the
    /// keys themselves when the key table is this state's own (a shared table is counted once by its owner).</summary>
    public long ApproximateBytes =>
        (_count * (long)(Unsafe.SizeOf<TState>() + (TracksAccess ? 1 : 0))) + (_far.Count * 24L) + (_ownsKeys ? _keys.ApproximateBytes : 0);

    private bool TracksAccess => _bucketMs != long.MaxValue;

    /// <summary>Numbers keys through <paramref name="keys"/>, shared with the other states keyed the same way. Only
    /// while this state is empty and still has its own table (an operator calls it when opened).</summary>
    public void ShareKeys(KeyTable keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (ReferenceEquals(keys, _keys))
        {
            return;
        }
        if (!_ownsKeys || _count != 0)
        {
            throw new InvalidOperationException("Keys can be shared only by an empty state that has its own key table.");
        }
        _keys = keys;
        _ownsKeys = false;
        keys.Attach(this);
    }

    /// <summary>The state of <paramref name="key"/>, created as default when absent; marks the key accessed at
    /// <paramref name="eventTimeMs"/> for the TTL.</summary>
    public ref TState GetOrAdd(string key, long eventTimeMs, out bool created)
    {
        var slot = _keys.GetOrAddSlot(key);
        var bucket = TracksAccess ? FloorDiv(eventTimeMs, _bucketMs) : 0;
        var page = PageOf(slot, bucket);
        ref var held = ref page.Held[(slot & Mask) >> 6];
        var bit = 1UL << slot;
        if ((held & bit) == 0)
        {
            held |= bit;
            page.Count++;
            _count++;
            created = true;
            if (TracksAccess)
            {
                File(page, slot, bucket);
            }
        }
        else
        {
            created = false;
            if (TracksAccess)
            {
                // Only a later bucket changes what eviction reads; the page's bound stays a lower bound.
                if (bucket > AccessOf(page, slot))
                {
                    SetAccess(page, slot, bucket);
                }
            }
        }
        return ref page.Entries[slot & Mask];
    }

    /// <summary>The state of <paramref name="key"/> without touching its TTL, or a null ref (test with
    /// <see cref="Unsafe.IsNullRef{T}(ref readonly T)"/>) when absent.</summary>
    public ref TState GetValueRefOrNullRef(string key)
    {
        if (_keys.TryGetSlot(key, out var slot) && Holds(slot))
        {
            return ref _pages[slot >> Shift]!.Entries[slot & Mask];
        }
        return ref Unsafe.NullRef<TState>();
    }

    /// <summary>The slot of <paramref name="key"/> in the key table if this state holds it, else −1. A slot names the
    /// key only while some state holds it: once dropped, the number may go to another key.</summary>
    public int SlotOf(string key) => _keys.TryGetSlot(key, out var slot) && Holds(slot) ? slot : -1;

    /// <summary>The state held in <paramref name="slot"/> without touching its TTL, or a null ref when this state holds
    /// nothing there.</summary>
    public ref TState GetValueRefAtSlotOrNullRef(int slot)
    {
        if (Holds(slot))
        {
            return ref _pages[slot >> Shift]!.Entries[slot & Mask];
        }
        return ref Unsafe.NullRef<TState>();
    }

    public bool TryGetValue(string key, out TState value)
    {
        if (_keys.TryGetSlot(key, out var slot) && Holds(slot))
        {
            value = _pages[slot >> Shift]!.Entries[slot & Mask];
            return true;
        }
        value = default!;
        return false;
    }

    public bool ContainsKey(string key) => _keys.TryGetSlot(key, out var slot) && Holds(slot);

    /// <summary>Drops a key now (its bucket entry goes stale and is skipped later).</summary>
    public bool Remove(string key)
    {
        if (_keys.TryGetSlot(key, out var slot) && Holds(slot))
        {
            Drop(slot);
            return true;
        }
        return false;
    }

    /// <summary>Drops keys whose last access + TTL is below <paramref name="watermarkMs"/> (to the bucket: a key goes
    /// once its whole bucket has expired); returns how many went. Cheap when nothing is due: one comparison.</summary>
    public int EvictExpired(long watermarkMs)
    {
        if (_ttlMs == long.MaxValue || watermarkMs == long.MinValue || watermarkMs < long.MinValue + _ttlMs)
        {
            return 0;
        }
        // The highest bucket wholly expired: its newest possible access, (b + 1) * width − 1, plus TTL is below the watermark.
        var due = FloorDiv(watermarkMs - _ttlMs, _bucketMs) - 1;
        if (due < _lowest || due <= _evictedThrough)
        {
            return 0;
        }
        var evicted = 0;
        var lowest = long.MaxValue;
        var pages = _pages;
        for (var p = 0; p < pages.Length; p++)
        {
            if (pages[p] is not { } page)
            {
                continue;
            }
            if (page.Lowest > due)
            {
                lowest = Math.Min(lowest, page.Lowest);
                continue;
            }
            // The keys left are all after the due bucket, and keys added later are filed after it: it becomes the base.
            var oldBase = page.Base;
            page.Base = due + 1;
            var pageLowest = long.MaxValue;
            var words = page.Held;
            for (var w = 0; w < words.Length; w++)
            {
                var bits = words[w];
                while (bits != 0)
                {
                    var index = (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    var slot = (p << Shift) + index;
                    var value = page.Access[index];
                    var access = value == Far ? _far[slot] : oldBase + value;
                    if (access <= due)
                    {
                        // Drop may null the page when this is its last key; the words array read here stays valid.
                        Drop(slot);
                        evicted++;
                        continue;
                    }
                    SetAccess(page, slot, access);
                    pageLowest = Math.Min(pageLowest, access);
                }
            }
            if (pages[p] is not null)
            {
                page.Lowest = pageLowest;
                lowest = Math.Min(lowest, pageLowest);
            }
        }
        _lowest = lowest;
        _evictedThrough = due;
        Evicted += evicted;
        return evicted;
    }

    /// <summary>Every key and state, in slot order (use for reads that do not depend on order).</summary>
    public void ForEach<TArg>(TArg arg, KeyedStateVisitor<TState, TArg> visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        foreach (var slot in HeldSlots())
        {
            visitor(arg, _keys.KeyAt(slot)!, _pages[slot >> Shift]!.Entries[slot & Mask]);
        }
    }

    /// <summary>Every slot held and its state, in slot order, without making the key strings.</summary>
    public void ForEachSlot<TArg>(TArg arg, KeyedSlotVisitor<TState, TArg> visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        foreach (var slot in HeldSlots())
        {
            visitor(arg, slot, _pages[slot >> Shift]!.Entries[slot & Mask]);
        }
    }

    public void Clear()
    {
        foreach (var slot in HeldSlots())
        {
            Drop(slot);
        }
        _far.Clear();
        _lowest = long.MaxValue;
        _evictedThrough = long.MinValue;
    }

    /// <summary>Writes every key with its last access (the last millisecond of its bucket, which files it in the
    /// same bucket again; 0 with an infinite TTL) and state.</summary>
    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_count);
        writer.Write(_evictedThrough);
        foreach (var slot in HeldSlots())
        {
            var page = _pages[slot >> Shift]!;
            _keys.WriteKey(writer, slot);
            writer.Write(TracksAccess ? LastMsOf(AccessOf(page, slot)) : 0L);
            _serializer.Write(writer, page.Entries[slot & Mask]);
        }
    }

    /// <summary>The slots this state holds a value for, in slot order. Each word of the held bits is read before its
    /// slots are handed out, so dropping the current slot (or its whole page) while enumerating is safe.</summary>
    private HeldSlotEnumerator HeldSlots() => new(this);

    private struct HeldSlotEnumerator(KeyedState<TState> state)
    {
        private int _page;
        private int _word = -1;
        private ulong _bits;

        public int Current { get; private set; }

        public readonly HeldSlotEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            var pages = state._pages;
            while (_bits == 0)
            {
                if (_page >= pages.Length)
                {
                    return false;
                }
                if (pages[_page] is not { } page || ++_word >= page.Held.Length)
                {
                    _page++;
                    _word = -1;
                    continue;
                }
                _bits = page.Held[_word];
            }
            Current = (_page << Shift) + (_word << 6) + System.Numerics.BitOperations.TrailingZeroCount(_bits);
            _bits &= _bits - 1;
            return true;
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
        for (var i = 0; i < count; i++)
        {
            var key = reader.ReadString();
            var lastAccess = reader.ReadInt64();
            var slot = _keys.GetOrAddSlot(key);
            if (Holds(slot))
            {
                throw new InvalidDataException($"A checkpoint holds the key '{key}' twice.");
            }
            var bucket = TracksAccess ? FloorDiv(lastAccess, _bucketMs) : 0;
            var page = PageOf(slot, bucket);
            page.Held[(slot & Mask) >> 6] |= 1UL << slot;
            page.Count++;
            _count++;
            page.Entries[slot & Mask] = _serializer.Read(reader);
            if (TracksAccess)
            {
                File(page, slot, bucket);
            }
        }
    }

    bool IKeySlotHolder.Holds(int slot) => Holds(slot);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Holds(int slot)
    {
        var pages = _pages;
        var p = slot >> Shift;
        return (uint)p < (uint)pages.Length && pages[p] is { } page && (page.Held[(slot & Mask) >> 6] & (1UL << slot)) != 0;
    }

    /// <summary>The page of <paramref name="slot"/>, made when absent with its base at the first bucket not yet swept
    /// (or a little before <paramref name="bucket"/> before the first sweep, for keys that arrive out of order).</summary>
    private Page PageOf(int slot, long bucket)
    {
        var p = slot >> Shift;
        if (p >= _pages.Length)
        {
            Array.Resize(ref _pages, Math.Max(Math.Max(4, p + 1), _pages.Length * 2));
        }
        return _pages[p] ??= new Page(TracksAccess)
        {
            Base = _evictedThrough != long.MinValue ? _evictedThrough + 1 : bucket > long.MinValue + 64 ? bucket - 64 : bucket,
        };
    }

    private long AccessOf(Page page, int slot)
    {
        var value = page.Access[slot & Mask];
        return value == Far ? _far[slot] : page.Base + value;
    }

    private void SetAccess(Page page, int slot, long bucket)
    {
        ref var value = ref page.Access[slot & Mask];
        var offset = bucket - page.Base;
        if (offset >= 0 && offset < Far)
        {
            if (value == Far)
            {
                _far.Remove(slot);
            }
            value = (byte)offset;
        }
        else
        {
            value = Far;
            _far[slot] = bucket;
        }
    }

    private void Drop(int slot)
    {
        var p = slot >> Shift;
        var page = _pages[p]!;
        page.Held[(slot & Mask) >> 6] &= ~(1UL << slot);
        page.Entries[slot & Mask] = default!;
        if (TracksAccess)
        {
            if (page.Access[slot & Mask] == Far)
            {
                _far.Remove(slot);
            }
            page.Access[slot & Mask] = 0;
        }
        _count--;
        if (--page.Count == 0)
        {
            // An empty page goes, so a state that held many keys once does not keep their room.
            _pages[p] = null;
        }
        _keys.Release(slot);
    }

    /// <summary>Keeps a new key's last access and lowers its page's bound. A bucket already swept is not swept again,
    /// so an old time is kept as the next one, which is when it is due (as a key filed in the bucket lists of earlier
    /// versions always was; the last millisecond checkpointed is that bucket's).</summary>
    private void File(Page page, int slot, long bucket)
    {
        var filing = _evictedThrough != long.MinValue && bucket <= _evictedThrough ? _evictedThrough + 1 : bucket;
        SetAccess(page, slot, filing);
        if (filing < page.Lowest)
        {
            page.Lowest = filing;
        }
        if (filing < _lowest)
        {
            _lowest = filing;
        }
    }

    /// <summary>The last millisecond of <paramref name="bucket"/> (saturating at the ends of time).</summary>
    private long LastMsOf(long bucket)
    {
        var start = bucket * _bucketMs;
        return bucket != 0 && start / bucket != _bucketMs ? (bucket < 0 ? long.MinValue : long.MaxValue)
            : start > long.MaxValue - (_bucketMs - 1) ? long.MaxValue : start + (_bucketMs - 1);
    }

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }
}

/// <summary>Visits one key of a <see cref="KeyedState{TState}"/>.</summary>
public delegate void KeyedStateVisitor<TState, in TArg>(TArg arg, string key, in TState state);

/// <summary>Visits one slot of a <see cref="KeyedState{TState}"/>.</summary>
public delegate void KeyedSlotVisitor<TState, in TArg>(TArg arg, int slot, in TState state);
