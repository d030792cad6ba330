namespace Vigil.Geo.Tests;

public sealed class AsnTableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vigil-asn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Find_AddressesInsideAndBetweenRanges_GivesTheirAsOrNull()
    {
        var table = Load(
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n",
            "2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n");

        Assert.Equal(new AsnInfo(13335, "Cloudflare, Inc.", true), table.Find(Key("1.0.0.0")));
        Assert.Equal(13335u, table.Find(Key("1.0.0.255"))?.Asn);
        Assert.Null(table.Find(Key("1.0.1.0")));
        Assert.Equal(38803u, table.Find(Key("1.0.5.9"))?.Asn);
        Assert.False(table.Find(Key("1.0.5.9"))!.IsHosting);
        Assert.Null(table.Find(Key("0.255.255.255")));
        Assert.Null(table.Find(Key("9.9.9.9")));
        Assert.Equal("WIDE Project", table.Find(Key("2001:200:1::5"))?.Organization);
        Assert.Null(table.Find(Key("2001:200:1ba::")));
    }

    [Fact]
    public void Load_QuotedNameWithDoubledQuotes_IsUnescaped()
    {
        var table = Load("2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"\n", "");

        Assert.Equal("LLC \"SPUTNIK\"", table.Find(Key("2.26.201.1"))?.Organization);
    }

    [Fact]
    public void Load_RangesOutOfOrder_AreSortedForSearch()
    {
        var table = Load("9.0.0.0,9.0.0.255,3,C\n1.0.0.0,1.0.0.255,1,A\n5.0.0.0,5.0.0.255,2,B\n", "");

        Assert.Equal(1u, table.Find(Key("1.0.0.9"))?.Asn);
        Assert.Equal(2u, table.Find(Key("5.0.0.9"))?.Asn);
        Assert.Equal(3u, table.Find(Key("9.0.0.9"))?.Asn);
    }

    [Theory]
    [InlineData("1.0.0.0,1.0.0.255,AS13335,x\n")]
    [InlineData("1.0.0.0,1.0.0,13335,x\n")]
    [InlineData("1.0.0.255,1.0.0.0,13335,x\n")]
    [InlineData("::1,::2,5,x\n")]
    [InlineData("just one field\n")]
    public void Load_MalformedLine_ThrowsNamingTheLine(string ipv4Csv)
    {
        var e = Assert.Throws<InvalidDataException>(() => Load(ipv4Csv, ""));

        Assert.Contains("v4.csv:1:", e.Message, StringComparison.Ordinal);
    }

    private AsnTable Load(string ipv4Csv, string ipv6Csv)
    {
        string v4 = Path.Combine(_dir, "v4.csv");
        string v6 = Path.Combine(_dir, "v6.csv");
        File.WriteAllText(v4, ipv4Csv);
        File.WriteAllText(v6, ipv6Csv);
        return AsnTable.Load(v4, v6);
    }

    private static UInt128 Key(string text)
    {
        Assert.True(IpKey.TryParse(text, out var key));
        return key;
    }
}
