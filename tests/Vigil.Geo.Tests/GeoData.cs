using Vigil.Geo;

namespace Vigil.Geo.Tests;

/// <summary>
/// The real geolocation data, opened once for the test run. scripts/test.sh fetches it first; run on its own, the
/// tests need <c>./scripts/fetch-geo.sh</c> once.
/// </summary>
public sealed class GeoData : IDisposable
{
    public GeoData()
    {
        Directory = GeoDirectory.Resolve();
        RepositoryRoot = GeoDirectory.FindRepositoryRoot(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException("Vigil.slnx not found above " + AppContext.BaseDirectory);
        try
        {
            Cached = MmdbGeoLocator.Open(Directory);
            Uncached = MmdbGeoLocator.Open(Directory, cacheEntries: 0);
        }
        catch (GeoDatabaseMissingException e)
        {
            throw new InvalidOperationException(
                $"The geo tests need the real database: run ./scripts/fetch-geo.sh from the repository root first ({e.Message})", e);
        }
    }

    public string Directory { get; }

    public string RepositoryRoot { get; }

    public MmdbGeoLocator Cached { get; }

    public MmdbGeoLocator Uncached { get; }

    public void Dispose()
    {
        Cached.Dispose();
        Uncached.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class GeoDataCollection : ICollectionFixture<GeoData>
{
    public const string Name = "geo data";
}
