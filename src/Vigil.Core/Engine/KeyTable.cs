using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vigil.Core.Engine;

/// <summary>
/// The keys of one key space (the users of a partition, say) numbered as slots, shared by every
/// <see cref="KeyedState{TState}"/> keyed the same way: each state keeps its values in arrays indexed by slot, so a
/// key is held once however many operators keep state for it.
/// </summary>
/// <remarks>
/// <para>A key is kept packed in 16 bytes (<see cref="TableKey"/>: no string object for ids of up to 20 characters of
/// <c>[0-9A-Za-z_-]</c>, canonical RFC 4122 UUIDs and IPv4 addresses; any other key as its string in a side dictionary
/// by slot) in pages indexed by slot, and found through an open-addressing index of slot numbers (linear probing, at
/// most three quarters full): about 24 bytes a key, where a string, its dictionary entry and a slot reference cost
/// about 100. <see cref="KeyAt"/> makes the string again, which
/// only checkpoints and restores ask for.</para>
/// <para>A slot is freed (and its number reused) only once no attached state holds a value for it. The last key
/// resolved is remembered by reference, so the operators of a pipeline, which all see the same event and so the same
/// key string, pay one lookup per event between them.</para>
/// <para>Not thread-safe: one table per partition runtime, driven by its thread.</para>
/// </remarks>
public sealed class KeyTable
{
    internal const int PageShift = 10;
    internal const int PageSize = 1 << PageShift;
    internal const int PageMask = PageSize - 1;

    // A key kept as its string also pays the string object's header, length and terminator.
    private const int StringOverhead = 22;

    private readonly List<IKeySlotHolder> _holders = [];
    private TableKey[]?[] _keys = [];

    // The keys kept as strings (no packed form fits them), by slot.
    private readonly Dictionary<int, string> _texts = [];
    // Keys per page: a page whose keys have all gone is dropped, so a peak of users leaves no 24 KB pages behind.
    private int[] _pageCounts = [];
    // Slot + 1 per cell, 0 for an empty cell; the length is a power of two.
    private int[] _index = new int[16];
    private int[] _free = [];
    private int _count;
    private int _freeCount;
    private int _slotLimit;
    private long _textChars;
    private int _textKeys;
    private string? _lastKey;
    private int _lastSlot = -1;

    /// <summary>Keys with a slot.</summary>
    public int Count => _count;

    /// <summary>One past the highest slot number ever handed out: the range to scan for held slots.</summary>
    public int SlotLimit => _slotLimit;

    /// <summary>States sharing this table.</summary>
    public int Holders => _holders.Count;

    /// <summary>Approximate heap bytes of the keys and the slot numbering (not of the states).</summary>
    public long ApproximateBytes => _count == 0 ? 0
        : (_count * (long)Unsafe.SizeOf<TableKey>()) + (_index.Length * 4L) + (_textKeys * (long)(StringOverhead + 24)) + (_textChars * 2);

    /// <summary>The slot of <paramref name="key"/>, given a new one when absent. A new slot is freed again only through
    /// a holder letting it go, so callers hold what they add.</summary>
    public int GetOrAddSlot(string key)
    {
        if (ReferenceEquals(key, _lastKey))
        {
            return _lastSlot;
        }
        var packed = TableKey.From(key, out var text);
        var hash = Hash(packed, text);
        var cell = Find(packed, text, hash, out var slot);
        if (slot < 0)
        {
            if ((_count + 1) * 4 > _index.Length * 3)
            {
                Grow();
                cell = Find(packed, text, hash, out _);
            }
            slot = Allocate(packed, text);
            _index[cell] = slot + 1;
        }
        _lastKey = key;
        _lastSlot = slot;
        return slot;
    }

    /// <summary>The slot of <paramref name="key"/> if it has one.</summary>
    public bool TryGetSlot(string key, out int slot)
    {
        if (ReferenceEquals(key, _lastKey))
        {
            slot = _lastSlot;
            return true;
        }
        var packed = TableKey.From(key, out var text);
        Find(packed, text, Hash(packed, text), out slot);
        if (slot >= 0)
        {
            _lastKey = key;
            _lastSlot = slot;
            return true;
        }
        return false;
    }

    /// <summary>The key in <paramref name="slot"/> (a new string unless the key is kept as one), or null when the slot
    /// is free.</summary>
    public string? KeyAt(int slot) =>
        (uint)slot < (uint)_slotLimit && _keys[slot >> PageShift] is { } page ? Unpack(page[slot & PageMask], slot).ToString() : null;

