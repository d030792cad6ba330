namespace Vigil.Server.Tests;

/// <summary>
/// One <c>vigil serve</c> on embedded defaults (embedded broker, the simulator, SQLite in a temporary directory),
/// shared by the tests of <see cref="ServeTests"/> as a new user would run it.
/// </summary>
public sealed class ServeFixture : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vigil-serve-").FullName;

    public VigilProcess Process { get; private set; } = null!;

    public const string AnalystKey = "analyst-key-0123456789abcdef";
    public const string ViewerKey = "viewer-key-0123456789abcdef";
    public const string AdminKey = "admin-key-0123456789abcdef";

    /// <summary>Anonymous: on loopback it may read, not write.</summary>
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public HttpClient Analyst { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public HttpClient Viewer { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public HttpClient Admin { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public string BaseUrl { get; private set; } = "";

    /// <summary>Users of bursts the tests asked for, so a test can tell the built-in simulator's alerts from theirs.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, bool> GeneratedUsers { get; } = new(StringComparer.Ordinal);

    public string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>The working directory serve runs in (its content root).</summary>
    public string WorkingDirectory => _directory;

    public async Task InitializeAsync()
    {
        var port = VigilProcess.FreePort();
        BaseUrl = $"http://127.0.0.1:{port}";
        foreach (var (client, key) in new[] { (Http, (string?)null), (Analyst, AnalystKey), (Viewer, ViewerKey), (Admin, AdminKey) })
        {
            client.BaseAddress = new Uri(BaseUrl);
            if (key is not null)
            {
                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            }
        }
        Process = VigilProcess.Start(_directory, new Dictionary<string, string>
        {
            // Attacks a little more often than the default, so the tests see several within their time.
            ["Vigil__Simulator__AttackInterval"] = "20s",
            ["VIGIL_API_KEYS"] = $"ana:analyst:{AnalystKey};vic:viewer:{ViewerKey};root:admin:{AdminKey}",
        }, "serve", "--urls", BaseUrl);
        await Process.WaitForHttpAsync(Http, "/api/health", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await Process.DisposeAsync();
        Http.Dispose();
        Analyst.Dispose();
        Viewer.Dispose();
        Admin.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One running service shared by every class in the collection, so the suite starts it once.</summary>
[CollectionDefinition(Name)]
public sealed class ServeCollection : ICollectionFixture<ServeFixture>
{
    public const string Name = "serve";
}
