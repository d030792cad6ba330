namespace Vigil.Geo.Tests;

public sealed class GeoDirectoryTests
{
    [Fact]
    public void Resolve_ConfiguredPath_WinsAndIsMadeAbsolute()
    {
        string resolved = GeoDirectory.Resolve("some/relative/geo");

        Assert.True(Path.IsPathRooted(resolved));
        Assert.EndsWith(Path.Combine("some", "relative", "geo"), resolved, StringComparison.Ordinal);
    }

    [Fact]
    public void FindRepositoryRoot_FromTheTestBinaries_FindsTheFolderWithVigilSlnx()
    {
        string? root = GeoDirectory.FindRepositoryRoot(AppContext.BaseDirectory);

        Assert.NotNull(root);
        Assert.True(File.Exists(Path.Combine(root, "Vigil.slnx")));
        Assert.Null(GeoDirectory.FindRepositoryRoot(Path.GetTempPath()));
    }
}
