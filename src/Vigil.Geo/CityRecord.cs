using MaxMind.Db;

namespace Vigil.Geo;

/// <summary>
/// One record of the DB-IP Lite city database as published by ip-location-db ("city ipv4" / "city ipv6" MMDB):
/// a flat map { city, country_code, latitude, longitude, state1, state2, postcode, timezone }.
/// </summary>
/// <remarks>
/// MaxMind.GeoIP2's typed City() refuses these databases (their type is not a GeoIP2 one), so they are decoded through
/// MaxMind.Db's constructor mapping; its source generator makes the activation reflection-free. Only the keys Vigil uses
/// are mapped: the decoder skips the others (state2, postcode).
/// </remarks>
internal sealed class CityRecord
{
    [Constructor]
    public CityRecord(
        [MapKey("city")] string? city,
        [MapKey("country_code")] string? countryCode,
        [MapKey("latitude")] float latitude,
        [MapKey("longitude")] float longitude,
        [MapKey("state1")] string? region,
        [MapKey("timezone")] string? timeZone)
    {
        City = city;
        CountryCode = countryCode;
        Latitude = latitude;
        Longitude = longitude;
        Region = region;
        TimeZone = timeZone;
    }

    public string? City { get; }

    public string? CountryCode { get; }

    public float Latitude { get; }

    public float Longitude { get; }

    public string? Region { get; }

    public string? TimeZone { get; }
}
