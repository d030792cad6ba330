using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Vigil.Core.Events;

/// <summary>
/// A fixed-size cache from ASCII UTF-8 bytes to the string they spell, so that values an event stream repeats (user
/// ids, session ids, addresses, user agents, property keys) are materialised once instead of once per event.
/// </summary>
/// <remarks>
/// <para>Bounded by construction: <c>size</c> entries in sets of two neighbours, one set per hash. A miss replaces one
/// entry of the set, so a stream of never-repeating values (an attacker's random ids) churns the entries but cannot
/// grow memory, and there are no chains for colliding hashes to lengthen.</para>
/// <para>Built for memory latency, which is what a lookup costs once the distinct values outnumber the CPU caches:
/// each entry keeps a tag (length and hash bits) and, for values of up to <see cref="InlineBytes"/> bytes, the bytes
/// themselves next to the string reference. A lookup of a short value therefore reads one table line and compares
/// the bytes there, never the string object (elsewhere on the heap); a longer value is compared against its string
/// only when the tag matches. A hit always compares every byte.</para>
/// <para>Only ASCII is cached: equality with a string is then a compare of bytes against its chars, with no decoding.
/// Other text goes through <see cref="Encoding.UTF8"/> as before.</para>
/// <para>Thread-safe without locks. An entry is several words, so it carries a version, odd while a writer fills it:
/// a writer claims the entry by compare-and-swap (and skips caching if another writer holds it), and a reader accepts
/// what it read only when the version was even and unchanged around its reads. A torn read is thus a miss, never a
/// wrong string.</para>
/// </remarks>
internal sealed class Utf8StringCache
{
    /// <summary>Longer values are not cached: they rarely repeat, and comparing them costs what decoding does.</summary>
    public const int MaxCachedBytes = 256;

    /// <summary>Values up to this length are compared in the entry itself.</summary>
    public const int InlineBytes = 24;

    private readonly Entry[] _entries;
    private readonly int _setMask;

    /// <param name="size">Entries, rounded up to a power of two; at least 2.</param>
    public Utf8StringCache(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        int entries = (int)BitOperations.RoundUpToPowerOf2((uint)size);
        _entries = new Entry[entries];
        // Sets are pairs of neighbours: the index of a set's first entry has its lowest bit clear.
        _setMask = (entries - 1) & ~1;
    }

    /// <summary>Entries in the table.</summary>
    public int Size => _entries.Length;

    /// <summary>Returns the string <paramref name="utf8"/> spells, from the cache when it was seen recently.</summary>
    public string Get(ReadOnlySpan<byte> utf8) => Get(utf8, HashOf(utf8));

