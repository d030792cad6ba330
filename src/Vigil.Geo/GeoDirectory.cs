namespace Vigil.Geo;

/// <summary>Where the geolocation data lives, by the same convention as <c>scripts/fetch-geo.sh</c>.</summary>
public static class GeoDirectory
{
    /// <summary>The environment variable that overrides the data directory, for the fetch script and Vigil alike.</summary>
    public const string EnvironmentVariable = "VIGIL_GEO_DIR";

    /// <summary>The default directory, relative to the repository root (git ignores <c>/data/</c>).</summary>
    public const string DefaultRelativePath = "data/geo";

    private const string RootMarker = "Vigil.slnx";

    /// <summary>
    /// Resolves the data directory: <paramref name="configured"/> when given, else <see cref="EnvironmentVariable"/>,
    /// else <see cref="DefaultRelativePath"/> under the repository root found by walking up from the application's base
    /// directory and then from the working directory to the folder holding <c>Vigil.slnx</c>, else
    /// <see cref="DefaultRelativePath"/> under the working directory. The result is absolute; it may not exist.
    /// </summary>
    public static string Resolve(string? configured = null)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }

        string? root = FindRepositoryRoot(AppContext.BaseDirectory) ?? FindRepositoryRoot(Environment.CurrentDirectory);
        return Path.GetFullPath(Path.Combine(root ?? Environment.CurrentDirectory, DefaultRelativePath));
    }

    /// <summary>The nearest folder at or above <paramref name="start"/> that holds <c>Vigil.slnx</c>, or null.</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, RootMarker)))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
