namespace Vigil.Core.Geo;

/// <summary>Where an IP address is, and whose network it belongs to.</summary>
/// <param name="City">The city name as the database spells it (for example "Frankfurt am Main"), null when the database knows only the country.</param>
/// <param name="Region">The first-level subdivision (state, province, region), when known.</param>
/// <param name="CountryCode">ISO 3166-1 alpha-2 country code, upper case.</param>
/// <param name="Latitude">Degrees north, WGS 84.</param>
/// <param name="Longitude">Degrees east, WGS 84.</param>
/// <param name="TimeZone">IANA time zone, when the database has one (DB-IP Lite leaves it empty, so it is null there).</param>
/// <param name="AccuracyRadiusKm">
/// How far the true position may be from (<paramref name="Latitude"/>, <paramref name="Longitude"/>): travel between
/// two locations closer than their radii is not evidence of travel. Databases without a radius (DB-IP Lite) get a
/// documented default from the locator.
/// </param>
/// <param name="Asn">The autonomous system announcing the address; 0 when unknown.</param>
/// <param name="Organization">The network's name as registered for <paramref name="Asn"/> (for example "Amazon.com, Inc."), when known.</param>
/// <param name="IsHosting">
/// True for cloud, hosting, VPN and proxy networks: their addresses say little about where the person is, so the
/// travel and country rules downgrade what they see from them.
/// </param>
public readonly record struct GeoLocation(
    string? City,
    string? Region,
    string CountryCode,
    double Latitude,
    double Longitude,
    string? TimeZone,
    int AccuracyRadiusKm,
    uint Asn,
    string? Organization,
    bool IsHosting)
{
    /// <summary>Great-circle distance to <paramref name="other"/> in kilometres.</summary>
    public double DistanceKmTo(in GeoLocation other) => GeoMath.DistanceKm(Latitude, Longitude, other.Latitude, other.Longitude);
}
