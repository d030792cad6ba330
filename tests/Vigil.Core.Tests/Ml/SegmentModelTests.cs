using Vigil.Core.Features;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class SegmentModelTests
{
    private static float[] Centroids(params (UserFeature Feature, float Value)[][] segments)
    {
        var d = UserFeatures.Count;
        var c = new float[segments.Length * d];
        for (var s = 0; s < segments.Length; s++)
        {
            foreach (var (feature, value) in segments[s])
            {
                c[(s * d) + (int)feature] = value;
            }
        }
        return c;
    }

    [Fact]
    public void Assign_CentroidsStandingOutInOneFeature_GetThatArchetypesName()
    {
        var centroids = Centroids(
            [(UserFeature.SearchesPerSession, 2.0f)],
            [(UserFeature.NightShare, 1.5f)],
            [(UserFeature.DistinctCountries, 3.0f), (UserFeature.DistinctIps, 2.0f)],
            [(UserFeature.FailedLoginRatio, 2.5f)],
            [(UserFeature.Events, -1.2f)]);

        var names = SegmentNames.Assign(centroids, 5).Select(SegmentNames.FromCode).ToArray();

        Assert.Equal(["heavy searchers", "night owls", "frequent travellers", "failed-login prone", "casual users"], names);
    }

    [Fact]
    public void Assign_TwoCentroidsWantTheSameName_StrongerWinsOtherTakesItsNextBest()
    {
        var centroids = Centroids(
            [(UserFeature.NightShare, 1.5f), (UserFeature.SearchesPerSession, 1.2f)],
            [(UserFeature.NightShare, 2.0f)]);

        var names = SegmentNames.Assign(centroids, 2).Select(SegmentNames.FromCode).ToArray();

        Assert.Equal(["heavy searchers", "night owls"], names);
    }

    [Fact]
    public void Assign_ManyIpsButNoGeo_IsFrequentTravellers()
    {
        var centroids = Centroids([(UserFeature.DistinctIps, 2.0f)], [(UserFeature.Events, -0.2f)]);

        var names = SegmentNames.Assign(centroids, 2).Select(SegmentNames.FromCode).ToArray();

        Assert.Equal(["frequent travellers", "casual users"], names);
    }

    [Fact]
    public void Assign_NothingStandsOut_CasualThenNumberedFallbacks_AllUnique()
    {
        var centroids = Centroids([(UserFeature.Events, 0.1f)], [(UserFeature.Events, 0.9f)], [(UserFeature.Events, 0.05f)]);

        var names = SegmentNames.Assign(centroids, 3).Select(SegmentNames.FromCode).ToArray();

        Assert.Equal(["segment 1", "segment 2", "casual users"], names);
    }

    [Fact]
    public void Assign_SameCentroids_SameNamesEveryTime()
    {
        var rng = new Xoshiro256(7);
        var centroids = new float[8 * UserFeatures.Count];
        for (var i = 0; i < centroids.Length; i++)
        {
            centroids[i] = (float)((rng.NextDouble() * 4) - 2);
        }

        var a = SegmentNames.Assign(centroids, 8);
        var b = SegmentNames.Assign(centroids, 8);

        Assert.Equal(a, b);
        Assert.Equal(8, a.Distinct().Count());
    }

    [Fact]
    public void SaveLoad_RoundTrip_AssignsAndNamesTheSame()
    {
        var rows = TestData.Gaussian(300, UserFeatures.Count, 3);
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = Math.Abs(rows[i]) * 5;
        }
        var log = Enumerable.Range(0, UserFeatures.Count).Select(f => UserFeatures.IsLogScaled((UserFeature)f)).ToArray();
        var scaler = FeatureScaler.Fit(rows, UserFeatures.Names, log);
        var centroids = Centroids([(UserFeature.NightShare, 1.5f)], [(UserFeature.Events, -1f)], [(UserFeature.DistinctIps, 2f)]);
        var model = new SegmentModel(42, scaler, centroids, 3);

        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;
        var loaded = SegmentModel.Load(stream);

        Assert.Equal(42, loaded.Version);
        Assert.Equal(model.Names, loaded.Names);
        Assert.Equal(model.Centroids.ToArray(), loaded.Centroids.ToArray());
        for (var r = 0; r < 300; r++)
        {
            var row = rows.AsSpan(r * UserFeatures.Count, UserFeatures.Count);
            Assert.Equal(model.Assign(row), loaded.Assign(row));
        }
        Assert.Equal(model.CentroidInOriginalUnits(0, (int)UserFeature.Events), loaded.CentroidInOriginalUnits(0, (int)UserFeature.Events));
    }

    [Fact]
    public void Load_Garbage_ThrowsInvalidData()
    {
        using var stream = new MemoryStream([1, 2, 3, 4, 5, 6, 7, 8, 9]);

        Assert.Throws<InvalidDataException>(() => SegmentModel.Load(stream));
    }

    [Fact]
    public void Load_Truncated_ThrowsInvalidData()
    {
        var model = MlTestModels.TwoSegments(1, true);
        using var full = new MemoryStream();
        model.Save(full);
        using var truncated = new MemoryStream(full.ToArray()[..(int)(full.Length / 2)]);

        Assert.Throws<InvalidDataException>(() => SegmentModel.Load(truncated));
    }
}
