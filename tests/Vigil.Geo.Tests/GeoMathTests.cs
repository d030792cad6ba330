using Vigil.Core.Geo;

namespace Vigil.Geo.Tests;

public sealed class GeoMathTests
{
    [Fact]
    public void DistanceKm_LondonToNewYork_IsAbout5570Km()
    {
        double km = GeoMath.DistanceKm(51.5074, -0.1278, 40.7128, -74.0060);

        Assert.InRange(km, 5570 * 0.99, 5570 * 1.01);
    }

    [Fact]
    public void DistanceKm_SydneyToTokyo_MatchesTheKnownDistance()
    {
        // 7,820 km by the usual great-circle calculators.
        double km = GeoMath.DistanceKm(-33.8688, 151.2093, 35.6762, 139.6503);

        Assert.InRange(km, 7820 * 0.99, 7820 * 1.01);
    }

    [Fact]
    public void DistanceKm_SamePoint_IsZero()
    {
        Assert.Equal(0, GeoMath.DistanceKm(48.8566, 2.3522, 48.8566, 2.3522), precision: 9);
    }

    [Fact]
    public void DistanceKm_PointsAHairApart_AreNotTakenForTheSamePoint()
    {
        // The same point is answered without the formula; anything else, however close, goes through it.
        double km = GeoMath.DistanceKm(48.8566, 2.3522, 48.8566, 2.3522 + 1e-6);

        Assert.InRange(km, 0.00005, 0.0001);
    }

    [Fact]
    public void DistanceKm_IsSymmetric()
    {
        double there = GeoMath.DistanceKm(19.4326, -99.1332, -34.6037, -58.3821);
        double back = GeoMath.DistanceKm(-34.6037, -58.3821, 19.4326, -99.1332);

        Assert.Equal(there, back, precision: 9);
    }

    [Fact]
    public void DistanceKm_AcrossTheAntimeridian_TakesTheShortWay()
    {
        // One degree of longitude on the equator, across 180°, not 359 degrees the long way round.
        double km = GeoMath.DistanceKm(0, 179.5, 0, -179.5);

        Assert.InRange(km, 111.0, 111.4);
    }

    [Fact]
    public void DistanceKm_AntipodalPoints_IsHalfTheCircumference()
    {
        double km = GeoMath.DistanceKm(0, 0, 0, 180);

        Assert.Equal(Math.PI * GeoMath.EarthRadiusKm, km, precision: 6);
        Assert.False(double.IsNaN(GeoMath.DistanceKm(45, 10, -45, -170)));
    }

    [Fact]
    public void DistanceKm_ShortHop_IsAccurate()
    {
        // 0.001° of latitude is 111 m anywhere; haversine keeps that, where the law of cosines loses it to rounding.
        double km = GeoMath.DistanceKm(51.5, -0.12, 51.501, -0.12);

        Assert.InRange(km, 0.110, 0.113);
    }

    [Theory]
    [InlineData(900, 3_600_000, 900)]
    [InlineData(5570, 7 * 3_600_000L, 795.714)]
    [InlineData(100, 0, double.PositiveInfinity)]
    [InlineData(100, -5, double.PositiveInfinity)]
    [InlineData(0, 0, 0)]
    public void SpeedKmPerHour_GivesDistanceOverTime(double km, long elapsedMs, double expected)
    {
        Assert.Equal(expected, GeoMath.SpeedKmPerHour(km, elapsedMs), precision: 3);
    }

    [Fact]
    public void DistanceKmTo_OnLocations_UsesTheirCoordinates()
    {
        var london = new GeoLocation("London", null, "GB", 51.5074, -0.1278, null, 50, 0, null, false);
        var newYork = london with { City = "New York", CountryCode = "US", Latitude = 40.7128, Longitude = -74.0060 };

        Assert.Equal(GeoMath.DistanceKm(51.5074, -0.1278, 40.7128, -74.0060), london.DistanceKmTo(newYork), precision: 9);
    }
}
