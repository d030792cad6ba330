using Vigil.Core.Features;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests;

/// <summary>Small hand-made models.</summary>
internal static class MlTestModels
{
    /// <summary>A scaler that leaves raw values as they are (no log, mean 0, deviation 1).</summary>
    public static FeatureScaler Identity()
    {
        var d = UserFeatures.Count;
        return FeatureScaler.Create(UserFeatures.Names, new bool[d], new double[d], Enumerable.Repeat(1.0, d).ToArray());
    }

    /// <summary>Two segments on raw night share: 1.0 ("night owls") and 0 with nothing else standing out ("casual users").</summary>
    public static SegmentModel TwoSegments(int version, bool nightOwlsFirst)
    {
        var d = UserFeatures.Count;
        var centroids = new float[2 * d];
        var owl = nightOwlsFirst ? 0 : 1;
        centroids[(owl * d) + (int)UserFeature.NightShare] = 1;
        // The mean hour and the counts of the test users are far from both centroids alike; match them on both.
        return new SegmentModel(version, Identity(), centroids, 2);
    }
}
