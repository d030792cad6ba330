using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Unicode;

namespace Vigil.Core.Events;

/// <summary>What <see cref="FlatJsonScanner.ReadValue"/> found.</summary>
internal enum FlatValue : byte
{
    /// <summary>Not a value this scanner takes (an array, a syntax error, bad text): the caller gives up.</summary>
    Unsupported,
    String,
    Number,
    True,
    False,
    Null,

    /// <summary>The <c>{</c> of a nested object; the caller reads its members with <see cref="FlatJsonScanner.ReadMember"/>.</summary>
    ObjectStart,
}

/// <summary>What <see cref="FlatJsonScanner.ReadMember"/> found.</summary>
internal enum FlatMember : byte
{
    /// <summary>Malformed, or a member this scanner does not take.</summary>
    Unsupported,

    /// <summary>A member name, with the scanner after its colon.</summary>
    Name,

    /// <summary>The object's closing brace.</summary>
    End,
}

/// <summary>
/// A forward-only, strictly validating JSON scanner for the shape nearly every event has: one object of strings,
/// numbers, literals and at most flat nested objects.
/// </summary>
/// <remarks>
/// <para>It accepts a subset of RFC 8259 and nothing outside it: control characters in strings, invalid escapes,
/// unpaired surrogate escapes, numbers with leading zeros or a bare sign, missing or doubled separators, trailing
/// commas and anything after the top-level object are all refused, as is invalid UTF-8 anywhere. What it refuses is not
/// necessarily wrong (arrays, for one): the caller then hands the message to a full JSON reader, which decides.</para>
/// <para>Strings are searched sixteen bytes at a time for the bytes that end the fast run — the quote, the backslash,
/// a control character, and a non-ASCII byte until the message's UTF-8 has been validated once. Messages that are all
/// ASCII are thus never validated separately: outside strings every byte is checked against the grammar anyway.</para>
/// </remarks>
internal ref struct FlatJsonScanner
{
    private readonly ReadOnlySpan<byte> _json;
    private int _pos;

    // (byte)(b - 0x20) above this ends a run of plain string bytes: 0x5F while non-ASCII bytes still need the UTF-8
    // check (it then catches both b < 0x20 and b >= 0x80), 0xDF once the message is known to be valid UTF-8 (b < 0x20).
    private byte _plainLimit;

    public FlatJsonScanner(ReadOnlySpan<byte> json)
    {
        _json = json;
        _plainLimit = 0x5F;
    }

    /// <summary>Moves past white space and the opening brace of the top-level object.</summary>
    public bool TryReadObjectStart()
    {
        SkipWhiteSpace();
        if (_pos < _json.Length && _json[_pos] == (byte)'{')
        {
            _pos++;
            return true;
        }

        return false;
    }

    /// <summary>
    /// Reads the next member's name and colon, or the object's end: <paramref name="first"/> tells whether the object
    /// has had no member yet (a comma is then wrong, as is one before the closing brace).
    /// </summary>
    /// <param name="first">True right after the object's opening brace.</param>
    /// <param name="name">The name's bytes as they stand in the message, escapes included.</param>
    /// <param name="escaped">Whether the name holds escapes.</param>
    public FlatMember ReadMember(bool first, out ReadOnlySpan<byte> name, out bool escaped)
    {
        name = default;
        escaped = false;
        byte b = NextSignificant();
        if (b == (byte)'}')
        {
            _pos++;
            return FlatMember.End;
        }

        if (!first)
        {
            if (b != (byte)',')
            {
                return FlatMember.Unsupported;
            }

            _pos++;
            b = NextSignificant();
        }

        if (b != (byte)'"' || !TryScanString(out name, out escaped))
        {
            return FlatMember.Unsupported;
        }

        if (NextSignificant() != (byte)':')
        {
            return FlatMember.Unsupported;
        }

        _pos++;
        return FlatMember.Name;
    }

    /// <summary>
    /// Reads one value: a string (<paramref name="raw"/> between the quotes, escapes as written), a number
    /// (<paramref name="raw"/> its text), a literal, or the start of an object. Arrays and anything malformed are
    /// <see cref="FlatValue.Unsupported"/>.
    /// </summary>
    public FlatValue ReadValue(out ReadOnlySpan<byte> raw, out bool escaped)
    {
        raw = default;
        escaped = false;
        byte b = NextSignificant();
        switch (b)
        {
            case (byte)'"':
                return TryScanString(out raw, out escaped) ? FlatValue.String : FlatValue.Unsupported;
            case (byte)'{':
                _pos++;
                return FlatValue.ObjectStart;
            case (byte)'n':
                return TryLiteral("null"u8) ? FlatValue.Null : FlatValue.Unsupported;
            case (byte)'t':
                return TryLiteral("true"u8) ? FlatValue.True : FlatValue.Unsupported;
            case (byte)'f':
                return TryLiteral("false"u8) ? FlatValue.False : FlatValue.Unsupported;
            default:
                return b == (byte)'-' || b - (uint)'0' <= 9 ? TryScanNumber(out raw) : FlatValue.Unsupported;
        }
    }

    /// <summary>True when only white space is left: the top-level object was the whole message.</summary>
    public bool IsAtEnd()
    {
        SkipWhiteSpace();
        return _pos == _json.Length;
    }

    /// <summary>
    /// The text of a string the scanner validated, with its escapes decoded, as UTF-8 into <paramref name="destination"/>
    /// (which needs <paramref name="raw"/>'s length: no escape decodes to more bytes than it is written with).
    /// </summary>
    /// <returns>The length of the decoded text.</returns>
    public static int Unescape(ReadOnlySpan<byte> raw, Span<byte> destination)
    {
        int written = 0;
        int i = 0;
        while (i < raw.Length)
        {
            int backslash = raw[i..].IndexOf((byte)'\\');
            int plain = backslash < 0 ? raw.Length - i : backslash;
            raw.Slice(i, plain).CopyTo(destination[written..]);
            written += plain;
            i += plain;
            if (i == raw.Length)
            {
                break;
            }

            byte kind = raw[i + 1];
            if (kind != (byte)'u')
            {
                destination[written++] = kind switch
                {
                    (byte)'b' => (byte)'\b',
                    (byte)'f' => (byte)'\f',
                    (byte)'n' => (byte)'\n',
                    (byte)'r' => (byte)'\r',
                    (byte)'t' => (byte)'\t',
                    _ => kind, // '"', '\\' and '/' stand for themselves
                };
                i += 2;
                continue;
            }

            int unit = Hex4(raw.Slice(i + 2, 4));
            i += 6;
            int scalar = unit;
            if (unit is >= 0xD800 and <= 0xDBFF)
            {
                // Validated: a high surrogate escape is always followed by a low one.
                int low = Hex4(raw.Slice(i + 2, 4));
                scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                i += 6;
            }

            written += new Rune(scalar).EncodeToUtf8(destination[written..]);
        }

        return written;
    }

    private bool TryLiteral(ReadOnlySpan<byte> literal)
    {
        if (!_json[_pos..].StartsWith(literal))
        {
            return false;
        }

        _pos += literal.Length;
        return true;
    }

    /// <summary>An RFC 8259 number: <c>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</c>.</summary>
    private FlatValue TryScanNumber(out ReadOnlySpan<byte> raw)
    {
        var json = _json;
        int start = _pos;
        int i = start;
        raw = default;
        if (json[i] == (byte)'-')
        {
            i++;
        }

        if (i == json.Length)
        {
            return FlatValue.Unsupported;
        }

        if (json[i] == (byte)'0')
        {
            i++;
        }
        else
        {
            int digits = i;
            i = SkipDigits(json, i);
            if (i == digits)
            {
                return FlatValue.Unsupported;
            }
        }

        if (i < json.Length && json[i] == (byte)'.')
        {
            int digits = ++i;
            i = SkipDigits(json, i);
            if (i == digits)
            {
                return FlatValue.Unsupported;
            }
        }

        if (i < json.Length && (json[i] | 0x20) == (byte)'e')
        {
            i++;
            if (i < json.Length && json[i] is (byte)'+' or (byte)'-')
            {
                i++;
            }

            int digits = i;
            i = SkipDigits(json, i);
            if (i == digits)
            {
                return FlatValue.Unsupported;
            }
        }

        raw = json[start..i];
        _pos = i;
        return FlatValue.Number;
    }

    private static int SkipDigits(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] - (uint)'0' <= 9)
        {
            i++;
        }

        return i;
    }

    /// <summary>With the scanner on an opening quote: validates the string and moves past its closing quote.</summary>
    private bool TryScanString(out ReadOnlySpan<byte> raw, out bool escaped)
    {
        raw = default;
        escaped = false;
        var json = _json;
        int start = _pos + 1;
        int i = start;
        while (true)
        {
            i = IndexOfStop(json, i, _plainLimit);
            if (i >= json.Length)
            {
                return false;
            }

            byte b = json[i];
            if (b == (byte)'"')
            {
                raw = json[start..i];
                _pos = i + 1;
                return true;
            }

            if (b == (byte)'\\')
            {
                if (!TrySkipEscape(json, ref i))
                {
                    return false;
                }

                escaped = true;
            }
            else if (b >= 0x80 && Utf8.IsValid(json))
            {
                // Validated once for the whole message: from here on only quotes, backslashes and controls stop a run.
                _plainLimit = 0xDF;
                i++;
            }
            else
            {
                // A control character, or invalid UTF-8.
                return false;
            }
        }
    }

    /// <summary>The first index at or after <paramref name="i"/> of a quote, a backslash or a byte above the limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexOfStop(ReadOnlySpan<byte> json, int i, byte plainLimit)
    {
        if (Vector128.IsHardwareAccelerated)
        {
            ref byte first = ref MemoryMarshal.GetReference(json);
            var quote = Vector128.Create((byte)'"');
            var backslash = Vector128.Create((byte)'\\');
            var space = Vector128.Create((byte)0x20);
            var limit = Vector128.Create(plainLimit);
            while (i <= json.Length - Vector128<byte>.Count)
            {
                var block = Vector128.LoadUnsafe(ref first, (nuint)i);
                var stops = Vector128.Equals(block, quote) | Vector128.Equals(block, backslash)
                    | Vector128.GreaterThan(block - space, limit);
                if (stops != Vector128<byte>.Zero)
                {
                    return i + BitOperations.TrailingZeroCount(stops.ExtractMostSignificantBits());
                }

                i += Vector128<byte>.Count;
            }
        }

        for (; i < json.Length; i++)
        {
            byte b = json[i];
            if (b == (byte)'"' || b == (byte)'\\' || (byte)(b - 0x20) > plainLimit)
            {
                break;
            }
        }

        return i;
    }

    /// <summary>Checks the escape at <paramref name="i"/> (a backslash) and moves past it; surrogate escapes must pair.</summary>
    private static bool TrySkipEscape(ReadOnlySpan<byte> json, ref int i)
    {
        if (i + 1 >= json.Length)
        {
            return false;
        }

        switch (json[i + 1])
        {
            case (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                i += 2;
                return true;
            case (byte)'u':
                break;
            default:
                return false;
        }

        if (i + 6 > json.Length || !TryHex4(json.Slice(i + 2, 4), out int unit))
        {
            return false;
        }

        i += 6;
        if (unit is >= 0xDC00 and <= 0xDFFF)
        {
            return false;
        }

        if (unit is >= 0xD800 and <= 0xDBFF)
        {
            if (i + 6 > json.Length || json[i] != (byte)'\\' || json[i + 1] != (byte)'u'
                || !TryHex4(json.Slice(i + 2, 4), out int low) || low is < 0xDC00 or > 0xDFFF)
            {
                return false;
            }

            i += 6;
        }

        return true;
    }

    private static bool TryHex4(ReadOnlySpan<byte> hex, out int value)
    {
        value = 0;
        foreach (byte b in hex)
        {
            int digit = HexDigit(b);
            if (digit < 0)
            {
                return false;
            }

            value = (value << 4) | digit;
        }

        return true;
    }

    private static int Hex4(ReadOnlySpan<byte> hex)
    {
        TryHex4(hex, out int value);
        return value;
    }

    private static int HexDigit(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>Skips white space and returns the byte after it, 0 at the end (never a valid token start).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte NextSignificant()
    {
        if (_pos < _json.Length)
        {
            byte b = _json[_pos];
            if (b > (byte)' ')
            {
                return b;
            }

            SkipWhiteSpace();
            if (_pos < _json.Length)
            {
                return _json[_pos];
            }
        }

        return 0;
    }

    private void SkipWhiteSpace()
    {
        while (_pos < _json.Length && _json[_pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
        {
            _pos++;
        }
    }
}
