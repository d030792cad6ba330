namespace Vigil.Core.Events;

/// <summary>
/// Which property values are worth looking up in the value cache, judged per property key from how often its values
/// were found there.
/// </summary>
/// <remarks>
/// <para>Some keys repeat a handful of values (<c>authMethod</c>, <c>currency</c>, a search's <c>query</c>), and the
/// cache saves their text; others rarely repeat one (<c>orderId</c>, <c>amount</c>, a page's <c>path</c> among tens
/// of thousands). For those a lookup costs more than it saves: the table's line is cold memory, a miss still makes
/// the string, and storing it evicts an entry that a user id or session id would have found. So each key keeps its
/// own count of lookups and hits; a key whose values are found less than <see cref="AdmitRatio"/> of the time has its
/// values made directly, except one in <see cref="SampleEvery"/>, which still goes to the cache so that a key whose
/// values start repeating is admitted again. Counts halve every <see cref="Window"/> lookups, so the verdict follows
/// the traffic.</para>
/// <para>Either way the value is the same text; only where its string comes from differs. The counts are updated
/// without synchronisation by whichever threads share a decoder: a lost update only shifts a verdict slightly, and a
/// slot whose key is replaced starts afresh.</para>
/// </remarks>
internal sealed class ValueAdmission
{
    /// <summary>Sets of <see cref="Ways"/> slots, chosen by the top bits of the key's hash.</summary>
    public const int Sets = 16;

    /// <summary>Keys one set holds at once; a new key replaces one of them, which then starts afresh if it returns.</summary>
    public const int Ways = 4;

    /// <summary>Lookups counted before a verdict; then the counts halve, so a verdict covers about this many.</summary>
    public const int Window = 256;

    /// <summary>Under this share of hits a key's values bypass the cache.</summary>
    public const double AdmitRatio = 0.875;

    /// <summary>While a key bypasses the cache, one value in this many is still looked up, to measure it again.</summary>
    public const int SampleEvery = 16;

    private readonly Slot[] _slots = new Slot[Sets * Ways];

    /// <summary>Whether the next value of <paramref name="key"/> should be looked up in the cache; if so, report the
    /// outcome with <see cref="Record"/> and the slot given here.</summary>
    /// <param name="key">The property key.</param>
    /// <param name="keyHash">The key's hash (<see cref="Utf8StringCache.HashOf"/>).</param>
    /// <param name="slot">Where the key is counted, for <see cref="Record"/>.</param>
    public bool ShouldLookUp(string key, ulong keyHash, out int slot)
    {
        slot = SlotOf(key, keyHash);
        ref Slot s = ref _slots[slot];
        if (!string.Equals(s.Key, key, StringComparison.Ordinal))
        {
            // A new key in a set whose ways are taken: it replaces one, chosen by its hash.
            s = new Slot { Key = key };
            return true;
        }

        return !s.Bypass || (++s.Skipped % SampleEvery) == 0;
    }

    /// <summary>The key's slot: the way holding it, else an empty way of its set, else the way its hash picks.</summary>
    private int SlotOf(string key, ulong keyHash)
    {
        int first = (int)(keyHash >> 60) * Ways;
        for (int i = first; i < first + Ways; i++)
        {
            string? held = _slots[i].Key;
            if (held is null || string.Equals(held, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return first + (int)((keyHash >> 58) & (Ways - 1));
    }

    /// <summary>Counts a lookup <see cref="ShouldLookUp"/> allowed, and decides the key's verdict every half window.</summary>
    public void Record(int slot, bool hit)
    {
        ref Slot s = ref _slots[slot];
        s.Lookups++;
        if (hit)
        {
            s.Hits++;
        }

        if (s.Lookups >= Window)
        {
            s.Bypass = s.Hits < s.Lookups * AdmitRatio;
            s.Lookups >>= 1;
            s.Hits >>= 1;
        }
    }

    /// <summary>Whether values of <paramref name="key"/> bypass the cache now (for tests).</summary>
    internal bool Bypasses(string key, ulong keyHash)
    {
        ref Slot s = ref _slots[SlotOf(key, keyHash)];
        return string.Equals(s.Key, key, StringComparison.Ordinal) && s.Bypass;
    }

    private struct Slot
    {
        public string? Key;
        public int Lookups;
        public int Hits;
        public int Skipped;
        public bool Bypass;
    }
}
