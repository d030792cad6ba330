namespace Vigil.Core.Features;

/// <summary>The users in a <see cref="FeatureReservoir"/> and their latest features, row-major.</summary>
/// <param name="UserIds">One per row.</param>
/// <param name="Rows">Row r's features at r × <see cref="UserFeatures.Count"/>, in original units.</param>
public sealed record FeatureSample(IReadOnlyList<string> UserIds, float[] Rows)
{
    /// <summary>The number of rows.</summary>
    public int Count => UserIds.Count;
}

/// <summary>Where a caller last found a user in a <see cref="FeatureReservoir"/>: a slot and the slot's holder ticket,
/// so that an offer with a right hint skips the hash, the lookup and the reservoir's lock. default knows nothing.</summary>
public readonly struct ReservoirHint
{
    internal ReservoirHint(int slot, int ticket)
    {
        SlotPlusOne = slot + 1;
        Ticket = ticket;
    }

    // 0: no slot known.
    internal int SlotPlusOne { get; }

    internal int Ticket { get; }

    /// <summary>The user's slot, or −1 when the hint knows none.</summary>
    public int Slot => SlotPlusOne - 1;
}

/// <summary>
/// A uniform random sample of at most <see cref="Capacity"/> users with their current feature vectors, shared by every
/// partition, which the trainer copies out. Users are kept by bottom-k sampling on a seeded hash of the user id: the
/// sample is the users with the smallest hashes seen, so it is uniform over distinct users however active each is,
/// offering a user again only refreshes its vector, and after a restart the same users come back.
/// </summary>
/// <remarks>
/// <para>Thread-safe. <see cref="Offer(string, in UserFeatureState, long, ref ReservoirHint)"/> is on the per-event
/// path: once the sample is full, a user outside it is turned away by one hash and one comparison, without the lock,
/// and a sampled user whose caller kept its <see cref="ReservoirHint"/> is refreshed without the lock too. Users who
/// stop sending keep their last vector; <see cref="Snapshot"/> can leave out those not refreshed recently.</para>
/// <para>Each slot keeps everything about its user together (the state offered, the time, the holder's ticket) and
/// carries a version, odd while someone holds the slot: a refresh claims the one slot by compare-and-swap, so the
/// partitions' threads never meet on a shared lock or counter per event, and the trainer (which claims each slot it
/// reads) never sees a half-copied state. The lock guards who holds which slot; a slot changes holder only while
/// claimed, and its ticket then changes, so a hint to a slot given to another user is seen to be stale; a hint is also checked
/// against the holder's id, so another user's hint is only a miss.</para>
/// </remarks>
public sealed class FeatureReservoir
{
    private readonly Lock _lock = new();
    private readonly ulong _seed;
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly float[] _rows;

    // A user offered by state (the operator's per-event path) keeps the state and its row is written when the sample is
    // read: the features are derived (an arctangent, a square root, logarithms) once per snapshot, not once per event.
    private readonly Slot[] _entries;
    // The slot holding the largest hash first, so a user with a smaller hash replaces it.
    private readonly PriorityQueue<int, ulong> _largestFirst = new(Comparer<ulong>.Create((a, b) => b.CompareTo(a)));
    private ulong _admitBelow = ulong.MaxValue;

    private struct Slot
    {
        // Even while free, odd while claimed; each claim adds 2 in all.
        public int Version;
        // Changes whenever the slot passes to another user.
        public int Ticket;
        // The user holding the slot (set under the lock, with the ticket), next to the version: a hint is checked against
        // it without another cache line.
        public string? Holder;
        public bool ByState;
        public long UpdatedMs;
        public long Offers;
        public UserFeatureState State;
    }

