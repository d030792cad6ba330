namespace Vigil.Server.Tests;

/// <summary>
/// One <c>vigil serve</c> on embedded defaults (embedded broker, the simulator, SQLite in a temporary directory),
/// shared by the tests of <see cref="ServeTests"/> as a new user would run it.
/// </summary>
public sealed class ServeFixture : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vigil-serve-").FullName;

    public VigilProcess Process { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public string BaseUrl { get; private set; } = "";

    public string DataDirectory => Path.Combine(_directory, "data");

    public async Task InitializeAsync()
    {
        var port = VigilProcess.FreePort();
        BaseUrl = $"http://127.0.0.1:{port}";
        Http.BaseAddress = new Uri(BaseUrl);
        Process = VigilProcess.Start(_directory, new Dictionary<string, string>
        {
            // Attacks a little more often than the default, so the tests see several within their time.
            ["Vigil__Simulator__AttackInterval"] = "20s",
        }, "serve", "--urls", BaseUrl);
        await Process.WaitForHttpAsync(Http, "/api/health", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await Process.DisposeAsync();
        Http.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
