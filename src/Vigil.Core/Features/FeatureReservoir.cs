namespace Vigil.Core.Features;

/// <summary>The users in a <see cref="FeatureReservoir"/> and their latest features, row-major.</summary>
/// <param name="UserIds">One per row.</param>
/// <param name="Rows">Row r's features at r × <see cref="UserFeatures.Count"/>, in original units.</param>
public sealed record FeatureSample(IReadOnlyList<string> UserIds, float[] Rows)
{
    /// <summary>The number of rows.</summary>
    public int Count => UserIds.Count;
}

/// <summary>
/// A uniform random sample of at most <see cref="Capacity"/> users with their current feature vectors, shared by every
/// partition, which the trainer copies out. Users are kept by bottom-k sampling on a seeded hash of the user id: the
/// sample is the users with the smallest hashes seen, so it is uniform over distinct users however active each is,
/// offering a user again only refreshes its vector, and after a restart the same users come back.
/// </summary>
/// <remarks>
/// Thread-safe. <see cref="Offer(string, in UserFeatureState, long)"/> is on the per-event path: once the sample is full, a user outside it is turned
/// away by one hash and one comparison, without the lock. Users who stop sending keep their last vector;
/// <see cref="Snapshot"/> can leave out those not refreshed recently.
/// </remarks>
public sealed class FeatureReservoir
{
    private readonly Lock _lock = new();
    private readonly ulong _seed;
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly string[] _users;
    private readonly float[] _rows;

    // A user offered by state (the operator's per-event path) keeps the state and its row is written when the sample is
    // read: the features are derived (an arctangent, a square root, logarithms) once per snapshot, not once per event.
    private readonly UserFeatureState[] _states;
    private readonly bool[] _byState;
    private readonly long[] _updatedMs;
    // The slot holding the largest hash first, so a user with a smaller hash replaces it.
    private readonly PriorityQueue<int, ulong> _largestFirst = new(Comparer<ulong>.Create((a, b) => b.CompareTo(a)));
    private ulong _admitBelow = ulong.MaxValue;
    private long _offers;
    private long _newestMs = long.MinValue;

    /// <param name="capacity">Users kept at most.</param>
    /// <param name="seed">Seed of the sampling hash.</param>
    public FeatureReservoir(int capacity, ulong seed = 0x5EED)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _seed = seed;
        _users = new string[capacity];
        _rows = new float[capacity * UserFeatures.Count];
        _states = new UserFeatureState[capacity];
        _byState = new bool[capacity];
        _updatedMs = new long[capacity];
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

    /// <summary>The latest event time of any refresh (long.MinValue before the first).</summary>
    public long NewestUpdateMs => Interlocked.Read(ref _newestMs);

    /// <summary>Offers taken under the lock (a measure of its traffic).</summary>
    public long LockedOffers => Interlocked.Read(ref _offers);

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
                features[..UserFeatures.Count].CopyTo(_rows.AsSpan(slot * UserFeatures.Count, UserFeatures.Count));
                _byState[slot] = false;
                Refreshed(slot, eventTimeMs);
            }
        }
    }

    /// <summary>Records the user's current state if the user is (or now enters) the sample; its feature vector
    /// (<see cref="UserFeatureState.WriteTo"/>) is what <see cref="Snapshot"/> and <see cref="TryGet"/> then give.</summary>
    public void Offer(string userId, in UserFeatureState state, long eventTimeMs)
    {
        var none = -1;
        Offer(userId, state, eventTimeMs, ref none);
    }

    /// <summary>
    /// <see cref="Offer(string, in UserFeatureState, long)"/> for a caller that remembers where the user was last put:
    /// <paramref name="slotHint"/> (−1 when unknown) is checked against the slot's holder, so a right hint skips the
    /// hash and the lookup, and a stale one (the user left the sample, or the caller's key was reused) costs only the
    /// check. On return it holds the user's slot, or −1 when the user is not in the sample.
    /// </summary>
    public void Offer(string userId, in UserFeatureState state, long eventTimeMs, ref int slotHint)
    {
        ArgumentNullException.ThrowIfNull(userId);
        var hint = slotHint;
        if ((uint)hint < (uint)Capacity)
        {
            lock (_lock)
            {
                var holder = _users[hint];
                if (ReferenceEquals(holder, userId) || string.Equals(holder, userId, StringComparison.Ordinal))
                {
                    _offers++;
                    _states[hint] = state;
                    _byState[hint] = true;
                    Refreshed(hint, eventTimeMs);
                    return;
                }
            }
        }
        slotHint = -1;
        // A user outside a full sample is turned away by one hash and one comparison, without the lock.
        var hash = StableHash.Hash64(userId, _seed);
        if (hash > Volatile.Read(ref _admitBelow))
        {
            return;
        }
        lock (_lock)
        {
            if (TryTakeSlot(userId, hash, out var slot))
            {
                _states[slot] = state;
                _byState[slot] = true;
                Refreshed(slot, eventTimeMs);
                slotHint = slot;
            }
        }
    }

    private void Refreshed(int slot, long eventTimeMs)
    {
        _updatedMs[slot] = eventTimeMs;
        if (eventTimeMs > _newestMs)
        {
            Interlocked.Exchange(ref _newestMs, eventTimeMs);
        }
    }

    /// <summary>The user's slot, given one when the user enters the sample; false when the user is not in it. Under the lock.</summary>
    private bool TryTakeSlot(string userId, ulong hash, out int slot)
    {
        _offers++;
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
            _slots.Remove(_users[largestSlot]);
            slot = largestSlot;
        }
        _users[slot] = userId;
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
        if (_byState[slot])
        {
            _states[slot].WriteTo(row);
            _byState[slot] = false;
            _states[slot] = default;
        }
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
                if (_updatedMs[slot] >= updatedSinceMs)
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
