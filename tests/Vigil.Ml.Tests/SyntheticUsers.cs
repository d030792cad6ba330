using Vigil.Core.Features;
using Vigil.Core.Ml;

namespace Vigil.Ml.Tests;

/// <summary>A synthetic population of users in four well-separated behaviours, with little noise elsewhere (after
/// standardisation any noise has unit variance, and noisy irrelevant features give k-means near-ties).</summary>
internal static class SyntheticUsers
{
    /// <summary>Night owls, heavy searchers and travellers around a casual base, <paramref name="perGroup"/> each; ids g{group}-u{i}.</summary>
    public static FeatureSample Make(int perGroup, ulong seed = 1)
    {
        var rng = new Xoshiro256(seed);
        var d = UserFeatures.Count;
        var ids = new List<string>();
        var rows = new List<float>();
        for (var g = 0; g < 4; g++)
        {
            for (var i = 0; i < perGroup; i++)
            {
                var v = new float[d];
                v[(int)UserFeature.Events] = 50;
                v[(int)UserFeature.Sessions] = 5;
                v[(int)UserFeature.EventsPerSession] = v[0] / v[1];
                v[(int)UserFeature.MeanActiveHour] = 12 + (float)(rng.NextDouble() * 4);
                v[(int)UserFeature.NightShare] = (float)(rng.NextDouble() * 0.1);
                v[(int)UserFeature.FailedLoginRatio] = 0.02f;
                v[(int)UserFeature.DistinctIps] = 1;
                v[(int)UserFeature.DistinctCountries] = 1;
                v[(int)UserFeature.DistinctDevices] = 1;
                v[(int)UserFeature.SearchesPerSession] = 1 + (float)rng.NextDouble();
                v[(int)UserFeature.GapMeanSeconds] = 300;
                v[(int)UserFeature.GapStdSeconds] = 200;
                v[(int)UserFeature.DaysActive] = 1;
                v[(int)UserFeature.Logins] = 7;
                v[(int)UserFeature.AccountChanges] = 0;
                switch (g)
                {
                    case 1:
                        v[(int)UserFeature.NightShare] = 0.8f + (float)(rng.NextDouble() * 0.2);
                        v[(int)UserFeature.MeanActiveHour] = 2 + (float)rng.NextDouble();
                        break;
                    case 2:
                        v[(int)UserFeature.SearchesPerSession] = 25 + (float)(rng.NextDouble() * 10);
                        break;
                    case 3:
                        v[(int)UserFeature.DistinctCountries] = 5 + rng.NextInt(3);
                        v[(int)UserFeature.DistinctIps] = 12 + rng.NextInt(5);
                        break;
                }
                ids.Add($"g{g}-u{i:D4}");
                rows.AddRange(v);
            }
        }
        return new FeatureSample(ids, [.. rows]);
    }
}
