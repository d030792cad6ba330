using Vigil.Core.Features;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class BehaviorScorerTests
{
    private static ModelRegistry Registry()
    {
        var d = UserFeatures.Count;
        var rows = TestData.Gaussian(512, d, 11);
        var scaler = FeatureScaler.Fit(rows, UserFeatures.Names);
        var scaled = new float[rows.Length];
        scaler.TransformRows(rows, scaled);
        var forest = IsolationForest.Fit(scaled, d, new IsolationForestOptions { Seed = 3 });
        var registry = new ModelRegistry();
        registry.Publish(null, null, new AnomalyModel(1, scaler, forest), null);
        return registry;
    }

    // Fifteen Gaussian features dilute one point's oddity (most splits cut features where it is ordinary): 0.5 is high here.
    private static readonly UserFeature[] s_extreme =
        [UserFeature.FailedLoginRatio, UserFeature.DistinctIps, UserFeature.DistinctCountries, UserFeature.AccountChanges];

    private static float[] Outlier()
    {
        var raw = new float[UserFeatures.Count];
        foreach (var f in s_extreme)
        {
            raw[(int)f] = 30;
        }
        return raw;
    }

    [Fact]
    public void Score_OutlierInFourFeatures_IsAnomalyAttributedToThem()
    {
        var scorer = new BehaviorScorer(Registry(), new BehaviorScorerOptions { MinLogins = 10, Threshold = 0.5 });
        var attribution = new double[UserFeatures.Count];

        var result = scorer.Score(Outlier(), logins: 12, attribution);

        Assert.True(result.IsAnomaly, $"score {result.Score} attribution {string.Join(",", attribution)}");
        Assert.True(result.LearningComplete);
        Assert.Equal(1, result.ModelVersion);
        Assert.Equal(1.0, attribution.Sum(), 6);
        var top = scorer.Explain(Outlier(), attribution, 4);
        Assert.Equal(s_extreme.Select(f => f.Name()).Order(), top.Select(c => c.Feature).Order());
        Assert.All(top, c => Assert.Equal(30, c.Value));
        Assert.True(top[0].Share > 0.15, $"top share {top[0].Share}");
    }

    [Fact]
    public void Score_BeforeLearningMinimum_ScoresButIsNoAnomaly()
    {
        var scorer = new BehaviorScorer(Registry(), new BehaviorScorerOptions { MinLogins = 10, Threshold = 0.5 });

        var result = scorer.Score(Outlier(), logins: 9, new double[UserFeatures.Count]);

        Assert.True(result.HasScore);
        Assert.False(result.LearningComplete);
        Assert.False(result.IsAnomaly);
    }

    [Fact]
    public void Score_NoModel_NoScoreNoAnomaly()
    {
        var scorer = new BehaviorScorer(new ModelRegistry());

        var result = scorer.Score(Outlier(), logins: 50, new double[UserFeatures.Count]);

        Assert.False(result.HasScore);
        Assert.False(result.IsAnomaly);
    }

    [Fact]
    public void AnomalyModel_SaveLoad_ScoresTheSame()
    {
        var model = Registry().Current.Anomaly!;
        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;

        var loaded = AnomalyModel.Load(stream);

        var scaled = new float[UserFeatures.Count];
        model.Scaler.Transform(Outlier(), scaled);
        var loadedScaled = new float[UserFeatures.Count];
        loaded.Scaler.Transform(Outlier(), loadedScaled);
        Assert.Equal(model.Forest.Score(scaled), loaded.Forest.Score(loadedScaled));
        Assert.Equal(1, loaded.Version);
    }
}
