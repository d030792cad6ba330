using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class ClusterMetricsTests
{
    // Two tight pairs on a line: {0, 1} and {10, 11}.
    private static readonly float[] s_rows = [0, 1, 10, 11];

    [Fact]
    public void Inertia_TwoClusters_SumOfSquaredDistances()
    {
        var assignments = new int[4];

        var inertia = ClusterMetrics.Inertia(s_rows, 1, [0.5f, 10.5f], 2, assignments);

        Assert.Equal(1.0, inertia, 10);
        Assert.Equal([0, 0, 1, 1], assignments);
    }

    [Fact]
    public void Silhouette_TwoPairs_MatchesHandComputation()
    {
        // Row 0: a = 1, b = mean(10, 11) = 10.5 → (10.5 − 1) / 10.5; row 1: a = 1, b = 9.5 → 8.5 / 9.5; symmetric for the others.
        var expected = ((9.5 / 10.5) + (8.5 / 9.5)) / 2;

        var silhouette = ClusterMetrics.Silhouette(s_rows, 1, [0, 0, 1, 1], 2);

        Assert.Equal(expected, silhouette, 10);
    }

    [Fact]
    public void Silhouette_OneCluster_IsNaN()
    {
        Assert.True(double.IsNaN(ClusterMetrics.Silhouette(s_rows, 1, [0, 0, 0, 0], 2)));
    }

    [Fact]
    public void Percentile_InterpolatesLikeNumpy()
    {
        double[] sorted = [1, 2, 3, 4];

        Assert.Equal(2.5, ClusterMetrics.Percentile(sorted, 50), 10);
        Assert.Equal(3.7, ClusterMetrics.Percentile(sorted, 90), 10);
    }
}
