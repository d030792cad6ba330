namespace Vigil.Geo;

/// <summary>
/// Parses IP address text into one 128-bit key without allocating: IPv6 as its 128 bits, IPv4 as its IPv4-mapped
/// IPv6 form (::ffff:a.b.c.d), so both families share one cache and an address arriving either way has one key.
/// </summary>
/// <remarks>
/// As strict as the event decoder (Vigil.Core's IpText): IPv4 is exactly four decimal parts 0–255 without leading
/// zeros (no inet_aton shorthand, no octal); IPv6 is hexadecimal groups with at most one "::" and an optional
/// dotted-quad tail, with no zone id, brackets or port. <see cref="System.Net.IPAddress.TryParse(string?, out System.Net.IPAddress?)"/>
/// would accept more and allocate an object per call.
/// </remarks>
internal static class IpKey
{
    private const ulong MappedPrefix = 0xFFFF_0000_0000UL;
    private const int MaxIpv6Chars = 45;

    /// <summary>Parses dotted-quad IPv4 or IPv6 text.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out UInt128 key)
    {
        if (text.IndexOf(':') < 0)
        {
            if (TryParseIPv4(text, out uint v4))
            {
                key = FromIPv4(v4);
                return true;
            }

            key = default;
            return false;
        }

        return TryParseIPv6(text, out key);
    }

    /// <summary>The key of an IPv4 address (host order).</summary>
    public static UInt128 FromIPv4(uint address) => new(0, MappedPrefix | address);

    /// <summary>Whether the key is an IPv4 address (an IPv4-mapped IPv6 address).</summary>
    public static bool IsIPv4(UInt128 key) => (ulong)(key >> 64) == 0 && ((ulong)key & 0xFFFF_FFFF_0000_0000UL) == MappedPrefix;

    /// <summary>The IPv4 address (host order) of an IPv4 key.</summary>
    public static uint ToIPv4(UInt128 key) => (uint)key;

    /// <summary>Writes the address in network order: 4 bytes for IPv4 keys, 16 otherwise; returns the count.</summary>
    public static int WriteBytes(UInt128 key, Span<byte> destination)
    {
        if (IsIPv4(key))
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(destination, ToIPv4(key));
            return 4;
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(destination, key);
        return 16;
    }

    /// <summary>Four decimal parts 0–255 without leading zeros; the result is in host order.</summary>
    public static bool TryParseIPv4(ReadOnlySpan<char> text, out uint address)
    {
        address = 0;
        int parts = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            uint value = 0;
            while (i < text.Length && i - start < 3 && char.IsAsciiDigit(text[i]))
            {
                value = (value * 10) + (uint)(text[i] - '0');
                i++;
            }

            int length = i - start;
            if (length == 0 || value > 255 || (length > 1 && text[start] == '0'))
            {
                address = 0;
                return false;
            }

            address = (address << 8) | value;
            parts++;
            if (i == text.Length)
            {
                if (parts == 4)
                {
                    return true;
                }

                address = 0;
                return false;
            }

            if (text[i] != '.' || parts == 4)
            {
                address = 0;
                return false;
            }

            i++;
        }
    }

    private static bool TryParseIPv6(ReadOnlySpan<char> text, out UInt128 key)
    {
        key = default;
        if (text.Length < 2 || text.Length > MaxIpv6Chars)
        {
            return false;
        }

        Span<ushort> groups = stackalloc ushort[8];
        int count = 0;
        int gap = -1;
        int i = 0;
        if (text[0] == ':')
        {
            if (text[1] != ':')
            {
                return false;
            }

            gap = 0;
            i = 2;
        }

        while (i < text.Length)
        {
            int start = i;
            uint value = 0;
            while (i < text.Length && i - start < 4 && char.IsAsciiHexDigit(text[i]))
            {
                value = (value << 4) | (uint)HexValue(text[i]);
                i++;
            }

            if (i < text.Length && text[i] == '.')
            {
                // A dotted-quad tail takes the last two groups.
                if (count > 6 || !TryParseIPv4(text[start..], out uint v4))
                {
                    return false;
                }

                groups[count++] = (ushort)(v4 >> 16);
                groups[count++] = (ushort)v4;
                i = text.Length;
                break;
            }

            if (i == start || count == 8)
            {
                return false;
            }

            groups[count++] = (ushort)value;
            if (i == text.Length)
            {
                break;
            }

            if (text[i] != ':')
            {
                return false;
            }

            i++;
            if (i < text.Length && text[i] == ':')
            {
                if (gap >= 0)
                {
                    return false;
                }

                gap = count;
                i++;
            }
            else if (i == text.Length)
            {
                // A single trailing colon.
                return false;
            }
        }

        // "::" stands for at least one zero group.
        if (gap < 0 ? count != 8 : count > 7)
        {
            return false;
        }

        UInt128 result = 0;
        int zeros = 8 - count;
        int g = 0;
        for (int k = 0; k < 8; k++)
        {
            ushort part;
            if (gap >= 0 && k >= gap && k < gap + zeros)
            {
                part = 0;
            }
            else
            {
                part = groups[g++];
            }

            result = (result << 16) | part;
        }

        key = result;
        return true;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
