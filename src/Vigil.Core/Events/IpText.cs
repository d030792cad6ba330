using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vigil.Core.Events;

/// <summary>Strict IP address text validation and normalisation.</summary>
/// <remarks>
/// <see cref="IPAddress.TryParse(ReadOnlySpan{char}, out IPAddress?)"/> alone is too lenient for event data: it takes
/// "1" and "1.2.3" as IPv4 (inet_aton shorthand), reads "010.0.0.1" as octal, and accepts brackets, ports and zone
/// ids on IPv6. Rule keys must not depend on such accidents, so only a full dotted quad or plain IPv6 text passes.
/// </remarks>
internal static class IpText
{
    private const int MaxIpv6Chars = 45;

    /// <summary>
    /// Validates <paramref name="utf8"/> and returns its canonical text: the dotted quad as given, or RFC 5952
    /// compressed IPv6; an IPv4-mapped IPv6 address (<c>::ffff:1.2.3.4</c>) becomes its IPv4 address, so one client
    /// has one key whether it came in over a dual-stack socket or not.
    /// </summary>
    public static bool TryNormalize(ReadOnlySpan<byte> utf8, out string? canonical)
    {
        canonical = null;
        if (utf8.IndexOf((byte)':') < 0)
        {
            if (!IsDottedQuad(utf8))
            {
                return false;
            }

            // Without leading zeros the strict form is already canonical.
            canonical = Encoding.ASCII.GetString(utf8);
            return true;
        }

        if (utf8.Length > MaxIpv6Chars)
        {
            return false;
        }

        int lastColon = utf8.LastIndexOf((byte)':');
        foreach (byte b in utf8)
        {
            if (!(char.IsAsciiHexDigit((char)b) || b == (byte)':' || b == (byte)'.'))
            {
                return false;
            }
        }

        int firstDot = utf8.IndexOf((byte)'.');
        if (firstDot >= 0 && (firstDot < lastColon || !IsDottedQuad(utf8[(lastColon + 1)..])))
        {
            return false;
        }

        Span<char> chars = stackalloc char[MaxIpv6Chars];
        for (int k = 0; k < utf8.Length; k++)
        {
            chars[k] = (char)utf8[k];
        }

        if (!IPAddress.TryParse(chars[..utf8.Length], out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        canonical = address.IsIPv4MappedToIPv6 ? address.MapToIPv4().ToString() : address.ToString();
        return true;
    }

    /// <summary>Four decimal parts 0–255 without leading zeros, separated by dots.</summary>
    internal static bool IsDottedQuad(ReadOnlySpan<byte> text)
    {
        int parts = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            int value = 0;
            while (i < text.Length && text[i] - (uint)'0' <= 9 && i - start < 3)
            {
                value = (value * 10) + (text[i] - '0');
                i++;
            }

            int length = i - start;
            if (length == 0 || value > 255 || (length > 1 && text[start] == (byte)'0'))
            {
                return false;
            }

            parts++;
            if (i == text.Length)
            {
                return parts == 4;
            }

            if (text[i] != (byte)'.' || parts == 4)
            {
                return false;
            }

            i++;
        }
    }

    /// <summary>
    /// Four decimal octets 0–255 without leading zeros, and nothing else, as one 32-bit number: the form that prints
    /// back identically, so a packed address can stand for its text (key tables, rule states).
    /// </summary>
    internal static bool TryPackDottedQuad(string ip, out uint value)
    {
        value = 0;
        var i = 0;
        for (var octets = 0; octets < 4; octets++)
        {
            if (octets > 0)
            {
                if (i >= ip.Length || ip[i] != '.')
                {
                    return false;
                }
                i++;
            }
            var start = i;
            uint octet = 0;
            while (i < ip.Length && char.IsAsciiDigit(ip[i]) && i - start < 3)
            {
                octet = (octet * 10) + (uint)(ip[i] - '0');
                i++;
            }
            var digits = i - start;
            if (digits == 0 || octet > 255 || (digits > 1 && ip[start] == '0'))
            {
                return false;
            }
            value = (value << 8) | octet;
        }
        return i == ip.Length;
    }
}
