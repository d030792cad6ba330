using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class IsolationForestTests
{
    private const int Features = 4;

    private static float[] WithOutlier(out int outlierRow)
    {
        // 256 rows, so every tree's sample holds the outlier (with more rows, as in scikit-learn, a one-feature
        // outlier among four is in a quarter of the samples and scores only about 0.57).
        var data = TestData.Gaussian(256, Features, seed: 3);
        outlierRow = 100;
        data[outlierRow * Features + 2] = 9f; // nine standard deviations out in feature 2, ordinary elsewhere
        data[outlierRow * Features + 0] = 0f;
        data[outlierRow * Features + 1] = 0f;
        data[outlierRow * Features + 3] = 0f;
        return data;
    }

    private static double[] ScoreAll(IsolationForest forest, float[] data)
    {
        var scores = new double[data.Length / forest.FeatureCount];
        forest.ScoreBatch(data, scores);
        return scores;
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 1.0)]
    [InlineData(3, 1.20739236)]
    [InlineData(10, 3.74888048)]
    [InlineData(256, 10.24477092)]
    public void AveragePathLength_KnownN_MatchesScikitLearn(int n, double expected)
    {
        // Expected values printed by scikit-learn 1.2.1's _average_path_length.
        Assert.Equal(expected, IsolationForest.AveragePathLength(n), 7);
    }

    [Fact]
    public void Fit_SameSeed_IdenticalScores()
    {
        var data = TestData.Gaussian(600, Features, seed: 1);

        var a = ScoreAll(IsolationForest.Fit(data, Features, new IsolationForestOptions { Seed = 9 }), data);
        var b = ScoreAll(IsolationForest.Fit(data, Features, new IsolationForestOptions { Seed = 9 }), data);
        var other = ScoreAll(IsolationForest.Fit(data, Features, new IsolationForestOptions { Seed = 10 }), data);

        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
    }

    [Fact]
    public void Fit_InParallel_SameForestAsSequential()
    {
        var data = TestData.Gaussian(600, Features, seed: 1);

        var sequential = ScoreAll(IsolationForest.Fit(data, Features, new IsolationForestOptions { Seed = 4 }), data);
        var parallel = ScoreAll(
            IsolationForest.Fit(data, Features, new IsolationForestOptions { Seed = 4, MaxDegreeOfParallelism = 4 }), data);

        Assert.Equal(sequential, parallel);
    }

    [Fact]
    public void Fit_Defaults_PaperParameters()
    {
        var forest = IsolationForest.Fit(TestData.Gaussian(1000, Features, seed: 1), Features);

        Assert.Equal(100, forest.TreeCount);
        Assert.Equal(256, forest.SampleSize);
        Assert.Equal(8, forest.MaxDepth);
        Assert.Equal(0.8, forest.Threshold);
        Assert.Equal(Features, forest.FeatureCount);
    }

    [Fact]
    public void Fit_FewerRowsThanSampleSize_CapsSampleAndHeight()
    {
        var forest = IsolationForest.Fit(TestData.Gaussian(100, Features, seed: 1), Features);

        Assert.Equal(100, forest.SampleSize);
        Assert.Equal(7, forest.MaxDepth); // ceil(log2 100)
    }

    [Fact]
    public void Score_PlantedOutlier_AboveEveryInlier()
    {
        var data = WithOutlier(out var outlierRow);
        var forest = IsolationForest.Fit(data, Features);

        var scores = ScoreAll(forest, data);

        for (var r = 0; r < scores.Length; r++)
        {
            if (r != outlierRow)
            {
                Assert.True(scores[r] < scores[outlierRow], $"row {r} scored {scores[r]} ≥ the outlier's {scores[outlierRow]}");
            }
        }
        Assert.True(scores[outlierRow] > 0.62, $"the outlier scored {scores[outlierRow]}");
    }

    [Fact]
    public void ScoreBatch_AnyRows_SameAsScoreOneByOne()
    {
        var data = TestData.Gaussian(300, Features, seed: 2);
        var forest = IsolationForest.Fit(data, Features);
        var probe = TestData.Gaussian(203, Features, seed: 5); // not a multiple of the block size

        var batch = ScoreAll(forest, probe);

        for (var r = 0; r < batch.Length; r++)
        {
            Assert.Equal(forest.Score(probe.AsSpan(r * Features, Features)), batch[r]);
        }
    }

    [Theory]
    [InlineData(null)] // ψ = 256, height 8: the complete-tree layout
    [InlineData(3)] // many leaves above the height limit's level
    [InlineData(12)] // too deep for complete trees: the node walk
    public void ScoreBatch_SignsZerosInfinitiesAndTies_SameAsScoreOneByOne(int? maxDepth)
    {
        // Integer-valued features with ties, negative values and both zeros: the order keys must split them
        // exactly as float comparison does, including a split that lands on −0 or +0.
        var rng = new Random(7);
        var data = new float[400 * Features];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = rng.Next(-3, 4) * (i % 3 == 0 ? 1f : 0.5f);
        }
        var forest = IsolationForest.Fit(data, Features, new IsolationForestOptions { MaxDepth = maxDepth, Seed = 11 });
        float[] probe =
        [
            -0f, 0f, -0f, 0f,
            0f, -0f, 0f, -0f,
            -3f, 3f, -1.5f, 1.5f,
            float.NegativeInfinity, float.PositiveInfinity, -1e-30f, 1e-30f,
            float.MinValue, float.MaxValue, -0.5f, 0.5f,
            float.NaN, 0f, 0f, 0f,
            1f, 1f, 1f, 1f,
        ];
        probe = [.. probe, .. data.AsSpan(0, 40 * Features)];

        var batch = ScoreAll(forest, probe);

        for (var r = 0; r < batch.Length; r++)
        {
            Assert.Equal(forest.Score(probe.AsSpan(r * Features, Features)), batch[r]);
        }
        Assert.True(double.IsNaN(batch[5]));
    }

    [Fact]
    public void Score_ExtremeRows_InZeroToOne()
    {
        var data = TestData.Gaussian(500, Features, seed: 2);
        var forest = IsolationForest.Fit(data, Features);
        float[][] rows =
        [
            [0, 0, 0, 0],
            [1e30f, -1e30f, 1e30f, -1e30f],
            [float.PositiveInfinity, float.NegativeInfinity, 0, 0],
            [float.MaxValue, float.MaxValue, float.MaxValue, float.MaxValue],
        ];

        foreach (var row in rows)
        {
            var score = forest.Score(row);
            Assert.True(score > 0 && score <= 1, $"score {score}");
        }
        Assert.True(forest.Score(rows[1]) > forest.Score(rows[0]));
    }

    [Fact]
    public void Score_AllTrainingRowsIdentical_OneHalf()
    {
        var data = new float[50 * Features];
        Array.Fill(data, 3f);
        var forest = IsolationForest.Fit(data, Features);

        // No split is possible: every tree is one leaf of ψ rows, so E[h] = c(ψ) and s = 2^−1.
        Assert.Equal(0.5, forest.Score([3f, 3f, 3f, 3f]), 6);
        Assert.Equal(0.5, forest.Score([-7f, 3f, 100f, 3f]), 6);
    }

    [Fact]
    public void MeanPathLength_ScoreFollowsPaperFormula()
    {
        var data = TestData.Gaussian(400, Features, seed: 8);
        var forest = IsolationForest.Fit(data, Features);
        var row = data.AsSpan(0, Features);

        var expected = Math.Pow(2, -forest.MeanPathLength(row) / IsolationForest.AveragePathLength(256));

        Assert.Equal(expected, forest.Score(row), 12);
    }

    [Fact]
    public void IsAnomaly_AtAndAroundThreshold_ScoreAtOrAboveIsAnomalous()
    {
        var forest = IsolationForest.Fit(TestData.Gaussian(100, Features, seed: 1), Features,
            new IsolationForestOptions { Threshold = 0.6 });

        Assert.True(forest.IsAnomaly(0.6));
        Assert.True(forest.IsAnomaly(0.61));
        Assert.False(forest.IsAnomaly(0.5999));
        Assert.False(forest.IsAnomaly(double.NaN));
        Assert.False(forest.WithThreshold(0.9).IsAnomaly(0.8));
        Assert.True(forest.WithThreshold(0.9).IsAnomaly(0.9));
    }

    [Fact]
    public void Explain_OutlierInOneFeature_AttributesMostlyToIt()
    {
        var data = WithOutlier(out var outlierRow);
        var forest = IsolationForest.Fit(data, Features);
        var attribution = new double[Features];

        var score = forest.Explain(data.AsSpan(outlierRow * Features, Features), attribution);

        Assert.Equal(forest.Score(data.AsSpan(outlierRow * Features, Features)), score, 12);
        Assert.True(attribution[2] > 0.6, $"feature 2 got {attribution[2]}");
        Assert.Equal(1.0, attribution.Sum(), 9);
        Assert.All(attribution, share => Assert.True(share >= 0));
    }

    [Fact]
    public void Explain_UnseenRowExtremeInOneFeature_ThatFeatureLeads()
    {
        var data = TestData.Gaussian(1000, Features, seed: 3);
        var forest = IsolationForest.Fit(data, Features);
        var attribution = new double[Features];

        forest.Explain([0f, 0f, 0f, -6f], attribution);

        Assert.Equal(3, Array.IndexOf(attribution, attribution.Max()));
        Assert.True(attribution[3] > 0.4, $"feature 3 got {attribution[3]}");
    }

    [Fact]
    public void SaveLoad_RoundTrip_IdenticalScoresAndShape()
    {
        var data = TestData.Gaussian(700, Features, seed: 11);
        var forest = IsolationForest.Fit(data, Features, new IsolationForestOptions { Trees = 37, Seed = 5, Threshold = 0.7 });
        using var stream = new MemoryStream();

        forest.Save(stream);
        stream.Position = 0;
        var loaded = IsolationForest.Load(stream);

        Assert.Equal(stream.Length, stream.Position);
        Assert.Equal(ScoreAll(forest, data), ScoreAll(loaded, data));
        Assert.Equal((37, 256, 8, 5UL, 0.7, forest.NodeCount),
            (loaded.TreeCount, loaded.SampleSize, loaded.MaxDepth, loaded.Seed, loaded.Threshold, loaded.NodeCount));
        var a = new double[Features];
        var b = new double[Features];
        forest.Explain(data.AsSpan(0, Features), a);
        loaded.Explain(data.AsSpan(0, Features), b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Load_ForeignOrTruncatedOrCorrupt_InvalidData()
    {
        var forest = IsolationForest.Fit(TestData.Gaussian(64, Features, seed: 1), Features, new IsolationForestOptions { Trees = 3 });
        using var stream = new MemoryStream();
        forest.Save(stream);
        var bytes = stream.ToArray();

        Assert.Throws<InvalidDataException>(() => IsolationForest.Load(new MemoryStream("not a model at all"u8.ToArray())));
        Assert.Throws<InvalidDataException>(() => IsolationForest.Load(new MemoryStream(bytes[..^3])));
        var newer = (byte[])bytes.Clone();
        newer[4] = 99; // the version
        Assert.Contains("version 99", Assert.Throws<InvalidDataException>(() => IsolationForest.Load(new MemoryStream(newer))).Message,
            StringComparison.Ordinal);
        var corrupt = (byte[])bytes.Clone();
        // The first node's left child, after the header (44 bytes) and three roots, pointed backwards at itself−1.
        BitConverter.TryWriteBytes(corrupt.AsSpan(44 + 12 + 8), -1);
        Assert.Throws<InvalidDataException>(() => IsolationForest.Load(new MemoryStream(corrupt)));
    }

    [Fact]
    public void Fit_BadData_ThrowsNamingTheProblem()
    {
        Assert.Throws<ArgumentException>(() => IsolationForest.Fit(Array.Empty<float>(), Features));
        Assert.Throws<ArgumentException>(() => IsolationForest.Fit(new float[Features], Features)); // one row
        Assert.Throws<ArgumentException>(() => IsolationForest.Fit(new float[Features * 3 + 1], Features));
        var withNaN = TestData.Gaussian(10, Features, seed: 1);
        withNaN[6 * Features + 1] = float.NaN;
        var ex = Assert.Throws<ArgumentException>(() => IsolationForest.Fit(withNaN, Features));
        Assert.Contains("row 6, feature 1", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 256, 0.8)]
    [InlineData(100, 1, 0.8)]
    [InlineData(100, 256, 0.0)]
    [InlineData(100, 256, 1.5)]
    [InlineData(100, 256, double.NaN)]
    public void Fit_BadOptions_ThrowsOutOfRange(int trees, int sample, double threshold)
    {
        var options = new IsolationForestOptions { Trees = trees, SampleSize = sample, Threshold = threshold };

        Assert.Throws<ArgumentOutOfRangeException>(() => IsolationForest.Fit(TestData.Gaussian(10, Features, 1), Features, options));
    }

    [Fact]
    public void Score_RowWithNaN_NaNWithoutThrowing()
    {
        var forest = IsolationForest.Fit(TestData.Gaussian(100, Features, seed: 1), Features);
        float[] probe = [0f, 0f, 0f, 0f, 0f, float.NaN, 0f, 0f];
        var scores = new double[2];
        var attribution = new double[Features];

        forest.ScoreBatch(probe, scores);

        Assert.True(double.IsNaN(forest.Score(probe.AsSpan(4, 4))));
        Assert.Equal(forest.Score(probe.AsSpan(0, 4)), scores[0]);
        Assert.True(double.IsNaN(scores[1]));
        Assert.True(double.IsNaN(forest.Explain(probe.AsSpan(4, 4), attribution)));
        Assert.Equal(new double[Features], attribution);
        Assert.False(forest.IsAnomaly(scores[1]));
    }

    [Fact]
    public void Score_WrongRowWidth_Throws()
    {
        var forest = IsolationForest.Fit(TestData.Gaussian(100, Features, seed: 1), Features);

        Assert.Throws<ArgumentException>(() => forest.Score([1f, 2f]));
        Assert.Throws<ArgumentException>(() => forest.ScoreBatch(new float[9], new double[2]));
    }
}
