using System.Globalization;
using System.Net;
using Vigil.Core.Geo;

namespace Vigil.Geo.Tests;

[Collection(GeoDataCollection.Name)]
public sealed class MmdbGeoLocatorTests(GeoData data)
{
    [Theory]
    [InlineData("81.2.69.142", "GB", "London")]
    [InlineData("8.8.8.8", "US", "Mountain View")]
    [InlineData("1.1.1.1", "AU", "Sydney")]
    [InlineData("2a00:1450:4001:80b::200e", "DE", "Frankfurt am Main")]
    [InlineData("2a03:2880:f12f:83:face:b00c:0:25de", "IE", "Dublin (Ballsbridge)")]
    public void TryLookup_WellKnownAddresses_GiveTheirCountryAndCity(string ip, string country, string city)
    {
        Assert.True(data.Cached.TryLookup(ip, out var location));

        Assert.Equal(country, location.CountryCode);
        Assert.Equal(city, location.City);
        Assert.Equal(MmdbGeoLocator.CityAccuracyRadiusKm, location.AccuracyRadiusKm);
        Assert.InRange(location.Latitude, -90, 90);
        Assert.InRange(location.Longitude, -180, 180);
    }

    [Fact]
    public void TryLookup_IPv6_UsesTheIPv6Database()
    {
        // The IPv4 tree would answer for the first 32 bits of an IPv6 address; the IPv6 file places it in Canada.
        Assert.True(data.Cached.TryLookup("2001:4860:4860::8888", out var location));

        Assert.Equal("CA", location.CountryCode);
        Assert.Equal(15169u, location.Asn);
        Assert.True(location.IsHosting);
    }

    [Fact]
    public void TryLookup_AddressWithItsNetwork_GivesAsnNameAndHosting()
    {
        Assert.True(data.Cached.TryLookup("81.2.69.142", out var home));
        Assert.True(data.Cached.TryLookup("8.8.8.8", out var google));

        Assert.Equal((20712u, "Andrews & Arnold Ltd", false), (home.Asn, home.Organization, home.IsHosting));
        Assert.Equal((15169u, "Google LLC", true), (google.Asn, google.Organization, google.IsHosting));
    }