    /// <summary>
    /// The hash <see cref="Get(ReadOnlySpan{byte}, ulong)"/> takes, with the value's entries asked of the memory
    /// system already: a caller with several values to look up (the fields of one message) hashes them all first, so
    /// that the table's cache misses overlap instead of following one another.
    /// </summary>
    public unsafe ulong Prefetch(ReadOnlySpan<byte> utf8)
    {
        ulong hash = HashOf(utf8);
        if (utf8.Length is > 0 and <= MaxCachedBytes && System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            // A hint only: the address is not kept, so the array moving under the garbage collector costs nothing.
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref _entries[(int)hash & _setMask]));
        }

        return hash;
    }

    /// <summary><see cref="Get(ReadOnlySpan{byte})"/> with the hash <see cref="Prefetch"/> gave for these bytes.</summary>
    public string Get(ReadOnlySpan<byte> utf8, ulong hash) => Get(utf8, hash, out _);

    /// <summary><see cref="Get(ReadOnlySpan{byte}, ulong)"/>, saying whether the value was found in the table
    /// (<paramref name="hit"/>); the empty value and values too long to cache count as hits, since caching them would
    /// not have helped.</summary>
    public string Get(ReadOnlySpan<byte> utf8, ulong hash, out bool hit)
    {
        hit = true;
        if (utf8.IsEmpty)
        {
            return string.Empty;
        }

        if (utf8.Length > MaxCachedBytes)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        Words words = utf8.Length <= InlineBytes ? Pack(utf8) : default;

        // The low 9 bits hold the length (1..256), so a used entry's tag is never 0, the tag of an empty one.
        uint tag = ((uint)(hash >> 32) & ~0x1FFu) | (uint)utf8.Length;
        ref Entry first = ref _entries[(int)hash & _setMask];
        ref Entry second = ref Unsafe.Add(ref first, 1);
        if (TryMatch(ref first, utf8, tag, in words, out string? cached) || TryMatch(ref second, utf8, tag, in words, out cached))
        {
            return cached;
        }

        hit = false;
        string value = Encoding.UTF8.GetString(utf8);
        if (value.Length == utf8.Length)
        {
            // ASCII (one char per byte): cache it. An empty entry is taken first; otherwise the victim alternates with
            // the first entry's writes, so two hot values that share a set do not keep evicting the same entry.
            bool useFirst = Volatile.Read(ref first.Tag) == 0
                || (Volatile.Read(ref second.Tag) != 0 && (((uint)(hash >> 31) ^ (Volatile.Read(ref first.Version) >> 1)) & 1) == 0);
            Store(ref useFirst ? ref first : ref second, value, tag, in words);
        }

        return value;
    }

    /// <summary>The hash of a value: of its packed words when short, of its bytes otherwise; 0 for what is not cached.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong HashOf(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty || utf8.Length > MaxCachedBytes)
        {
            return 0;
        }

        if (utf8.Length <= InlineBytes)
        {
            Words words = Pack(utf8);
            return Mix(in words, utf8.Length);
        }

        return Hash(utf8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryMatch(ref Entry entry, ReadOnlySpan<byte> utf8, uint tag, in Words words, [NotNullWhen(true)] out string? value)
    {
        value = null;
        uint version = Volatile.Read(ref entry.Version);
        if ((version & 1) != 0 || Volatile.Read(ref entry.Tag) != tag)
        {
            return false;
        }

        string? candidate = Volatile.Read(ref entry.Value);
        if (candidate is null)
        {
            return false;
        }

        if (utf8.Length <= InlineBytes)
        {
            // The bytes and the string must be one writer's: the version proves no writer came between the reads.
            if (Volatile.Read(ref entry.Bytes.A) != words.A || Volatile.Read(ref entry.Bytes.B) != words.B
                || Volatile.Read(ref entry.Bytes.C) != words.C || Volatile.Read(ref entry.Version) != version)
            {
                return false;
            }
        }
        else if (candidate.Length != utf8.Length || !Ascii.Equals(utf8, candidate))
        {
            // Compared against the string itself, so a torn read cannot matter.
            return false;
        }

        value = candidate;
        return true;
    }

    private static void Store(ref Entry entry, string value, uint tag, in Words words)
    {
        uint version = Volatile.Read(ref entry.Version);
        if ((version & 1) != 0 || Interlocked.CompareExchange(ref entry.Version, version + 1, version) != version)
        {
            // Another writer is filling this entry: leave it to them; the value is returned uncached.
            return;
        }

        entry.Value = value;
        entry.Tag = tag;
        entry.Bytes = words;
        // Release: a reader that sees the new version sees everything written before it.
        Volatile.Write(ref entry.Version, version + 2);
    }

    /// <summary>
    /// The bytes of a value of 1 to <see cref="InlineBytes"/> bytes as three words, read with overlapping loads rather
    /// than copied: for one length the words determine the bytes (together the loads cover every byte), and the tag
    /// compared first holds the length, so equal words at an equal length mean equal bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Words Pack(ReadOnlySpan<byte> utf8)
    {
        ref byte start = ref MemoryMarshal.GetReference(utf8);
        int length = utf8.Length;
        Words words = default;
        if (length >= 8)
        {
            words.A = Unsafe.ReadUnaligned<ulong>(ref start);
            words.C = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, length - 8));
            if (length > 16)
            {
                words.B = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, 8));
            }
        }
        else if (length >= 4)
        {
            words.A = Unsafe.ReadUnaligned<uint>(ref start)
                | ((ulong)Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, length - 4)) << 32);
        }
        else
        {
            words.A = start | ((ulong)Unsafe.Add(ref start, length >> 1) << 8) | ((ulong)Unsafe.Add(ref start, length - 1) << 16);
        }

        return words;
    }

    /// <summary>The hash of a packed short value: a few independent multiplies, no loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(in Words words, int length)
    {
        const ulong Prime1 = 0x9E3779B185EBCA87;
        const ulong Prime2 = 0xC2B2AE3D27D4EB4F;
        const ulong Prime3 = 0x165667B19E3779F9;
        ulong h = (words.A ^ ((ulong)length * Prime3)) * Prime1;
        h ^= BitOperations.RotateLeft(words.B * Prime2, 31);
        h ^= BitOperations.RotateLeft((words.C ^ Prime3) * Prime2, 17);
        h ^= h >> 33;
        h *= Prime2;
        h ^= h >> 29;
        return h;
    }

    /// <summary>A multiply-rotate hash over 8-byte words, both halves usable, for values longer than the inline ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        const ulong Prime1 = 0x9E3779B185EBCA87;
        const ulong Prime2 = 0xC2B2AE3D27D4EB4F;
        ulong h = (ulong)bytes.Length * Prime1;
        // Two independent lanes over 16-byte blocks, so long values (user agents) do not wait on one multiply chain.
        ulong g = Prime2;
        while (bytes.Length >= 16)
        {
            h = BitOperations.RotateLeft(h ^ (BinaryPrimitives.ReadUInt64LittleEndian(bytes) * Prime2), 29) * Prime1;
            g = BitOperations.RotateLeft(g ^ (BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]) * Prime1), 31) * Prime2;
            bytes = bytes[16..];
        }

        h ^= g;
        if (bytes.Length >= 8)
        {
            h = BitOperations.RotateLeft(h ^ (BinaryPrimitives.ReadUInt64LittleEndian(bytes) * Prime2), 29) * Prime1;
            bytes = bytes[8..];
        }

        if (bytes.Length > 0)
        {
            ulong tail = 0;
            for (int i = 0; i < bytes.Length; i++)
            {
                tail |= (ulong)bytes[i] << (8 * i);
            }

            h = BitOperations.RotateLeft(h ^ (tail * Prime2), 29) * Prime1;
        }

        h ^= h >> 33;
        h *= Prime2;
        h ^= h >> 29;
        return h;
    }

    /// <summary>A value of up to <see cref="InlineBytes"/> bytes, packed by <see cref="Pack"/>.</summary>
    private struct Words
    {
        public ulong A;
        public ulong B;
        public ulong C;
    }

    private struct Entry
    {
        /// <summary>Even when the entry is stable, odd while a writer fills it; every write adds 2.</summary>
        public uint Version;

        /// <summary>Length in the low 9 bits, hash bits above; 0 for an empty entry.</summary>
        public uint Tag;

        public string? Value;

        /// <summary>The value's bytes when it is at most <see cref="InlineBytes"/> long.</summary>
        public Words Bytes;
    }
}
