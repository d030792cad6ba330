using System.Collections.Frozen;

namespace Vigil.Geo;

/// <summary>
/// Tells hosting, cloud, VPN and proxy networks from access networks (households, phones, offices), from an
/// autonomous system's number and registered name.
/// </summary>
/// <remarks>
/// <para>
/// Two tests, either of which suffices. First, a curated list of AS numbers: the networks of the large clouds and
/// hosters (Amazon, Google, Microsoft Azure, Oracle, Alibaba, Tencent, DigitalOcean, OVH, Hetzner, Linode/Akamai,
/// Vultr/Choopa, Contabo, Leaseweb, Scaleway, IONOS, Hostinger, netcup and smaller dedicated-server hosts), the
/// networks commercial VPNs rent egress from (M247, Datacamp/CDN77, PacketHub — NordVPN's —, Mullvad's 31173
/// Services AB, Proton AG, Zenlayer, xTom, IPXO), the relays of iCloud Private Relay (Akamai AS36183, Cloudflare,
/// Fastly) and cloud security proxies (Zscaler). The numbers are the providers' registered autonomous systems (as
/// published in the regional Internet registries' whois and PeeringDB); each was checked against the organisation
/// name the pinned <c>@ip-location-db/asn</c> table (2.3.2026061719: RouteViews, RIR and DB-IP ASN Lite data) gives
/// it. The simulator draws its hosting prefixes (tools/geo-extract) from twelve of these networks.
/// </para>
/// <para>
/// Second, words in the organisation name that hosters use of themselves ("hosting", "host…", "server", "VPS",
/// "VPN", "cloud", "datacenter", "colocation", "dedicated", "proxy"), matched at the start of a word so that
/// "Ghost" or "Colombia" do not count. In the pinned table about 1,700 of 81,000 organisation names (2 %) match;
/// none of the access networks the simulator places its users on do (a test holds that).
/// </para>
/// <para>
/// The classification only downgrades what the geo rules make of an address (Panther's impossible-travel rule does the
/// same for VPN and hosting networks): a miss costs a louder alert, not a lost one.
/// </para>
/// </remarks>
public static class HostingNetworks
{
    private static readonly FrozenSet<uint> s_asns = FrozenSet.Create<uint>(
    [
        // Amazon (AWS), Google (including Google Cloud), Microsoft (Azure), Oracle Cloud.
        16509, 14618, 8987, 15169, 19527, 396982, 8075, 8068, 8069, 31898,
        // Alibaba Cloud, Tencent Cloud.
        45102, 37963, 132203, 45090,
        // DigitalOcean, OVHcloud, Hetzner, Linode (Akamai Connected Cloud), Vultr (The Constant Company, ex Choopa).
        14061, 16276, 24940, 213230, 212317, 63949, 20473,
        // Contabo, Leaseweb (NL, DE, network, US, SG, CA), Scaleway, IONOS, Hostinger, netcup, Host Europe.
        51167, 60781, 28753, 16265, 30633, 59253, 32613, 12876, 8560, 47583, 197540, 8972,
        // M247, Datacamp/CDN77, PacketHub (NordVPN), 31173 Services AB (Mullvad), Proton AG, IPXO.
        9009, 212238, 60068, 136787, 147049, 207137, 141039, 39351, 209103, 834,
        // Cloudflare (WARP, Private Relay), Akamai's Private Relay network, Fastly, Zscaler.
        13335, 36183, 54113, 22616, 53813,
        // Dedicated-server and VPS hosts commonly rented for VPN egress and attack infrastructure.
        21859, 40676, 8100, 36352, 54290, 11878, 63023, 53667, 36007, 62240, 262287, 396356, 46562, 23470, 199524,
        43350, 49981, 202425, 200019, 62005, 18450, 42473, 50673, 3214, 57169, 210644, 200651, 206264, 35916, 55286,
        3223,
    ]);

    private static readonly string[] s_words =
    [
        "host", "server", "vps", "vpn", "cloud", "datacenter", "data center", "data centre", "colocation",
        "dedicated", "proxy",
    ];

    /// <summary>Whether <paramref name="asn"/> is on the curated list of hosting, cloud and VPN networks.</summary>
    public static bool IsHostingAsn(uint asn) => s_asns.Contains(asn);

    /// <summary>Whether the network <paramref name="asn"/> named <paramref name="organization"/> is a hosting, cloud, VPN or proxy network.</summary>
    public static bool IsHosting(uint asn, ReadOnlySpan<char> organization) => IsHostingAsn(asn) || HasHostingWord(organization);

    /// <summary>Whether <paramref name="organization"/> has, at the start of a word, a word hosters use of themselves.</summary>
    public static bool HasHostingWord(ReadOnlySpan<char> organization)
    {
        foreach (string word in s_words)
        {
            int from = 0;
            while (from < organization.Length)
            {
                int at = organization[from..].IndexOf(word, StringComparison.OrdinalIgnoreCase);
                if (at < 0)
                {
                    break;
                }

                at += from;
                if (at == 0 || !char.IsLetter(organization[at - 1]))
                {
                    return true;
                }

                from = at + 1;
            }
        }

        return false;
    }
}
