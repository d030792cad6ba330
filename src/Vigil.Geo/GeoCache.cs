using System.Numerics;
using Vigil.Core.Geo;

namespace Vigil.Geo;

/// <summary>
/// A bounded, thread-safe cache of lookup results keyed by address, 4-way set-associative with CLOCK replacement in
/// each set.
/// </summary>
/// <remarks>
/// <para>
/// A hit costs a hash, at most four reference loads and key compares, and no allocation and no lock: each slot holds
/// a reference to an immutable entry, so a reader sees either the old entry or the new one, never a torn mix. Writers
/// race benignly (two misses on one set may overwrite each other's entry; both results are correct, one is just not
/// kept).
/// </para>
/// <para>
/// CLOCK keeps what is used: a hit sets the entry's reference bit (only if unset, so a hot entry's cache line is not
/// written on every hit), and eviction passes over referenced entries once, clearing their bit, before taking an
/// unreferenced one. New entries start unreferenced, so a burst of one-off addresses (a scan, a spray from many IPs)
/// displaces other one-off addresses before it displaces the hot ones. Fixed-size sets bound memory exactly, unlike a
/// dictionary that would need a sweeper.
/// </para>
/// </remarks>
internal sealed class GeoCache
{
    private const int Ways = 4;

    private readonly Entry?[] _slots;

    // Beside each slot, a fingerprint of its entry's key (0: none yet), so that a lookup compares its set's four keys
    // in the table and dereferences only the entry that matches, instead of up to four entries spread over the heap.
    // Written racily with the slot: a stale fingerprint only costs a dereference or a miss, since a hit always
    // compares the entry's own key.
    private readonly uint[] _fingerprints;
    private readonly byte[] _hands;
    private readonly int _setShift;

    /// <summary>Makes a cache of at least <paramref name="capacity"/> entries (rounded up to a power of two, at least 4).</summary>
    public GeoCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        int sets = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, (capacity + Ways - 1) / Ways));
        _slots = new Entry?[sets * Ways];
        _fingerprints = new uint[sets * Ways];
        _hands = new byte[sets];
        _setShift = 64 - BitOperations.Log2((uint)sets);
    }

    /// <summary>The number of entries the cache holds when full.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Finds the cached result for <paramref name="key"/>.</summary>
    public bool TryGet(UInt128 key, out Entry entry)
    {
        int first = SetOf(key) * Ways;
        uint fingerprint = Fingerprint(key);
        for (int w = 0; w < Ways; w++)
        {
            if (Volatile.Read(ref _fingerprints[first + w]) != fingerprint)
            {
                continue;
            }

            var candidate = Volatile.Read(ref _slots[first + w]);
            if (candidate is not null && candidate.Key == key)
            {
                if (candidate.Referenced == 0)
                {
                    candidate.Referenced = 1;
                }

                entry = candidate;
                return true;
            }
        }

        entry = null!;
        return false;
    }

    /// <summary>Caches a result (found or not) for <paramref name="key"/>, evicting per CLOCK within its set.</summary>
    public void Add(UInt128 key, bool found, in GeoLocation location)
    {
        int set = SetOf(key);
        int first = set * Ways;
        int hand = _hands[set];
        int victim = hand;

        // Two turns: the first may only clear reference bits.
        for (int step = 0; step < Ways * 2; step++)
        {
            int w = (hand + step) & (Ways - 1);
            var current = Volatile.Read(ref _slots[first + w]);
            if (current is null || current.Referenced == 0 || current.Key == key)
            {
                victim = w;
                break;
            }

            current.Referenced = 0;
        }

        _hands[set] = (byte)((victim + 1) & (Ways - 1));
        Volatile.Write(ref _slots[first + victim], new Entry(key, found, location));
        Volatile.Write(ref _fingerprints[first + victim], Fingerprint(key));
    }

    /// <summary>32 bits of the key's hash other than those choosing the set; never 0 (an empty slot's).</summary>
    private static uint Fingerprint(UInt128 key)
    {
        ulong h = ((ulong)key * 0xC2B2_AE3D_27D4_EB4FUL) ^ ((ulong)(key >> 64) * 0x9E37_79B9_7F4A_7C15UL);
        return (uint)(h >> 32) | 1;
    }

    private int SetOf(UInt128 key)
    {
        // Fibonacci hashing of both halves: IPv4 keys differ only in their low 32 bits, IPv6 ones mostly in the high 64.
        ulong h = ((ulong)key * 0x9E37_79B9_7F4A_7C15UL) ^ ((ulong)(key >> 64) * 0xC2B2_AE3D_27D4_EB4FUL);
        return _setShift == 64 ? 0 : (int)(h >> _setShift);
    }

    /// <summary>One cached result. Immutable but for the CLOCK reference bit.</summary>
    internal sealed class Entry(UInt128 key, bool found, GeoLocation location)
    {
        public UInt128 Key { get; } = key;

        public bool Found { get; } = found;

        public GeoLocation Location { get; } = location;

        /// <summary>1 when hit since the clock hand last passed; written racily, which only blurs the eviction order.</summary>
        public int Referenced;
    }
}
