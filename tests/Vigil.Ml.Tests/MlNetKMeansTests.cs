namespace Vigil.Ml.Tests;

public sealed class MlNetKMeansTests
{
    private static float[] Blobs(int perBlob, out float[] centres)
    {
        centres = [0, 0, 10, 0, 0, 10];
        var rng = new Vigil.Core.Ml.Xoshiro256(5);
        var rows = new float[3 * perBlob * 2];
        for (var b = 0; b < 3; b++)
        {
            for (var i = 0; i < perBlob; i++)
            {
                var r = (b * perBlob) + i;
                rows[r * 2] = centres[b * 2] + (float)(rng.NextDouble() - 0.5);
                rows[(r * 2) + 1] = centres[(b * 2) + 1] + (float)(rng.NextDouble() - 0.5);
            }
        }
        return rows;
    }

    [Fact]
    public void Fit_ThreeBlobs_FindsTheirCentresAndTheInertiaOfThem()
    {
        var rows = Blobs(200, out var centres);

        var fit = MlNetKMeans.Fit(rows, 2, new KMeansSettings { K = 3, Restarts = 2, Seed = 1 });

        Assert.Equal(3, fit.K);
        Assert.Equal(2, fit.RestartInertias.Count);
        for (var b = 0; b < 3; b++)
        {
            var nearest = Enumerable.Range(0, 3).Min(c =>
                Math.Pow(fit.Centroids[c * 2] - centres[b * 2], 2) + Math.Pow(fit.Centroids[(c * 2) + 1] - centres[(b * 2) + 1], 2));
            Assert.True(nearest < 0.05, $"blob {b} is {Math.Sqrt(nearest)} from its nearest centroid");
        }
        // Uniform noise of width 1 per axis: variance 1/12 each, so about 600 × 2/12 = 100.
        Assert.InRange(fit.Inertia, 80, 120);
        Assert.Equal(fit.RestartInertias.Min(), fit.Inertia);
    }

    [Fact]
    public void Fit_FewerRowsThanK_Throws()
    {
        Assert.Throws<ArgumentException>(() => MlNetKMeans.Fit(new float[] { 1, 2, 3, 4 }, 2, new KMeansSettings { K = 3 }));
    }

    [Fact]
    public void Fit_SameSeed_SameCentroids()
    {
        var rows = Blobs(100, out _);

        var a = MlNetKMeans.Fit(rows, 2, new KMeansSettings { K = 3, Restarts = 1, Seed = 9 });
        var b = MlNetKMeans.Fit(rows, 2, new KMeansSettings { K = 3, Restarts = 1, Seed = 9 });

        Assert.Equal(a.Centroids, b.Centroids);
    }
}
