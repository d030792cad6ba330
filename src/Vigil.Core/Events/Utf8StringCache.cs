using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Vigil.Core.Events;

/// <summary>
/// A fixed-size cache from ASCII UTF-8 bytes to the string they spell, so that values an event stream repeats (user
/// ids, session ids, addresses, user agents, property keys) are materialised once instead of once per event.
/// </summary>
/// <remarks>
/// <para>Bounded by construction: <c>size</c> slots, each holding one string, two candidate slots per hash. A miss
/// replaces one of the two, so a stream of never-repeating values (an attacker's random ids) churns the slots but cannot
/// grow memory, and there are no chains for colliding hashes to lengthen.</para>
/// <para>Only ASCII is cached: equality is then a vectorised compare of the bytes against the cached string's chars,
/// with no decoding. Other text goes through <see cref="Encoding.UTF8"/> as before.</para>
/// <para>Thread-safe without locks: a slot is one reference to an immutable string, written and read whole, so a
/// racing reader sees either the old string, the new one or null, and checks the bytes before using it.</para>
/// </remarks>
internal sealed class Utf8StringCache
{
    /// <summary>Longer values are not cached: they rarely repeat, and comparing them costs what decoding does.</summary>
    public const int MaxCachedBytes = 256;

    private readonly string?[] _slots;
    private readonly int _mask;

    /// <param name="size">Slots, rounded up to a power of two; at least 2.</param>
    public Utf8StringCache(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        int slots = (int)BitOperations.RoundUpToPowerOf2((uint)size);
        _slots = new string?[slots];
        _mask = slots - 1;
    }

    /// <summary>Slots in the table.</summary>
    public int Size => _slots.Length;

    /// <summary>Returns the string <paramref name="utf8"/> spells, from the cache when it was seen recently.</summary>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return string.Empty;
        }

        if (utf8.Length > MaxCachedBytes)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        ulong hash = Hash(utf8);
        int first = (int)hash & _mask;
        int second = (int)(hash >> 32) & _mask;
        var slots = _slots;
        string? cached = Volatile.Read(ref slots[first]);
        if (cached is not null && cached.Length == utf8.Length && Ascii.Equals(utf8, cached))
        {
            return cached;
        }

        string? other = Volatile.Read(ref slots[second]);
        if (other is not null && other.Length == utf8.Length && Ascii.Equals(utf8, other))
        {
            return other;
        }

        string value = Encoding.UTF8.GetString(utf8);
        if (value.Length == utf8.Length)
        {
            // ASCII (one char per byte): cache it. An empty slot is taken first; otherwise a hash bit picks the victim,
            // which keeps two hot values that share a slot from evicting each other forever.
            int victim = cached is null ? first : other is null ? second : ((hash >> 31) & 1) == 0 ? first : second;
            Volatile.Write(ref slots[victim], value);
        }

        return value;
    }

    /// <summary>A multiply-rotate hash over 8-byte words, both halves usable as slot indexes.</summary>
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
}