    /// <summary>Pages of keys allocated (for tests: a page whose keys have all gone is dropped).</summary>
    internal int KeyPages
    {
        get
        {
            var n = 0;
            foreach (var page in _keys)
            {
                n += page is null ? 0 : 1;
            }
            return n;
        }
    }

    /// <summary>Writes the key in <paramref name="slot"/> as <see cref="BinaryWriter.Write(string)"/> would, without
    /// making the string (checkpoints write every key).</summary>
    internal void WriteKey(BinaryWriter writer, int slot) => Unpack(_keys[slot >> PageShift]![slot & PageMask], slot).WriteTo(writer);

    internal void Attach(IKeySlotHolder holder) => _holders.Add(holder);

    /// <summary>A holder let <paramref name="slot"/> go: the slot is freed when no holder keeps a value in it.</summary>
    internal void Release(int slot)
    {
        foreach (var holder in _holders)
        {
            if (holder.Holds(slot))
            {
                return;
            }
        }
        var pageIndex = slot >> PageShift;
        if ((uint)slot >= (uint)_slotLimit || _keys[pageIndex] is not { } page)
        {
            return;
        }
        ref var key = ref page[slot & PageMask];
        if (key.IsNone)
        {
            return;
        }
        RemoveFromIndex(Hash(key, key.IsText ? _texts[slot] : null), slot);
        if (key.IsText)
        {
            _texts.Remove(slot, out var text);
            _textKeys--;
            _textChars -= text!.Length;
        }
        key = default;
        _count--;
        if (--_pageCounts[pageIndex] == 0)
        {
            _keys[pageIndex] = null;
        }
        if (_lastSlot == slot)
        {
            _lastKey = null;
            _lastSlot = -1;
        }
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, Math.Max(16, _free.Length * 2));
        }
        _free[_freeCount++] = slot;
        if (_count == 0)
        {
            // Everything went: start numbering again so the pages of the states can be dropped, and let a large index go.
            _freeCount = 0;
            _slotLimit = 0;
            if (_index.Length > 1024)
            {
                _index = new int[16];
            }
        }
    }

    /// <summary>The index cell of <paramref name="key"/>, or the empty cell where it would go; <paramref name="slot"/>
    /// is its slot, or −1 when absent.</summary>
    private int Find(in TableKey key, string? text, int hash, out int slot)
    {
        var index = _index;
        var mask = index.Length - 1;
        var cell = hash & mask;
        while (true)
        {
            var entry = index[cell];
            if (entry == 0)
            {
                slot = -1;
                return cell;
            }
            var candidate = entry - 1;
            if (_keys[candidate >> PageShift]![candidate & PageMask].Equals(key)
                && (text is null || string.Equals(_texts[candidate], text, StringComparison.Ordinal)))
            {
                slot = candidate;
                return cell;
            }
            cell = (cell + 1) & mask;
        }
    }

    private int HomeCell(int slot, int mask)
    {
        var key = _keys[slot >> PageShift]![slot & PageMask];
        return Hash(key, key.IsText ? _texts[slot] : null) & mask;
    }

    /// <summary>A hash seeded per process (as string hashes are), so keys chosen to collide cannot be precomputed.</summary>
    private static int Hash(in TableKey key, string? text) =>
        text is not null ? text.GetHashCode(StringComparison.Ordinal) : HashCode.Combine(key.Low, key.High);

    private PackedKey Unpack(in TableKey key, int slot) => key.ToPacked(key.IsText ? _texts[slot] : null);

    /// <summary>Empties the cell of <paramref name="slot"/> and shifts back the entries after it that probed past it,
    /// so that every key stays reachable from its home cell without tombstones.</summary>
    private void RemoveFromIndex(int hash, int slot)
    {
        var index = _index;
        var mask = index.Length - 1;
        var hole = hash & mask;
        while (index[hole] != slot + 1)
        {
            hole = (hole + 1) & mask;
        }
        var next = hole;
        while (true)
        {
            next = (next + 1) & mask;
            var entry = index[next];
            if (entry == 0)
            {
                break;
            }
            var home = HomeCell(entry - 1, mask);
            // The entry may move into the hole unless its home lies cyclically in (hole, next].
            var stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
            if (!stays)
            {
                index[hole] = entry;
                hole = next;
            }
        }
        index[hole] = 0;
    }

    private void Grow()
    {
        var bigger = new int[_index.Length * 2];
        var mask = bigger.Length - 1;
        foreach (var entry in _index)
        {
            if (entry == 0)
            {
                continue;
            }
            var cell = HomeCell(entry - 1, mask);
            while (bigger[cell] != 0)
            {
                cell = (cell + 1) & mask;
            }
            bigger[cell] = entry;
        }
        _index = bigger;
    }

    private int Allocate(in TableKey key, string? text)
    {
        if (text is not null)
        {
            _textKeys++;
            _textChars += text.Length;
        }
        _count++;
        int slot;
        if (_freeCount > 0)
        {
            slot = _free[--_freeCount];
        }
        else
        {
            slot = _slotLimit++;
            if (slot >> PageShift == _keys.Length)
            {
                Array.Resize(ref _keys, Math.Max(4, _keys.Length * 2));
                Array.Resize(ref _pageCounts, _keys.Length);
            }
        }
        // A freed slot may lie in a page dropped since.
        var page = _keys[slot >> PageShift] ??= new TableKey[PageSize];
        page[slot & PageMask] = key;
        if (text is not null)
        {
            _texts[slot] = text;
        }
        _pageCounts[slot >> PageShift]++;
        return slot;
    }
}

