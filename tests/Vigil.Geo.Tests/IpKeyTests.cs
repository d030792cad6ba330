using System.Net;

namespace Vigil.Geo.Tests;

public sealed class IpKeyTests
{
    [Theory]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("1.2.3.4", 0x01020304u)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    [InlineData("81.2.69.142", 0x5102458Eu)]
    public void TryParse_DottedQuad_GivesTheIPv4Key(string text, uint expected)
    {
        Assert.True(IpKey.TryParse(text, out var key));
        Assert.True(IpKey.IsIPv4(key));
        Assert.Equal(expected, IpKey.ToIPv4(key));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("1.2.3.256")]
    [InlineData("01.2.3.4")]
    [InlineData("1.2.3.04")]
    [InlineData("1..3.4")]
    [InlineData("1.2.3.4.")]
    [InlineData(".1.2.3.4")]
    [InlineData(" 1.2.3.4")]
    [InlineData("1.2.3.4 ")]
    [InlineData("16909060")]
    [InlineData("1.2.3.1234")]
    [InlineData("a.b.c.d")]
    [InlineData("not an ip")]
    [InlineData("::g")]
    [InlineData(":::")]
    [InlineData("1::2::3")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("1:2:3:4:5:6:7")]
    [InlineData("1:2:3:4:5:6:7:8::")]
    [InlineData("12345::")]
    [InlineData(":1::")]
    [InlineData("1::2:")]
    [InlineData("::ffff:1.2.3")]
    [InlineData("::ffff:1.2.3.4:5")]
    [InlineData("1:2:3:4:5:6:7:1.2.3.4")]
    [InlineData("fe80::1%eth0")]
    [InlineData("[::1]")]
    [InlineData("::1.2.3.04")]
    public void TryParse_NotAStrictAddress_IsRejected(string text)
    {
        Assert.False(IpKey.TryParse(text, out _));
    }

    [Theory]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("1::")]
    [InlineData("2001:db8::8a2e:370:7334")]
    [InlineData("2001:0db8:0000:0000:0000:8a2e:0370:7334")]
    [InlineData("FE80::ABCD")]
    [InlineData("1:2:3:4:5:6:7:8")]
    [InlineData("1:2:3:4:5:6::8")]
    [InlineData("1::3:4:5:6:7:8")]
    [InlineData("::2:3:4:5:6:7:8")]
    [InlineData("1:2:3:4:5:6:7::")]
    [InlineData("64:ff9b::192.0.2.33")]
    [InlineData("1:2:3:4:5:6:1.2.3.4")]
    [InlineData("::1.2.3.4")]
    public void TryParse_IPv6Forms_AgreeWithIPAddress(string text)
    {
        Assert.True(IpKey.TryParse(text, out var key));
        Assert.Equal(Bytes(IPAddress.Parse(text)), KeyBytes(key));
        Assert.False(IpKey.IsIPv4(key));
    }

    [Theory]
    [InlineData("::ffff:81.2.69.142", "81.2.69.142")]
    [InlineData("::FFFF:5102:458e", "81.2.69.142")]
    [InlineData("0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4")]
    public void TryParse_IPv4MappedIPv6_IsTheIPv4Key(string mapped, string ipv4)
    {
        Assert.True(IpKey.TryParse(mapped, out var fromMapped));
        Assert.True(IpKey.TryParse(ipv4, out var fromIPv4));

        Assert.Equal(fromIPv4, fromMapped);
        Assert.True(IpKey.IsIPv4(fromMapped));
    }

    [Fact]
    public void TryParse_RandomAddressesInEveryTextForm_AgreeWithIPAddress()
    {
        var random = new Random(20260605);
        var bytes = new byte[16];
        for (int i = 0; i < 5000; i++)
        {
            random.NextBytes(bytes);

            // Runs of zero groups, so "::" appears in varied places.
            for (int g = 0; g < 8; g++)
            {
                if (random.Next(3) == 0)
                {
                    bytes[2 * g] = 0;
                    bytes[(2 * g) + 1] = 0;
                }
            }

            var v6 = new IPAddress(bytes);
            if (v6.IsIPv4MappedToIPv6)
            {
                continue;
            }

            string compressed = v6.ToString();
            string full = string.Join(':', Enumerable.Range(0, 8).Select(g => ((bytes[2 * g] << 8) | bytes[(2 * g) + 1]).ToString("X4", null)));
            foreach (string text in new[] { compressed, full })
            {
                Assert.True(IpKey.TryParse(text, out var key), text);
                Assert.Equal(bytes, KeyBytes(key));
            }

            var v4 = new IPAddress(bytes.AsSpan(0, 4));
            Assert.True(IpKey.TryParse(v4.ToString(), out var v4Key), v4.ToString());
            Assert.Equal(bytes[..4], KeyBytes(v4Key));
        }
    }

    private static byte[] Bytes(IPAddress address) => address.GetAddressBytes();

    private static byte[] KeyBytes(UInt128 key)
    {
        var buffer = new byte[16];
        int length = IpKey.WriteBytes(key, buffer);
        return buffer[..length];
    }
}
