using System.Globalization;

namespace Vigil.Geo.Tests;

/// <summary>
/// The simulator's committed geo seed (src/Vigil.Simulator/Data/geo-seed.csv), read as plain text: the contract
/// between the addresses the simulator hands out and what the geo rules will make of them.
/// </summary>
internal sealed class GeoSeed
{
    private GeoSeed(List<SeedCity> cities, List<SeedPrefix> prefixes, List<SeedHosting> hosting)
    {
        Cities = cities;
        Prefixes = prefixes;
        Hosting = hosting;
    }

    public IReadOnlyList<SeedCity> Cities { get; }

    public IReadOnlyList<SeedPrefix> Prefixes { get; }

    public IReadOnlyList<SeedHosting> Hosting { get; }

    public static GeoSeed Load(string repositoryRoot)
    {
        var cities = new List<SeedCity>();
        var prefixes = new List<SeedPrefix>();
        var hosting = new List<SeedHosting>();
        foreach (string line in File.ReadLines(Path.Combine(repositoryRoot, "src", "Vigil.Simulator", "Data", "geo-seed.csv")))
        {
            string[] f = line.Split(',');
            switch (f[0])
            {
                case "city":
                    cities.Add(new SeedCity(int.Parse(f[1], CultureInfo.InvariantCulture), f[2], f[3], D(f[4]), D(f[5])));
                    break;
                case "prefix":
                    prefixes.Add(new SeedPrefix(int.Parse(f[1], CultureInfo.InvariantCulture), f[2], uint.Parse(f[3], CultureInfo.InvariantCulture), f[4]));
                    break;
                case "hosting":
                    hosting.Add(new SeedHosting(f[1], uint.Parse(f[2], CultureInfo.InvariantCulture), f[3], f[4], f[5], D(f[6]), D(f[7])));
                    break;
            }
        }

        return new GeoSeed(cities, prefixes, hosting);
    }

    /// <summary>An address inside a /24 given as CIDR text, at host number <paramref name="host"/>.</summary>
    public static string Address(string cidr, int host)
    {
        string network = cidr[..cidr.IndexOf('/', StringComparison.Ordinal)];
        return string.Concat(network.AsSpan(0, network.LastIndexOf('.') + 1), host.ToString(CultureInfo.InvariantCulture));
    }

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
}

internal sealed record SeedCity(int Id, string Name, string CountryCode, double Latitude, double Longitude);

internal sealed record SeedPrefix(int CityId, string Cidr, uint Asn, string Organization);

internal sealed record SeedHosting(string Cidr, uint Asn, string Organization, string CountryCode, string City, double Latitude, double Longitude);