/// <summary>
/// A key as a <see cref="KeyTable"/> keeps it, in 16 bytes: the six-bit packing of <see cref="PackedKey"/> (length in
/// bits 120–124, 1 to 20), an IPv4 address (length code 31, the address in the low bits), a key kept as text (length
/// code 30, the string beside the table), or a UUID whose variant's top bit is set (every RFC 4122 UUID): bit 127 set,
/// and the UUID's own bit 127 moved to bit 71, where that variant bit was.
/// </summary>
internal readonly record struct TableKey(ulong Low, ulong High)
{
    private const int KindShift = 56;
    private const ulong Ipv4Kind = 31UL << KindShift;
    private const ulong TextKind = 30UL << KindShift;
    private const ulong UuidFlag = 1UL << 63;
    private const ulong VariantBit = 1UL << 7;

    /// <summary>No key (a free slot).</summary>
    public bool IsNone => Low == 0 && High == 0;

    /// <summary>Whether the key is kept as its string beside the table.</summary>
    public bool IsText => High == TextKind;

    /// <summary>The table form of <paramref name="key"/>; <paramref name="text"/> is the string to keep beside it when
    /// no packed form fits.</summary>
    public static TableKey From(string key, out string? text)
    {
        var packed = PackedKey.From(key);
        text = null;
        switch (packed.Kind)
        {
            case PackedKind.Packed:
                return new TableKey(packed.Low, packed.High);
            case PackedKind.Ipv4:
                return new TableKey(packed.Low, Ipv4Kind);
            case PackedKind.Uuid when (packed.High & VariantBit) != 0:
                var high = (packed.High & ~(UuidFlag | VariantBit)) | ((packed.High & UuidFlag) != 0 ? VariantBit : 0) | UuidFlag;
                return new TableKey(packed.Low, high);
            default:
                text = key;
                return new TableKey(0, TextKind);
        }
    }

    /// <summary>The <see cref="PackedKey"/> this stands for; <paramref name="text"/> is the string kept beside it.</summary>
    public PackedKey ToPacked(string? text)
    {
        if (IsNone)
        {
            return default;
        }
        if ((High & UuidFlag) != 0)
        {
            var high = (High & ~(UuidFlag | VariantBit)) | ((High & VariantBit) != 0 ? UuidFlag : 0) | VariantBit;
            return PackedKey.Make(PackedKind.Uuid, Low, high, null);
        }
        return High switch
        {
            Ipv4Kind => PackedKey.Make(PackedKind.Ipv4, Low, 0, null),
            TextKind => PackedKey.Make(PackedKind.Text, 0, 0, text),
            _ => PackedKey.Make(PackedKind.Packed, Low, High, null),
        };
    }
}

/// <summary>The forms of a <see cref="PackedKey"/>.</summary>
internal enum PackedKind
{
    None,
    Packed,
    Uuid,
    Ipv4,
    Text,
}

/// <summary>Something that keeps values in the slots of a <see cref="KeyTable"/>.</summary>
internal interface IKeySlotHolder
{
    bool Holds(int slot);
}

/// <summary>Names of key spaces: operators keyed by the same space in one runtime share a <see cref="KeyTable"/>.</summary>
public static class KeySpaces
{
    /// <summary>User ids (the default of <see cref="KeyedProcessOperator{TIn, TState, TOut}"/>).</summary>
    public const string User = "user";