    /// <param name="capacity">Users kept at most.</param>
    /// <param name="seed">Seed of the sampling hash.</param>
    public FeatureReservoir(int capacity, ulong seed = 0x5EED)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _seed = seed;
        _rows = new float[capacity * UserFeatures.Count];
        _entries = new Slot[capacity];
    }

    /// <summary>Users kept at most.</summary>
    public int Capacity { get; }

    /// <summary>Users held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>The latest event time of a refresh of a user now in the sample (long.MinValue before the first).
    /// Read from every slot: for the trainer, not for a per-event path.</summary>
    public long NewestUpdateMs
    {
        get
        {
            lock (_lock)
            {
                var newest = long.MinValue;
                foreach (var slot in _slots.Values)
                {
                    newest = Math.Max(newest, Volatile.Read(ref _entries[slot].UpdatedMs));
                }
                return newest;
            }
        }
    }

    /// <summary>Offers that refreshed a user in the sample (a measure of the traffic the sample takes).</summary>
    public long Offers
    {
        get
        {
            long total = 0;
            for (var i = 0; i < _entries.Length; i++)
            {
                total += Volatile.Read(ref _entries[i].Offers);
            }
            return total;
        }
    }

    /// <summary>Records <paramref name="features"/> as the user's current vector if the user is (or now enters) the sample.</summary>
    public void Offer(string userId, ReadOnlySpan<float> features, long eventTimeMs)
    {
        ArgumentNullException.ThrowIfNull(userId);
        if (features.Length < UserFeatures.Count)
        {
            return;
        }
        var hash = StableHash.Hash64(userId, _seed);
        if (hash > Volatile.Read(ref _admitBelow))
        {
            return;
        }
        lock (_lock)
        {
            if (TryTakeSlot(userId, hash, out var slot))
            {
                ref var entry = ref _entries[slot];
                var version = Claim(ref entry);
                features[..UserFeatures.Count].CopyTo(_rows.AsSpan(slot * UserFeatures.Count, UserFeatures.Count));
                entry.ByState = false;
                entry.State = default;
                Refreshed(ref entry, eventTimeMs);
                Release(ref entry, version);
            }
        }
    }

    /// <summary>Records the user's current state if the user is (or now enters) the sample; its feature vector
    /// (<see cref="UserFeatureState.WriteTo"/>) is what <see cref="Snapshot"/> and <see cref="TryGet"/> then give.</summary>
    public void Offer(string userId, in UserFeatureState state, long eventTimeMs)
    {
        ReservoirHint none = default;
        Offer(userId, state, eventTimeMs, ref none);
    }

    /// <summary>
    /// <see cref="Offer(string, in UserFeatureState, long)"/> for a caller that remembers where the user was last put:
    /// a right <paramref name="hint"/> skips the hash, the lookup and the lock, and a stale one (the user left the
    /// sample, or the caller's key was reused) costs only the check. On return it holds the user's slot, or knows none
    /// when the user is not in the sample.
    /// </summary>
    public void Offer(string userId, in UserFeatureState state, long eventTimeMs, ref ReservoirHint hint)
    {
        ArgumentNullException.ThrowIfNull(userId);
        var slot = hint.Slot;
        if ((uint)slot < (uint)Capacity)
        {
            ref var entry = ref _entries[slot];
            if (Volatile.Read(ref entry.Ticket) == hint.Ticket)
            {
                var version = Claim(ref entry);
                // The holder only changes while the slot is claimed: under the claim the ticket is the truth. The hint
                // may still be another user's (a caller's key slot reused), hence the holder's id.
                if (entry.Ticket == hint.Ticket
                    && (ReferenceEquals(entry.Holder, userId) || string.Equals(entry.Holder, userId, StringComparison.Ordinal)))
                {
                    entry.State = state;
                    entry.ByState = true;
                    Refreshed(ref entry, eventTimeMs);
                    Release(ref entry, version);
                    return;
                }
                Release(ref entry, version);
            }
        }
        hint = default;
        // A user outside a full sample is turned away by one hash and one comparison, without the lock.
        var hash = StableHash.Hash64(userId, _seed);
        if (hash > Volatile.Read(ref _admitBelow))
        {
            return;
        }
        lock (_lock)
        {
            if (TryTakeSlot(userId, hash, out slot))
            {
                ref var entry = ref _entries[slot];
                var version = Claim(ref entry);
                entry.State = state;
                entry.ByState = true;
                Refreshed(ref entry, eventTimeMs);
                hint = new ReservoirHint(slot, entry.Ticket);
                Release(ref entry, version);
            }
        }
    }

    /// <summary>Claims a slot: waits out another holder (a refresh or a read, each a copy long), returns the version
    /// to give to <see cref="Release"/>.</summary>
    private static int Claim(ref Slot entry)
    {
        var spin = new SpinWait();
        while (true)
        {
            var version = Volatile.Read(ref entry.Version);
            if ((version & 1) == 0 && Interlocked.CompareExchange(ref entry.Version, version + 1, version) == version)
            {
                return version;
            }
            spin.SpinOnce();
        }
    }

    // Release: whoever claims the slot next sees everything written under this claim.
    private static void Release(ref Slot entry, int version) => Volatile.Write(ref entry.Version, version + 2);

    private static void Refreshed(ref Slot entry, long eventTimeMs)
    {
        entry.UpdatedMs = eventTimeMs;
        entry.Offers++;
    }

    /// <summary>The user's slot, given one when the user enters the sample; false when the user is not in it. Under the
    /// lock; a slot passed to a new holder gets a new ticket.</summary>
    private bool TryTakeSlot(string userId, ulong hash, out int slot)
    {
        if (_slots.TryGetValue(userId, out slot))
        {
            return true;
        }
        if (_slots.Count < Capacity)
        {
            slot = _slots.Count;
        }
        else
        {
            _largestFirst.TryPeek(out var largestSlot, out var largest);
            if (hash >= largest)
            {
                slot = -1;
                return false;
            }
            _largestFirst.Dequeue();
            _slots.Remove(_entries[largestSlot].Holder!);
            slot = largestSlot;
        }
        ref var entry = ref _entries[slot];
        var version = Claim(ref entry);
        entry.Ticket++;
        entry.Holder = userId;
        entry.State = default;
        entry.ByState = false;
        Release(ref entry, version);
        _slots[userId] = slot;
        _largestFirst.Enqueue(slot, hash);
        if (_slots.Count == Capacity)
        {
            _largestFirst.TryPeek(out _, out var newLargest);
            Volatile.Write(ref _admitBelow, newLargest);
        }
        return true;
    }

    /// <summary>The row of a slot, written from its state when it was offered by state. Under the lock.</summary>
    private ReadOnlySpan<float> RowOf(int slot)
    {
        var row = _rows.AsSpan(slot * UserFeatures.Count, UserFeatures.Count);
        ref var entry = ref _entries[slot];
        var version = Claim(ref entry);
        if (entry.ByState)
        {
            entry.State.WriteTo(row);
            entry.ByState = false;
            entry.State = default;
        }
        Release(ref entry, version);
        return row;
    }

    /// <summary>A copy of the sample, users in id order so the same sample gives the same rows.</summary>
    /// <param name="updatedSinceMs">Leave out users whose vector was last refreshed before this event time.</param>
    public FeatureSample Snapshot(long updatedSinceMs = long.MinValue)
    {
        lock (_lock)
        {
            var slots = new List<(string User, int Slot)>(_slots.Count);
            foreach (var (user, slot) in _slots)
            {
                if (Volatile.Read(ref _entries[slot].UpdatedMs) >= updatedSinceMs)
                {
                    slots.Add((user, slot));
                }
            }
            slots.Sort((a, b) => string.CompareOrdinal(a.User, b.User));
            var users = new string[slots.Count];
            var rows = new float[slots.Count * UserFeatures.Count];
            for (var i = 0; i < slots.Count; i++)
            {
                users[i] = slots[i].User;
                RowOf(slots[i].Slot).CopyTo(rows.AsSpan(i * UserFeatures.Count));
            }
            return new FeatureSample(users, rows);
        }
    }

    /// <summary>The latest vector of a sampled user; false when the user is not in the sample.</summary>
    public bool TryGet(string userId, Span<float> features)
    {
        ArgumentNullException.ThrowIfNull(userId);
        lock (_lock)
        {
            if (!_slots.TryGetValue(userId, out var slot) || features.Length < UserFeatures.Count)
            {
                return false;
            }
            RowOf(slot).CopyTo(features);
            return true;
        }
    }
}
