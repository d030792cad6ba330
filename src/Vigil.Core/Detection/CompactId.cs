using System.Runtime.InteropServices;

namespace Vigil.Core.Detection;

/// <summary>
/// An identifier (an event id) as long-lived per-user state keeps it, in 24 bytes with no string object for the usual
/// forms: up to 20 characters of <c>[0-9A-Za-z_-]</c> packed six bits each (the simulator's <c>e-</c> + 16 hex
/// digits), a canonical lower-case UUID as its 16 bytes, anything else as the string itself.
/// <see cref="ToString"/> gives back exactly the text it was made from (a new string for the packed forms).
/// </summary>
public readonly struct CompactId
{
    private const int MaxPacked = 20;
    private const int LengthShift = 120;

    // Marks the UUID form: compared by reference, never shown.
    private static readonly string s_uuid = new(['u', 'u', 'i', 'd']);

    // Two halves rather than a UInt128, whose 16-byte alignment would pad the struct (and every state holding it) to 32.
    private readonly ulong _low;
    private readonly ulong _high;
    private readonly string? _text;

    private CompactId(UInt128 bits, string? text)
    {
        _low = (ulong)bits;
        _high = (ulong)(bits >> 64);
        _text = text;
    }

    private UInt128 Bits => new(_high, _low);

    /// <summary>No id.</summary>
    public bool IsNone => _text is null && _low == 0 && _high == 0;

    /// <summary>The compact form of <paramref name="id"/>; <see cref="IsNone"/> for null.</summary>
    public static CompactId From(string? id)
    {
        if (id is null)
        {
            return default;
        }
        if (id.Length is > 0 and <= MaxPacked && TryPack(id, out var packed))
        {
            return new CompactId(packed, null);
        }
        if (id.Length == 36 && Guid.TryParseExact(id, "D", out var uuid) && IsCanonical(uuid, id))
        {
            return new CompactId(MemoryMarshal.Read<UInt128>(MemoryMarshal.AsBytes(new ReadOnlySpan<Guid>(in uuid))), s_uuid);
        }
        return new CompactId(UInt128.Zero, id);
    }

    /// <summary>The id text; null for none.</summary>
    public override string? ToString()
    {
        if (ReferenceEquals(_text, s_uuid))
        {
            var bits = Bits;
            return MemoryMarshal.Read<Guid>(MemoryMarshal.AsBytes(new ReadOnlySpan<UInt128>(in bits))).ToString("D");
        }
        if (_text is not null)
        {
            return _text;
        }
        var length = (int)(_high >> (LengthShift - 64));
        if (length == 0)
        {
            return null;
        }
        return string.Create(length, Bits, static (chars, bits) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = Symbol((int)(bits >> (6 * i)) & 63);
            }
        });
    }

    private static bool TryPack(string id, out UInt128 bits)
    {
        bits = (UInt128)(uint)id.Length << LengthShift;
        for (var i = 0; i < id.Length; i++)
        {
            var code = Code(id[i]);
            if (code < 0)
            {
                return false;
            }
            bits |= (UInt128)(uint)code << (6 * i);
        }
        return true;
    }

    private static int Code(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'z' => c - 'a' + 10,
        >= 'A' and <= 'Z' => c - 'A' + 36,
        '-' => 62,
        '_' => 63,
        _ => -1,
    };

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
