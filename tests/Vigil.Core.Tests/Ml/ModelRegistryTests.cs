using Vigil.Core.Features;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class ModelRegistryTests
{
    private static (SegmentModel, AnomalyModel) Pair(int version)
    {
        var rows = TestData.Gaussian(64, UserFeatures.Count, (ulong)version);
        var scaler = MlTestModels.Identity();
        var forest = IsolationForest.Fit(rows, UserFeatures.Count, new IsolationForestOptions { Trees = 5, SampleSize = 32, Seed = (ulong)version });
        return (MlTestModels.TwoSegments(version, version % 2 == 0), new AnomalyModel(version, scaler, forest));
    }

    private static ModelInfo Info(string kind, int version) =>
        new(kind, version, DateTimeOffset.UnixEpoch, 64, 1, new Dictionary<string, double>(), new Dictionary<string, double?>());

    [Fact]
    public void Current_BeforePublish_IsEmpty()
    {
        Assert.Same(ModelSet.Empty, new ModelRegistry().Current);
    }

    [Fact]
    public async Task Publish_ConcurrentReaders_AlwaysSeeAMatchingPairNeverATornOne()
    {
        var registry = new ModelRegistry();
        var (s0, a0) = Pair(1);
        registry.Publish(s0, Info(ModelKinds.KMeans, 1), a0, Info(ModelKinds.IsolationForest, 1));
        using var stop = new CancellationTokenSource();
        var torn = 0;
        var reads = 0L;
        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var set = registry.Current;
                // Both models of a set are published together with the same version: a mix would be torn.
                if (set.Segments!.Version != set.Anomaly!.Version || set.SegmentsInfo!.Version != set.Segments.Version)
                {
                    Interlocked.Increment(ref torn);
                }
                Interlocked.Increment(ref reads);
            }
        })).ToArray();

        for (var v = 2; v <= 300 || Interlocked.Read(ref reads) < 10_000; v++)
        {
            var (s, a) = Pair(v);
            registry.Publish(s, Info(ModelKinds.KMeans, v), a, Info(ModelKinds.IsolationForest, v));
        }
        stop.Cancel();
        await Task.WhenAll(readers);

        Assert.Equal(0, torn);
        Assert.True(reads > 0);
        Assert.True(registry.Current.Segments!.Version >= 300);
        Assert.Equal(2 * registry.Current.Segments.Version, registry.History().Count);
    }

    [Fact]
    public void Publish_OnlyOneModel_KeepsTheOtherInService()
    {
        var registry = new ModelRegistry();
        var (s1, a1) = Pair(1);
        registry.Publish(s1, Info(ModelKinds.KMeans, 1), a1, Info(ModelKinds.IsolationForest, 1));
        var (s2, _) = Pair(2);

        var set = registry.Publish(s2, Info(ModelKinds.KMeans, 2), null, null);

        Assert.Same(s2, set.Segments);
        Assert.Same(a1, set.Anomaly);
        Assert.Equal(1, set.AnomalyInfo!.Version);
    }

    [Fact]
    public void NextVersion_AfterPublishingALoadedVersion_IsHigher()
    {
        var registry = new ModelRegistry();
        var (s, a) = Pair(41);
        registry.Publish(s, Info(ModelKinds.KMeans, 41), a, Info(ModelKinds.IsolationForest, 41));

        Assert.Equal(42, registry.NextVersion());
    }
}
