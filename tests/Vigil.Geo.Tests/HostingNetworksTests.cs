namespace Vigil.Geo.Tests;

public sealed class HostingNetworksTests
{
    [Theory]
    [InlineData(16509u, "Amazon.com, Inc.")]
    [InlineData(396982u, "Google LLC")]
    [InlineData(8075u, "Microsoft Corporation")]
    [InlineData(14061u, "DigitalOcean, LLC")]
    [InlineData(16276u, "OVH SAS")]
    [InlineData(24940u, "Hetzner Online GmbH")]
    [InlineData(63949u, "Akamai Technologies, Inc.")]
    [InlineData(20473u, "The Constant Company, LLC")]
    [InlineData(9009u, "M247 Europe SRL")]
    [InlineData(51167u, "Contabo GmbH")]
    [InlineData(60781u, "LeaseWeb Netherlands B.V.")]
    [InlineData(212238u, "Datacamp Limited")]
    [InlineData(136787u, "PacketHub S.A.")]
    [InlineData(39351u, "31173 Services AB")]
    [InlineData(209103u, "Proton AG")]
    public void IsHosting_CuratedNetworks_AreHosting(uint asn, string organization)
    {
        Assert.True(HostingNetworks.IsHostingAsn(asn));
        Assert.True(HostingNetworks.IsHosting(asn, organization));
    }

    [Theory]
    [InlineData("PureVoltage Hosting Inc.")]
    [InlineData("HOSTKEY B.V.")]
    [InlineData("LLC Vpsville")]
    [InlineData("Bikupa Datacenter AB")]
    [InlineData("Modern Server Solutions LLP")]
    [InlineData("Mega Colocation, Inc.")]
    [InlineData("Genesis Cloud Limited")]
    [InlineData("Mondoze Data Centre")]
    public void IsHosting_HostingWordsInTheName_AreHosting(string organization)
    {
        Assert.True(HostingNetworks.IsHosting(4_200_000_000, organization));
    }

    [Theory]
    [InlineData(16591u, "Google Fiber Inc.")]
    [InlineData(7922u, "Comcast Cable Communications, LLC")]
    [InlineData(3320u, "Deutsche Telekom AG")]
    [InlineData(27831u, "Colombia Movil")]
    [InlineData(1u, "Ghostly Networks")]
    [InlineData(2u, "")]
    public void IsHosting_AccessNetworks_AreNotHosting(uint asn, string organization)
    {
        Assert.False(HostingNetworks.IsHosting(asn, organization));
    }
}
