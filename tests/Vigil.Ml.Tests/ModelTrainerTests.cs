using Vigil.Core.Features;
using Vigil.Core.Ml;

namespace Vigil.Ml.Tests;

public sealed class ModelTrainerTests
{
    private static readonly TrainerSettings s_settings = new()
    {
        KMeans = new KMeansSettings { K = 4, Restarts = 2 },
        Forest = new IsolationForestOptions { Trees = 50, Seed = 2 },
        MinUsers = 20,
    };

    [Fact]
    public void Train_FourBehaviours_SegmentsNamedAfterThemWithGoodSilhouette()
    {
        var sample = SyntheticUsers.Make(100);
        var registry = new ModelRegistry();

        var result = ModelTrainer.Train(sample, s_settings, registry, TimeProvider.System);

        Assert.True(result.Trained, result.SkippedBecause);
        var segments = result.Segments!;
        Assert.Equal(["casual users", "frequent travellers", "heavy searchers", "night owls"], segments.Names.Order());
        // Every user of a group lands in the segment named after the group.
        string[] expected = ["casual users", "night owls", "heavy searchers", "frequent travellers"];
        for (var r = 0; r < sample.Count; r++)
        {
            var group = sample.UserIds[r][1] - '0';
            var segment = segments.Assign(sample.Rows.AsSpan(r * UserFeatures.Count, UserFeatures.Count));
            Assert.Equal(expected[group], segments.Names[segment]);
        }
        Assert.True(result.SegmentsInfo!.Metrics["silhouette"] > 0.5, $"silhouette {result.SegmentsInfo.Metrics["silhouette"]}");
        Assert.True(result.SegmentsInfo.Metrics["inertia"] > 0);
        Assert.Equal(400, result.SegmentsInfo.SampleCount);
        Assert.Equal(4, result.SegmentsInfo.Parameters["k"]);
        Assert.Equal(ModelKinds.KMeans, result.SegmentsInfo.Kind);
        Assert.NotEqual(result.SegmentsInfo.Version, result.AnomalyInfo!.Version);
        Assert.Null(result.AnomalyInfo.Metrics["auc"]);
    }

    [Fact]
    public void Train_WithLabelledOutliers_ForestRanksThemHigh()
    {
        var normal = SyntheticUsers.Make(150);
        var ids = normal.UserIds.ToList();
        var rows = normal.Rows.ToList();
        var outliers = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            var v = new float[UserFeatures.Count];
            normal.Rows.AsSpan(0, UserFeatures.Count).CopyTo(v);
            v[(int)UserFeature.FailedLoginRatio] = 0.9f;
            v[(int)UserFeature.DistinctIps] = 40;
            v[(int)UserFeature.AccountChanges] = 6;
            v[(int)UserFeature.NightShare] = 0.5f;
            ids.Add($"x-{i}");
            rows.AddRange(v);
            outliers.Add($"x-{i}");
        }

        var result = ModelTrainer.Train(new FeatureSample(ids, [.. rows]), s_settings, new ModelRegistry(), TimeProvider.System, outliers);

        Assert.True(result.AnomalyInfo!.Metrics["auc"] > 0.95, $"auc {result.AnomalyInfo.Metrics["auc"]}");
        Assert.True(result.AnomalyInfo.Metrics["scoreP99"] >= result.AnomalyInfo.Metrics["scoreP50"]);
    }

    [Fact]
    public void Train_TooFewUsers_IsSkippedWithAReason()
    {
        var result = ModelTrainer.Train(SyntheticUsers.Make(2), s_settings, new ModelRegistry(), TimeProvider.System);

        Assert.False(result.Trained);
        Assert.Contains("8 users", result.SkippedBecause, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelDirectory_SaveLoad_RoundTripsModelsAndRecords()
    {
        var registry = new ModelRegistry();
        var sample = SyntheticUsers.Make(40);
        var dir = Path.Combine(Path.GetTempPath(), "vigil-models-" + Guid.NewGuid().ToString("N"));
        try
        {
            var directory = new ModelDirectory(dir, keep: 2);
            TrainingResult? last = null;
            for (var i = 0; i < 3; i++)
            {
                last = ModelTrainer.Train(sample, s_settings, registry, TimeProvider.System);
                directory.Save(last.Segments!, last.SegmentsInfo!, last.Anomaly!, last.AnomalyInfo!);
            }

            var loaded = directory.Load();

            Assert.NotNull(loaded);
            Assert.Equal(last!.Segments!.Version, loaded.Segments!.Version);
            Assert.Equal(last.Segments.Names, loaded.Segments.Names);
            Assert.Equal(last.SegmentsInfo, loaded.SegmentsInfo! with { Parameters = last.SegmentsInfo!.Parameters, Metrics = last.SegmentsInfo.Metrics });
            Assert.Equal(last.SegmentsInfo.Metrics["inertia"], loaded.SegmentsInfo!.Metrics["inertia"]);
            Assert.Equal(last.AnomalyInfo!.Parameters["trees"], loaded.AnomalyInfo!.Parameters["trees"]);
            var scaled = new float[UserFeatures.Count];
            last.Anomaly!.Scaler.Transform(sample.Rows.AsSpan(0, UserFeatures.Count), scaled);
            Assert.Equal(last.Anomaly.Forest.Score(scaled), loaded.Anomaly!.Forest.Score(scaled));
            // Two versions of each kind are kept.
            Assert.Equal(2, Directory.GetFiles(dir, "kmeans-v*.bin").Length);
            Assert.Equal(2, Directory.GetFiles(dir, "iforest-v*.bin").Length);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ModelDirectory_Empty_LoadsNothing()
    {
        Assert.Null(new ModelDirectory(Path.Combine(Path.GetTempPath(), "vigil-none-" + Guid.NewGuid().ToString("N"))).Load());
    }
}
