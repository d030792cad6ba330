using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Core.Detection;
using Vigil.Core.Ml;
using Vigil.Server.Ml;
using Vigil.Storage;

namespace Vigil.Server.Tests;

/// <summary>serve's shared behaviour model: recorded after each refit, saved, and read back by the next start.</summary>
public sealed class BehaviorModelHostTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vigil-bmh-").FullName;

    private static BehaviorModel NewModel() => new(new BehaviorModelOptions
    {
        MinTrainingUsers = 10,
        TrainingMinLogins = 1,
        SampleUsers = 50,
        Trees = 20,
        RetrainInterval = TimeSpan.FromMinutes(5),
    }, 0.8);

    private MlOptions Options() => new() { ModelDirectory = Path.Combine(_directory, "models") };

    private static void Feed(BehaviorModel model, int users, long timeMs)
    {
        var row = new float[BehaviorModel.FeatureCount];
        for (var u = 0; u < users; u++)
        {
            row[0] = u % 7 * 0.1f;
            row[4] = u % 3 * 0.3f;
            model.Observe($"user-{u}", row, timeMs, logins: 12);
        }
    }

    [Fact]
    public async Task Refit_RecordedSavedAndReadBackAtTheNextStart()
    {
        var store = new SqliteVigilStore(Path.Combine(_directory, "vigil.db"));
        await store.MigrateAsync(CancellationToken.None);
        var insights = new InsightQueue();
        var model = NewModel();
        var host = new BehaviorModelHost(model, Options(), store, insights, TimeProvider.System, NullLogger<BehaviorModelHost>.Instance);
        await host.StartAsync(CancellationToken.None);

        Feed(model, 30, 1_000_000);
        Feed(model, 30, 1_000_000 + 600_000); // the second refit, ten minutes of event time later
        Assert.Equal(2, model.Version);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (host.Latest?.Version != 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        await host.StopAsync(CancellationToken.None);
        host.Dispose();

        Assert.Equal(ModelKinds.Behavior, host.Latest?.Kind);
        Assert.Equal(30, host.Latest!.SampleCount);
        Assert.InRange(host.Latest.Metrics["scoreP50"]!.Value, 0.0, 1.0);
        var rows = await store.RecentModelMetricsAsync(ModelKinds.Behavior, 10, CancellationToken.None);
        Assert.Equal([2, 1], rows.Select(r => r.Version).ToArray());
        var announced = new List<Insight>();
        while (insights.Reader.TryRead(out var insight))
        {
            announced.Add(insight);
        }
        Assert.Equal(2, announced.Count(i => i.Kind == InsightKinds.ModelTrained && Equals(i.Payload["model"], ModelKinds.Behavior)));
        Assert.True(File.Exists(host.FilePath));

        // The next start reads the sample and the forest back: same version, same scores, no relearning.
        var restarted = NewModel();
        var next = new BehaviorModelHost(restarted, Options(), store, new InsightQueue(), TimeProvider.System, NullLogger<BehaviorModelHost>.Instance);
        await next.StartAsync(CancellationToken.None);
        Assert.Equal(2, restarted.Version);
        Assert.Equal(30, restarted.SampleCount);
        Assert.Equal(2, next.Latest?.Version);
        var probe = new float[] { 3, 3, 3, 1, 1 };
        var attribution = new double[BehaviorModel.FeatureCount];
        Assert.Equal(model.Score(probe, attribution, out _, out _), restarted.Score(probe, attribution, out _, out _));
        await next.StopAsync(CancellationToken.None);
        next.Dispose();
    }

    [Fact]
    public async Task Start_CorruptFile_LearnsAgainInsteadOfFailing()
    {
        var store = new SqliteVigilStore(Path.Combine(_directory, "vigil.db"));
        await store.MigrateAsync(CancellationToken.None);
        Directory.CreateDirectory(Options().ModelDirectory);
        await File.WriteAllBytesAsync(Path.Combine(Options().ModelDirectory, BehaviorModelHost.FileName), [1, 2, 3]);
        var model = NewModel();
        var host = new BehaviorModelHost(model, Options(), store, new InsightQueue(), TimeProvider.System, NullLogger<BehaviorModelHost>.Instance);

        await host.StartAsync(CancellationToken.None);

        Assert.Equal(0, model.Version);
        Feed(model, 30, 1_000_000);
        Assert.Equal(1, model.Version);
        await host.StopAsync(CancellationToken.None);
        host.Dispose();
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
