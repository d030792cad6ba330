namespace Vigil.Core.Geo;

/// <summary>Distances and speeds on the Earth's surface.</summary>
public static class GeoMath
{
    /// <summary>The mean Earth radius (IUGG), in kilometres.</summary>
    public const double EarthRadiusKm = 6371.0088;

    private const double DegreesToRadians = Math.PI / 180.0;

    /// <summary>Great-circle distance in kilometres between two points given in degrees, by the haversine formula.</summary>
    /// <remarks>
    /// A sphere is off by at most about 0.5 % against the ellipsoid, far below the error of IP geolocation. Haversine
    /// (rather than the spherical law of cosines) stays accurate for the short hops that matter most when deciding
    /// whether a jump is within a database's accuracy radius.
    /// </remarks>
    public static double DistanceKm(double latitude1, double longitude1, double latitude2, double longitude2)
    {
        if (latitude1 == latitude2 && longitude1 == longitude2)
        {
            // The same point (a user logging in again from the same place, the usual case): the formula below gives
            // exactly 0 there too, so this only saves its four trigonometric calls.
            return 0;
        }
        double dLat = (latitude2 - latitude1) * DegreesToRadians;
        double dLon = (longitude2 - longitude1) * DegreesToRadians;
        double sinLat = Math.Sin(dLat / 2);
        double sinLon = Math.Sin(dLon / 2);
        double h = (sinLat * sinLat)
            + (Math.Cos(latitude1 * DegreesToRadians) * Math.Cos(latitude2 * DegreesToRadians) * sinLon * sinLon);

        // Rounding can push h a hair above 1 for antipodal points, where Asin would return NaN.
        return 2 * EarthRadiusKm * Math.Asin(Math.Sqrt(Math.Min(1.0, h)));
    }

    /// <summary>
    /// The speed in km/h needed to cover <paramref name="distanceKm"/> in <paramref name="elapsedMs"/> milliseconds;
    /// positive infinity when no time passed (or time ran backwards) but some distance was covered, 0 when neither.
    /// </summary>
    public static double SpeedKmPerHour(double distanceKm, long elapsedMs)
    {
        if (elapsedMs <= 0)
        {
            return distanceKm > 0 ? double.PositiveInfinity : 0;
        }

        return distanceKm * 3_600_000.0 / elapsedMs;
    }
}
