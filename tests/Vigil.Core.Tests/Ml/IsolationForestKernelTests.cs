using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

/// <summary>
/// Every batch-scoring kernel this machine can run must give exactly the scores of the node walk (<see
/// cref="IsolationForest.Score"/> and <see cref="IsolationForest.Explain"/>, which do not use the batch layout).
/// </summary>
public sealed class IsolationForestKernelTests
{
    // The kernels by name: ScoringPath is internal, and a public theory cannot take it as a parameter.
    public static TheoryData<string> Paths()
    {
        var paths = new TheoryData<string> { nameof(ScoringPath.Scalar) };
        if (Avx2.IsSupported)
        {
            paths.Add(nameof(ScoringPath.Avx2));
        }
        if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            paths.Add(nameof(ScoringPath.Avx512));
        }
        paths.Add(nameof(ScoringPath.Auto));
        return paths;
    }

    /// <summary>Values that stress the order keys: both zeros, infinities, extremes, subnormals, ties.</summary>
    private static readonly float[] Awkward =
    [
        -0f, 0f, float.NegativeInfinity, float.PositiveInfinity, float.MinValue, float.MaxValue,
        float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f, 1f, -1f, 0.5f, -0.5f, 2f, -2f,
    ];

    private static float[] RandomRows(Random rng, int rows, int features, bool awkward)
    {
        var data = new float[rows * features];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = rng.Next(4) switch
            {
                0 when awkward => Awkward[rng.Next(Awkward.Length)],
                1 => rng.Next(-3, 4) * 0.5f, // ties on split values
                _ => (float)((rng.NextDouble() * 2) - 1) * (float)Math.Pow(10, rng.Next(-3, 4)),
            };
        }
        return data;
    }

    private static void AssertSameAsNodeWalk(IsolationForest forest, float[] probe, ScoringPath path)
    {
        var features = forest.FeatureCount;
        var scores = new double[probe.Length / features];
        forest.ScoreBatch(probe, scores, path);
        var attribution = new double[features];
        for (var r = 0; r < scores.Length; r++)
        {
            var row = probe.AsSpan(r * features, features);
            var expected = forest.Score(row);
            Assert.True(expected.Equals(scores[r]),
                $"{path}: row {r} of {scores.Length}, {features} features, height {forest.MaxDepth}: {scores[r]:R}, node walk {expected:R}");
            Assert.True(forest.Explain(row, attribution).Equals(scores[r]), $"{path}: row {r} differs from Explain");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoreBatch_RandomForestsWidthsOneTo300_SameAsNodeWalk(string kernel)
    {
        var path = Enum.Parse<ScoringPath>(kernel);
        var rng = new Random(61);
        int[] widths = [1, 2, 3, 7, 8, 9, 15, 16, 17, 21, 31, 33, 64, 100, 255, 274, 300];
        foreach (var width in widths)
        {
            var train = RandomRows(rng, 300, width, awkward: false);
            var forest = IsolationForest.Fit(train, width,
                new IsolationForestOptions { Trees = 1 + rng.Next(9), SampleSize = 256, Seed = (ulong)width });
            var probe = RandomRows(rng, 1 + rng.Next(70), width, awkward: true);
            AssertSameAsNodeWalk(forest, [.. probe, .. train.AsSpan(0, 20 * width)], path);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoreBatch_RowsTooWideForTheStackOrForSixteenBitOffsets_SameAsNodeWalk(string kernel)
    {
        // 1,100 features: the key block no longer fits the stack buffer and is rented; 4,100: a feature's offset in
        // the group no longer fits 16 bits, so the AVX-512 kernel reads the 32-bit offset tables. Only the last ten
        // features vary in training, so every split is on one of them (past 4,096 for the wider rows).
        var path = Enum.Parse<ScoringPath>(kernel);
        var rng = new Random(77);
        foreach (var width in new[] { 1100, 4100 })
        {
            var train = RandomRows(rng, 260, width, awkward: false);
            for (var i = 0; i < train.Length; i++)
            {
                train[i] = i % width < width - 10 ? 1f : train[i];
            }
            var forest = IsolationForest.Fit(train, width, new IsolationForestOptions { Trees = 5, Seed = 2 });
            AssertSameAsNodeWalk(forest, [.. RandomRows(rng, 20, width, awkward: true), .. train.AsSpan(0, 20 * width)], path);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoreBatch_EveryHeightOneToTen_SameAsNodeWalk(string kernel)
    {
        var path = Enum.Parse<ScoringPath>(kernel);
        // Heights 1–4 end inside the gather-free top levels, 5–8 use every table layout, 9–10 gather the tables;
        // 5 trees leave one tree after the groups of four.
        var rng = new Random(5);
        const int Width = 6;
        var train = RandomRows(rng, 1100, Width, awkward: false);
        var probe = RandomRows(rng, 45, Width, awkward: true);
        for (var height = 1; height <= 10; height++)
        {
            var forest = IsolationForest.Fit(train, Width,
                new IsolationForestOptions { Trees = 5, SampleSize = 1024, MaxDepth = height, Seed = (ulong)height });
            Assert.Equal(height, forest.MaxDepth);
            AssertSameAsNodeWalk(forest, probe, path);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoreBatch_DefaultForestOfHeightEight_SameAsNodeWalk(string kernel)
    {
        // The scikit-learn shape the benchmarks score (100 trees, samples of 256, so height 8): the AVX-512 kernel
        // walks it with its constant-level method. 103 trees leave three after the groups of four; 16 and 21
        // features are pendigits' and cardio's widths; 279 rows are three blocks, the last with an odd group count.
        var path = Enum.Parse<ScoringPath>(kernel);
        var rng = new Random(88);
        foreach (var width in new[] { 16, 21 })
        {
            var train = RandomRows(rng, 600, width, awkward: false);
            var forest = IsolationForest.Fit(train, width, new IsolationForestOptions { Trees = 103, Seed = 4 });
            Assert.Equal(8, forest.MaxDepth);
            AssertSameAsNodeWalk(forest, [.. RandomRows(rng, 40, width, awkward: true), .. train.AsSpan(0, 239 * width)], path);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoreBatch_RowCountsAroundTheGroupAndBlockSizes_SameAsNodeWalk(string kernel)
    {
        var path = Enum.Parse<ScoringPath>(kernel);
        var rng = new Random(9);
        const int Width = 5;
        var forest = IsolationForest.Fit(RandomRows(rng, 500, Width, awkward: false), Width,
            new IsolationForestOptions { Trees = 6, Seed = 3 });
        foreach (var rows in new[] { 1, 2, 15, 16, 17, 31, 127, 128, 129, 300 })
        {
            AssertSameAsNodeWalk(forest, RandomRows(rng, rows, Width, awkward: true), path);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoreBatch_NaNInAnyColumn_NaNForThatRowOnly(string kernel)
    {
        var path = Enum.Parse<ScoringPath>(kernel);
        var rng = new Random(4);
        const int Width = 19; // two vectors of eight and a tail of three
        var forest = IsolationForest.Fit(RandomRows(rng, 400, Width, awkward: false), Width,
            new IsolationForestOptions { Trees = 7, Seed = 8 });
        var probe = RandomRows(rng, 40, Width, awkward: true);
        for (var r = 0; r < 40; r += 2)
        {
            probe[(r * Width) + (r % Width)] = float.NaN;
        }
        var scores = new double[40];

        forest.ScoreBatch(probe, scores, path);

        for (var r = 0; r < 40; r++)
        {
            Assert.Equal(r % 2 == 0, double.IsNaN(scores[r]));
        }
        AssertSameAsNodeWalk(forest, probe, path);
    }

    [Fact]
    public void ScoreBatch_Auto_PicksTheWidestKernelTheRuntimeAccelerates()
    {
        var expected = Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? ScoringPath.Avx512
            : Avx2.IsSupported && Vector256.IsHardwareAccelerated ? ScoringPath.Avx2
            : ScoringPath.Scalar;

        Assert.Equal(expected, IsolationForest.BestPath);
    }
}
