using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class FeatureScalerTests
{
    [Fact]
    public void Fit_TwoFeatures_MeanZeroPopulationStdOne()
    {
        float[] rows = [1, 10, 2, 10, 3, 10, 4, 10];
        var scaler = FeatureScaler.Fit(rows, ["a", "b"]);
        var scaled = new float[rows.Length];

        scaler.TransformRows(rows, scaled);

        Assert.Equal(2.5, scaler.Means[0], 10);
        Assert.Equal(Math.Sqrt(1.25), scaler.StandardDeviations[0], 10);
        Assert.Equal(0, scaled.Where((_, i) => i % 2 == 0).Sum(), 5);
        // A constant feature standardises to 0 instead of dividing by zero.
        Assert.All(scaled.Where((_, i) => i % 2 == 1), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Inverse_LogScaledFeature_ReturnsOriginalUnits()
    {
        float[] rows = [0, 9, 99, 999];
        var scaler = FeatureScaler.Fit(rows, ["events"], [true]);
        Span<float> z = stackalloc float[1];

        scaler.Transform([99f], z);

        Assert.Equal(99, scaler.Inverse(0, z[0]), 2);
    }

    [Fact]
    public void Fit_NaN_ThrowsNamingTheFeature()
    {
        var ex = Assert.Throws<ArgumentException>(() => FeatureScaler.Fit([1, float.NaN], ["a", "b"]));

        Assert.Contains("'b'", ex.Message, StringComparison.Ordinal);
    }
}