    /// <summary>IP addresses.</summary>
    public const string Ip = "ip";

    /// <summary>Tenants.</summary>
    public const string Tenant = "tenant";
}

/// <summary>
/// A key or identifier in 24 bytes with no string object for the usual forms: up to 20 characters of
/// <c>[0-9A-Za-z_-]</c> packed six bits each (<c>u-004705</c>, <c>e-797f54cc048cf653</c>), a canonical lower-case UUID
/// as its 16 bytes, a canonical dotted IPv4 address as its 32 bits, anything else as the string itself.
/// <see cref="ToString"/> gives back exactly the text it was made from (a new string for the packed forms).
/// </summary>
/// <remarks>The form is a function of the text, so two keys are equal exactly when their packed forms are.</remarks>
internal readonly struct PackedKey : IEquatable<PackedKey>
{
    private const int MaxPacked = 20;
    private const int LengthShift = 120;

    // Mark the UUID and IPv4 forms: compared by reference, never shown. Both texts pack six bits a character, so no
    // key kept as text can equal them.
    private static readonly string s_uuid = new(['u', 'u', 'i', 'd']);
    private static readonly string s_ipv4 = new(['i', 'p', 'v', '4']);

    // Two halves rather than a UInt128, whose 16-byte alignment would pad the struct (and every state holding it) to 32.
    private readonly ulong _low;
    private readonly ulong _high;
    private readonly string? _text;

    private PackedKey(ulong low, ulong high, string? text)
    {
        _low = low;
        _high = high;
        _text = text;
    }

    /// <summary>No key.</summary>
    public bool IsNone => _text is null && _low == 0 && _high == 0;

    /// <summary>Which form this is.</summary>
    public PackedKind Kind =>
        IsNone ? PackedKind.None
        : _text is null ? PackedKind.Packed
        : ReferenceEquals(_text, s_uuid) ? PackedKind.Uuid
        : ReferenceEquals(_text, s_ipv4) ? PackedKind.Ipv4
        : PackedKind.Text;

    /// <summary>The low 64 bits of a packed, UUID or IPv4 form.</summary>
    public ulong Low => _low;

    /// <summary>The high 64 bits of a packed or UUID form.</summary>
    public ulong High => _high;

    /// <summary>The key of the given form and bits (the inverse of <see cref="Kind"/>, <see cref="Low"/>,
    /// <see cref="High"/> and, for text, the string).</summary>
    public static PackedKey Make(PackedKind kind, ulong low, ulong high, string? text) => kind switch
    {
        PackedKind.Packed => new PackedKey(low, high, null),
        PackedKind.Uuid => new PackedKey(low, high, s_uuid),
        PackedKind.Ipv4 => new PackedKey(low, 0, s_ipv4),
        PackedKind.Text => new PackedKey(0, 0, text),
        _ => default,
    };

    /// <summary>Whether the key is held as its string (no packed form fits it).</summary>
    public bool IsText => _text is not null && !ReferenceEquals(_text, s_uuid) && !ReferenceEquals(_text, s_ipv4);

    /// <summary>The packed form of <paramref name="text"/>; <see cref="IsNone"/> for null.</summary>
    public static PackedKey From(string? text)
    {
        if (text is null)
        {
            return default;
        }
        if (text.Length is > 0 and <= MaxPacked)
        {
            if (TryPack(text, out var low, out var high))
            {
                return new PackedKey(low, high, null);
            }
            if (text.Length >= 7 && Events.IpText.TryPackDottedQuad(text, out var v4))
            {
                return new PackedKey(v4, 0, s_ipv4);
            }
        }
        else if (text.Length == 36 && Guid.TryParseExact(text, "D", out var uuid) && IsCanonical(uuid, text))
        {
            var bits = MemoryMarshal.Read<UInt128>(MemoryMarshal.AsBytes(new ReadOnlySpan<Guid>(in uuid)));
            return new PackedKey((ulong)bits, (ulong)(bits >> 64), s_uuid);
        }
        return new PackedKey(0, 0, text);
    }

    /// <summary>The text; null for none.</summary>
    public override string? ToString()
    {
        if (IsNone)
        {
            return null;
        }
        if (IsText)
        {
            return _text;
        }
        Span<char> chars = stackalloc char[36];
        return new string(chars[..Format(chars)]);
    }

    /// <summary>Writes the text as <see cref="BinaryWriter.Write(string)"/> does (a 7-bit encoded UTF-8 length, then the
    /// UTF-8 bytes); the packed forms are ASCII, so they are written from the stack.</summary>
    public void WriteTo(BinaryWriter writer)
    {
        if (_text is not null && !ReferenceEquals(_text, s_uuid) && !ReferenceEquals(_text, s_ipv4))
        {
            writer.Write(_text);
            return;
        }
        Span<char> chars = stackalloc char[36];
        var length = Format(chars);
        Span<byte> bytes = stackalloc byte[36];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)chars[i];
        }
        writer.Write7BitEncodedInt(length);
        writer.Write(bytes[..length]);
    }

    /// <summary>Writes a packed, UUID or IPv4 form into <paramref name="chars"/> (36 are enough); returns the length.</summary>
    private int Format(Span<char> chars)
    {
        if (ReferenceEquals(_text, s_uuid))
        {
            var bits = new UInt128(_high, _low);
            MemoryMarshal.Read<Guid>(MemoryMarshal.AsBytes(new ReadOnlySpan<UInt128>(in bits))).TryFormat(chars, out var written, "D");
            return written;
        }
        if (ReferenceEquals(_text, s_ipv4))
        {
            var v4 = (uint)_low;
            var written = 0;
            for (var shift = 24; shift >= 0; shift -= 8)
            {
                if (shift != 24)
                {
                    chars[written++] = '.';
                }
                ((v4 >> shift) & 255).TryFormat(chars[written..], out var n, default, System.Globalization.CultureInfo.InvariantCulture);
                written += n;
            }
            return written;
        }
        var length = (int)(_high >> (LengthShift - 64));
        var packed = new UInt128(_high, _low);
        for (var i = 0; i < length; i++)
        {
            chars[i] = Symbol((int)(packed >> (6 * i)) & 63);
        }
        return length;
    }

    public bool Equals(PackedKey other) =>
        _low == other._low && _high == other._high
        && (ReferenceEquals(_text, other._text) || string.Equals(_text, other._text, StringComparison.Ordinal));

    public override bool Equals(object? obj) => obj is PackedKey other && Equals(other);

    /// <summary>A hash seeded per process (as string hashes are), so keys chosen to collide cannot be precomputed.</summary>
    public override int GetHashCode() => IsText ? _text!.GetHashCode(StringComparison.Ordinal) : HashCode.Combine(_low, _high);

    // Characters i < 10 fill the low half six bits each; character 10 straddles the halves (4 bits low, 2 high); the
    // rest follow in the high half; the length sits at bit 120. The same bits as shifting one UInt128, without it.
    private static bool TryPack(string text, out ulong low, out ulong high)
    {
        var codes = CodeTable;
        var n = text.Length;
        ulong lo = 0;
        var hi = (ulong)(uint)n << (LengthShift - 64);
        uint bad = 0;
        var head = Math.Min(n, 10);
        for (var i = 0; i < head; i++)
        {
            uint code = text[i] < 128 ? codes[text[i]] : 0x80u;
            bad |= code;
            lo |= (ulong)code << (6 * i);
        }
        if (n > 10)
        {
            uint code = text[10] < 128 ? codes[text[10]] : 0x80u;
            bad |= code;
            lo |= (ulong)code << 60;
            hi |= (ulong)(code & 63) >> 4;
            for (var i = 11; i < n; i++)
            {
                code = text[i] < 128 ? codes[text[i]] : 0x80u;
                bad |= code;
                hi |= (ulong)code << ((6 * i) - 64);
            }
        }
        if ((bad & 0x80) != 0)
        {
            low = high = 0;
            return false;
        }
        low = lo;
        high = hi;
        return true;
    }

    // Six-bit code of each ASCII character ([0-9a-zA-Z-_]); 0x80 for the rest.
    private static ReadOnlySpan<byte> CodeTable =>
    [
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 62, 0x80, 0x80,
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
        0x80, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
        51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 0x80, 0x80, 0x80, 0x80, 63,
        0x80, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 0x80, 0x80, 0x80, 0x80, 0x80,
    ];

    private static char Symbol(int code) => code switch
    {
        < 10 => (char)('0' + code),
        < 36 => (char)('a' + code - 10),
        < 62 => (char)('A' + code - 36),
        62 => '-',
        _ => '_',
    };

    // Upper-case or braced spellings parse too; only the form ToString("D") prints back is kept as bytes.
    private static bool IsCanonical(Guid uuid, string id)
    {
        Span<char> text = stackalloc char[36];
        return uuid.TryFormat(text, out var written, "D") && written == 36 && text.SequenceEqual(id);
    }
}
