using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Vigil.Core.Detection;

/// <summary>
/// Country codes as small numbers, for per-user state: a two-letter upper-case code packs into its letters
/// (1..676); anything else a locator returns is interned process-wide above that range. Codes are not stable across
/// processes, so checkpoints write the strings.
/// </summary>
public static class CountryCodes
{
    private const int Letters = 26 * 26;
    private const int MaxInterned = ushort.MaxValue - Letters - 1;
    private static readonly string[] LetterCodes = BuildLetterCodes();
    private static readonly ConcurrentDictionary<string, ushort> Interned = new(StringComparer.Ordinal);
    private static readonly Lock InternLock = new();
    private static string[] _internedNames = new string[16];

    /// <summary>The number of <paramref name="country"/>; 0 when it cannot get one (the intern table is full).</summary>
    public static ushort Pack(string country)
    {
        ArgumentNullException.ThrowIfNull(country);
        if (country.Length == 2 && char.IsAsciiLetterUpper(country[0]) && char.IsAsciiLetterUpper(country[1]))
        {
            return (ushort)(1 + ((country[0] - 'A') * 26) + (country[1] - 'A'));
        }
        if (Interned.TryGetValue(country, out var code))
        {
            return code;
        }
        lock (InternLock)
        {
            if (Interned.TryGetValue(country, out code))
            {
                return code;
            }
            if (Interned.Count >= MaxInterned)
            {
                return 0;
            }
            var index = Interned.Count;
            if (index == _internedNames.Length)
            {
                var bigger = new string[index * 2];
                Array.Copy(_internedNames, bigger, index);
                Volatile.Write(ref _internedNames, bigger);
            }
            _internedNames[index] = country;
            code = (ushort)(Letters + 1 + index);
            Interned[country] = code;
            return code;
        }
    }

    /// <summary>The country of a number <see cref="Pack"/> gave (the same string instance for two-letter codes).</summary>
    public static string Unpack(ushort code)
    {
        if (code is >= 1 and <= Letters)
        {
            return LetterCodes[code - 1];
        }
        return code > Letters ? Volatile.Read(ref _internedNames)[code - Letters - 1] : string.Empty;
    }

    private static string[] BuildLetterCodes()
    {
        var codes = new string[Letters];
        for (var i = 0; i < Letters; i++)
        {
            codes[i] = string.Intern(new string([(char)('A' + (i / 26)), (char)('A' + (i % 26))]));
        }
        return codes;
    }
}

/// <summary>
/// An IP address as per-user state keeps it: a canonical dotted IPv4 address as its 32 bits (no string held), any
/// other text as the string itself. <see cref="ToString"/> gives back exactly the text it was made from.
/// </summary>
public readonly struct CompactIp : IEquatable<CompactIp>
{
    private readonly string? _text;
    private readonly uint _v4;

    private CompactIp(string? text, uint v4)
    {
        _text = text;
        _v4 = v4;
    }

    /// <summary>No address.</summary>
    public bool IsNone => _text is null && _v4 == 0;

    public static CompactIp From(string? ip)
    {
        if (ip is null)
        {
            return default;
        }
        // 0.0.0.0 packs to the "none" value, so it keeps its text.
        return Events.IpText.TryPackDottedQuad(ip, out var v4) && v4 != 0 ? new CompactIp(null, v4) : new CompactIp(ip, 0);
    }

    /// <summary>The address as characters: the kept text, or a packed IPv4 address written into
    /// <paramref name="scratch"/> (16 characters are enough); empty for none. Allocates nothing.</summary>
    public ReadOnlySpan<char> AsSpan(Span<char> scratch)
    {
        if (_text is not null)
        {
            return _text;
        }
        if (_v4 == 0)
        {
            return [];
        }
        var written = 0;
        for (var shift = 24; shift >= 0; shift -= 8)
        {
            if (shift != 24)
            {
                scratch[written++] = '.';
            }
            ((_v4 >> shift) & 255).TryFormat(scratch[written..], out var n, default, System.Globalization.CultureInfo.InvariantCulture);
            written += n;
        }
        return scratch[..written];
    }

    /// <summary>The address text (a new string for a packed IPv4 address); null for none.</summary>
    public override string? ToString() =>
        _text ?? (_v4 == 0 ? null : $"{_v4 >> 24}.{(_v4 >> 16) & 255}.{(_v4 >> 8) & 255}.{_v4 & 255}");

    public bool Equals(CompactIp other) => _v4 == other._v4 && string.Equals(_text, other._text, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is CompactIp other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_v4, _text);

    public static bool operator ==(CompactIp left, CompactIp right) => left.Equals(right);

    public static bool operator !=(CompactIp left, CompactIp right) => !left.Equals(right);
}
