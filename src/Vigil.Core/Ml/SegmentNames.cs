using Vigil.Core.Features;

namespace Vigil.Core.Ml;

/// <summary>
/// Names segments after their centroids: each name is an archetype, a feature that stands out in one direction
/// (night share high: "night owls"). Names are deterministic for a model and unique within it, and each has a small
/// stable code, which is what per-user state keeps.
/// </summary>
public static class SegmentNames
{
    /// <summary>A standardised centroid value must reach this (in standard deviations) to earn an archetype's name.</summary>
    public const double MinStandout = 1.0;

    /// <summary>Codes from this one up are "segment N" fallbacks, N = code − base + 1.</summary>
    public const short FallbackBase = 100;

    // An archetype stands out by the largest of its features in its direction. Travel shows in countries and, without
    // a geo database, in IPs alone. Codes are stable: a retired archetype's code is never reused.
    private static readonly (short Code, UserFeature[] Features, int Sign, string Name)[] s_archetypes =
    [
        (1, [UserFeature.Events], -1, "casual users"),
        (2, [UserFeature.Events], +1, "power users"),
        (3, [UserFeature.NightShare], +1, "night owls"),
        (4, [UserFeature.SearchesPerSession], +1, "heavy searchers"),
        (5, [UserFeature.DistinctCountries, UserFeature.DistinctIps], +1, "frequent travellers"),
        (6, [UserFeature.FailedLoginRatio], +1, "failed-login prone"),
        (7, [UserFeature.DistinctDevices], +1, "multi-device users"),
        (9, [UserFeature.AccountChanges], +1, "account tinkerers"),
        (10, [UserFeature.EventsPerSession], +1, "deep browsers"),
        (11, [UserFeature.DaysActive], +1, "daily regulars"),
        (12, [UserFeature.GapMeanSeconds], +1, "occasional visitors"),
        (13, [UserFeature.MeanActiveHour], -1, "early birds"),
        (14, [UserFeature.MeanActiveHour], +1, "evening users"),
    ];

    /// <summary>The name of a segment code; "unassigned" for 0.</summary>
    public static string FromCode(short code)
    {
        if (code >= FallbackBase)
        {
            return $"segment {code - FallbackBase + 1}";
        }
        foreach (var a in s_archetypes)
        {
            if (a.Code == code)
            {
                return a.Name;
            }
        }
        return "unassigned";
    }

    /// <summary>
    /// One unique name code per centroid. Over every (centroid, archetype) pair whose standardised value in the
    /// archetype's direction (the largest of its features) reaches <see cref="MinStandout"/>, strongest first (ties by centroid, then code), a
    /// centroid takes the archetype if neither is taken yet. Of the centroids left, the one nearest the mean of all
    /// users is "casual users" if that name is free; any other gets "segment N" (N = its index + 1).
    /// </summary>
    /// <param name="centroids">k centroids of <see cref="UserFeatures.Count"/> standardised values, row-major.</param>
    /// <param name="k">The number of centroids.</param>
    public static short[] Assign(ReadOnlySpan<float> centroids, int k)
    {
        var d = UserFeatures.Count;
        if (k < 1 || centroids.Length != k * d)
        {
            throw new ArgumentException($"Expected {k} centroids of {d} features.", nameof(centroids));
        }
        var candidates = new List<(double Score, int Centroid, short Code)>();
        for (var c = 0; c < k; c++)
        {
            foreach (var a in s_archetypes)
            {
                var score = double.NegativeInfinity;
                foreach (var feature in a.Features)
                {
                    score = Math.Max(score, a.Sign * centroids[(c * d) + (int)feature]);
                }
                if (score >= MinStandout)
                {
                    candidates.Add((score, c, a.Code));
                }
            }
        }
        candidates.Sort((x, y) =>
        {
            var byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Centroid != y.Centroid ? x.Centroid.CompareTo(y.Centroid) : x.Code.CompareTo(y.Code);
        });
        var codes = new short[k];
        var used = new HashSet<short>();
        foreach (var (_, centroid, code) in candidates)
        {
            if (codes[centroid] == 0 && used.Add(code))
            {
                codes[centroid] = code;
            }
        }
        const short casual = 1;
        if (!used.Contains(casual))
        {
            var nearest = -1;
            var nearestNorm = double.MaxValue;
            for (var c = 0; c < k; c++)
            {
                if (codes[c] != 0)
                {
                    continue;
                }
                double norm = 0;
                for (var f = 0; f < d; f++)
                {
                    norm += (double)centroids[(c * d) + f] * centroids[(c * d) + f];
                }
                if (norm < nearestNorm)
                {
                    nearestNorm = norm;
                    nearest = c;
                }
            }
            if (nearest >= 0)
            {
                codes[nearest] = casual;
            }
        }
        for (var c = 0; c < k; c++)
        {
            if (codes[c] == 0)
            {
                codes[c] = (short)(FallbackBase + c);
            }
        }
        return codes;
    }
}