    [Theory]
    [InlineData("::ffff:81.2.69.142", "81.2.69.142")]
    [InlineData("::ffff:808:808", "8.8.8.8")]
    public void TryLookup_IPv4MappedIPv6_IsTheIPv4Answer(string mapped, string ipv4)
    {
        Assert.True(data.Uncached.TryLookup(mapped, out var viaMapped));
        Assert.True(data.Uncached.TryLookup(ipv4, out var viaIPv4));

        Assert.Equal(viaIPv4, viaMapped);
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("127.0.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("172.16.0.1")]
    [InlineData("169.254.1.1")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    [InlineData("fc00::1")]
    [InlineData("::ffff:10.0.0.1")]
    public void TryLookup_PrivateOrReservedAddress_IsNotFound(string ip)
    {
        Assert.False(data.Cached.TryLookup(ip, out var location));
        Assert.Equal(default, location);

        // A second time comes from the cache, which must remember the miss as a miss.
        Assert.False(data.Cached.TryLookup(ip, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("garbage")]
    [InlineData("999.1.1.1")]
    [InlineData("1.2.3")]
    [InlineData("8.8.8.8:53")]
    [InlineData("[2001:4860:4860::8888]")]
    [InlineData("2001:4860:4860::8888%eth0")]
    [InlineData("\0\0\0\0")]
    [InlineData("😀.1.1.1")]
    public void TryLookup_GarbageText_IsNotFoundWithoutThrowing(string text)
    {
        Assert.False(data.Cached.TryLookup(text, out var location));
        Assert.Equal(default, location);
    }

    [Fact]
    public void TryLookup_NullString_IsNotFound()
    {
        string? missing = null;

        Assert.False(data.Cached.TryLookup(missing, out _));
    }

    [Fact]
    public void TryLookup_IPAddressOverload_AgreesWithText()
    {
        Assert.True(data.Uncached.TryLookup(IPAddress.Parse("81.2.69.142"), out var fromAddress));
        Assert.True(data.Uncached.TryLookup("81.2.69.142", out var fromText));
        Assert.True(data.Uncached.TryLookup(IPAddress.Parse("2a00:1450:4001:80b::200e"), out var v6Address));
        Assert.True(data.Uncached.TryLookup("2a00:1450:4001:80b::200e", out var v6Text));

        Assert.Equal(fromText, fromAddress);
        Assert.Equal(v6Text, v6Address);
    }

    [Fact]
    public async Task TryLookup_TextsAlikeInTurn_EachGetsItsOwnAnswer()
    {
        // The per-thread memo of the last lookup must match on the whole text: a prefix, a longer text, text of the
        // same length and an invalid text in between each get their own answer, from either locator.
        string[] texts = ["81.2.69.142", "81.2.69.14", "81.2.69.1420", "81.2.69.143", "not-an-ip", "81.2.69.142", "2a00:1450:4001:80b::200e", "81.2.69.142"];
        var expected = new (bool Found, GeoLocation Location)[texts.Length];
        for (var i = 0; i < texts.Length; i++)
        {
            // Each expected answer is computed on a pool thread, apart from this thread's sequence of lookups.
            var t = texts[i];
            expected[i] = await Task.Run(() => (data.Uncached.TryLookup(t, out var l), l));
        }
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < texts.Length; i++)
            {
                var locator = (i + round) % 2 == 0 ? data.Cached : data.Uncached;
                Assert.Equal(expected[i].Found, locator.TryLookup(texts[i], out var location));
                Assert.Equal(expected[i].Location, location);
            }
        }
        Assert.False(expected[2].Found);
        Assert.False(expected[4].Found);
    }

    [Fact]
    public void TryLookup_ThousandsOfRandomAddresses_CacheAgreesWithTheUncachedPath()
    {
        // A cache far smaller than the address set, so entries are evicted and refilled while being compared.
        using var small = MmdbGeoLocator.Open(data.Directory, cacheEntries: 256);
        var random = new Random(20260613);
        var addresses = new string[3000];
        var bytes = new byte[16];
        for (int i = 0; i < addresses.Length; i++)
        {
            random.NextBytes(bytes);
            if (i % 4 == 3)
            {
                // Global unicast IPv6 (2000::/3), where the database has data.
                bytes[0] = (byte)(0x20 | (bytes[0] & 0x0F));
                addresses[i] = new IPAddress(bytes).ToString();
            }
            else
            {
                addresses[i] = new IPAddress(bytes.AsSpan(0, 4)).ToString();
            }
        }

        int found = 0;
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < addresses.Length; i++)
            {
                // Revisit a recent address half the time, so hits are exercised as well as misses.
                string ip = random.Next(2) == 0 ? addresses[i] : addresses[random.Next(Math.Max(1, i - 100), i + 1)];
                bool expected = data.Uncached.TryLookup(ip, out var uncached);
                Assert.Equal(expected, small.TryLookup(ip, out var cached));
                Assert.Equal(uncached, cached);
                found += expected ? 1 : 0;
            }
        }

        // Most of the IPv4 space is placed somewhere; an all-misses run would prove nothing.
        Assert.True(found > addresses.Length, $"only {found} of {3 * addresses.Length} lookups found");
    }

    [Fact]
    public void TryLookup_ConcurrentCallers_AgreeWithTheUncachedPath()
    {
        using var shared = MmdbGeoLocator.Open(data.Directory, cacheEntries: 1024);
        string[] addresses = [.. Enumerable.Range(0, 2048).Select(i => $"81.{i % 256}.{i / 256}.{i % 7}")];
        var expected = new (bool, GeoLocation)[addresses.Length];
        for (int i = 0; i < addresses.Length; i++)
        {
            expected[i] = (data.Uncached.TryLookup(addresses[i], out var l), l);
        }

        int mismatches = 0;
        Parallel.For(0, 4, worker =>
        {
            var random = new Random(worker);
            for (int n = 0; n < 20_000; n++)
            {
                int i = random.Next(addresses.Length);
                if ((shared.TryLookup(addresses[i], out var l), l) != expected[i])
                {
                    Interlocked.Increment(ref mismatches);
                }
            }
        });

        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void TryLookup_SimulatorCityPrefixes_ResolveToTheirCityOnAnAccessNetwork()
    {
        // The simulator hands out these /24s as its users' home addresses; the geo rules must place them in their
        // city (within the accuracy radius, so a user at home never "travels") on a network that is not hosting.
        var seed = GeoSeed.Load(data.RepositoryRoot);
        var cities = seed.Cities.ToDictionary(c => c.Id);
        Assert.True(seed.Prefixes.Count >= 400, $"the seed has {seed.Prefixes.Count} prefixes");
        var failures = new List<string>();
        foreach (var prefix in seed.Prefixes)
        {
            var city = cities[prefix.CityId];
            foreach (int host in new[] { 1, 128, 254 })
            {
                string ip = GeoSeed.Address(prefix.Cidr, host);
                if (!data.Cached.TryLookup(ip, out var location))
                {
                    failures.Add($"{ip} ({city.Name}): not found");
                    continue;
                }

                double km = GeoMath.DistanceKm(location.Latitude, location.Longitude, city.Latitude, city.Longitude);
                if (location.CountryCode != city.CountryCode || km > location.AccuracyRadiusKm || location.IsHosting
                    || (host == 1 && location.Asn != prefix.Asn))
                {
                    failures.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{ip} ({city.Name}, {city.CountryCode}, AS{prefix.Asn}): {location.City}, {location.CountryCode}, {km:0.0} km, AS{location.Asn}, hosting {location.IsHosting}"));
                }
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void TryLookup_SimulatorHostingPrefixes_AreHostingWhereTheSeedSays()
    {
        var seed = GeoSeed.Load(data.RepositoryRoot);
        Assert.True(seed.Hosting.Count >= 50, $"the seed has {seed.Hosting.Count} hosting prefixes");
        var failures = new List<string>();
        foreach (var row in seed.Hosting)
        {
            string ip = GeoSeed.Address(row.Cidr, 10);
            if (!data.Cached.TryLookup(ip, out var location))
            {
                failures.Add($"{ip}: not found");
                continue;
            }

            double km = GeoMath.DistanceKm(location.Latitude, location.Longitude, row.Latitude, row.Longitude);
            if (!location.IsHosting || location.Asn != row.Asn || location.CountryCode != row.CountryCode
                || location.City != row.City || km > 1)
            {
                failures.Add($"{ip} (AS{row.Asn} {row.City}): {location}");
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void Open_MissingDirectory_ThrowsNamingTheFileAndTheFetchCommand()
    {
        string nowhere = Path.Combine(Path.GetTempPath(), "vigil-no-geo-" + Guid.NewGuid().ToString("N"));

        var e = Assert.Throws<GeoDatabaseMissingException>(() => MmdbGeoLocator.Open(nowhere));

        Assert.Contains(Path.Combine(nowhere, MmdbGeoLocator.CityIPv4File), e.Message, StringComparison.Ordinal);
        Assert.Contains("./scripts/fetch-geo.sh", e.Message, StringComparison.Ordinal);
        Assert.Equal(4, e.MissingFiles.Count);
        Assert.Equal(nowhere, e.Directory);
    }

    [Fact]
    public void Open_OneFileMissing_NamesOnlyThatFile()
    {
        var dir = Directory.CreateTempSubdirectory("vigil-geo-partial-");
        try
        {
            foreach (string file in new[] { MmdbGeoLocator.CityIPv4File, MmdbGeoLocator.CityIPv6File, MmdbGeoLocator.AsnIPv4File })
            {
                File.CreateSymbolicLink(Path.Combine(dir.FullName, file), Path.Combine(data.Directory, file));
            }

            var e = Assert.Throws<GeoDatabaseMissingException>(() => MmdbGeoLocator.Open(dir.FullName));

            Assert.Equal([Path.Combine(dir.FullName, MmdbGeoLocator.AsnIPv6File)], e.MissingFiles);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Open_RealData_ReportsTheBuildAndCache()
    {
        Assert.Equal(2026, data.Cached.DatabaseBuildDate.Year);
        Assert.Equal(MmdbGeoLocator.DefaultCacheEntries, data.Cached.CacheCapacity);
        Assert.Equal(0, data.Uncached.CacheCapacity);
    }
}
