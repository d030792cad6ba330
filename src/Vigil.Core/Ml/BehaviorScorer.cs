using Vigil.Core.Features;

namespace Vigil.Core.Ml;

/// <summary>The anomaly verdict on one user's behaviour.</summary>
/// <param name="Score">s(x) in (0, 1] from the forest; NaN when there is no model or the features hold a NaN.</param>
/// <param name="IsAnomaly">The score reaches the threshold AND the user has passed the learning minimum.</param>
/// <param name="LearningComplete">The user has at least the minimum of successful logins; before that no alert.</param>
/// <param name="ModelVersion">The anomaly model that scored; 0 when none.</param>
public readonly record struct BehaviorScore(double Score, bool IsAnomaly, bool LearningComplete, int ModelVersion)
{
    /// <summary>True when a model gave a score.</summary>
    public bool HasScore => !double.IsNaN(Score);
}

/// <summary>One feature's part in an anomaly score, for the alert's evidence.</summary>
/// <param name="Feature">The feature's name.</param>
/// <param name="Share">Its share of the isolation (the attributions sum to 1).</param>
/// <param name="Value">The user's value in original units.</param>
/// <param name="ZScore">How many standard deviations from the trained mean (after the log step where the feature has one).</param>
public readonly record struct FeatureContribution(string Feature, double Share, double Value, double ZScore);

/// <summary>
/// Scores users with the anomaly model in service (<see cref="ModelRegistry.Current"/>): standardises the raw
/// features, runs <see cref="IsolationForest.Explain"/> for the score with a per-feature attribution, and applies
/// the learning minimum (as Entra ID, no verdict before a user has shown enough normal behaviour).
/// </summary>
/// <remarks>Thread-safe; allocates nothing (the caller brings the attribution span).</remarks>
public sealed class BehaviorScorer(ModelRegistry registry, BehaviorScorerOptions? options = null)
{
    private readonly BehaviorScorerOptions _options = options ?? new BehaviorScorerOptions();

    public BehaviorScorerOptions Options => _options;

    /// <summary>Scores a user's current state.</summary>
    /// <param name="state">The user's features.</param>
    /// <param name="attribution">Receives one share per feature (<see cref="UserFeatures.Count"/> slots); zeros without a score.</param>
    public BehaviorScore Score(in UserFeatureState state, Span<double> attribution)
    {
        Span<float> raw = stackalloc float[UserFeatures.Count];
        state.WriteTo(raw);
        return Score(raw, state.Logins, attribution);
    }

    /// <summary>Scores raw features (original units, <see cref="UserFeature"/> order) of a user with <paramref name="logins"/> successful logins.</summary>
    public BehaviorScore Score(ReadOnlySpan<float> rawFeatures, int logins, Span<double> attribution)
    {
        if (attribution.Length < UserFeatures.Count || rawFeatures.Length < UserFeatures.Count)
        {
            throw new ArgumentException($"Features and attribution need {UserFeatures.Count} slots.");
        }
        attribution[..UserFeatures.Count].Clear();
        var learned = logins >= _options.MinLogins;
        var model = registry.Current.Anomaly;
        if (model is null)
        {
            return new BehaviorScore(double.NaN, false, learned, 0);
        }
        Span<float> scaled = stackalloc float[UserFeatures.Count];
        model.Scaler.Transform(rawFeatures, scaled);
        var score = model.Forest.Explain(scaled, attribution[..UserFeatures.Count]);
        var threshold = _options.Threshold ?? model.Forest.Threshold;
        return new BehaviorScore(score, learned && score >= threshold, learned, model.Version);
    }

    /// <summary>The <paramref name="top"/> features with the largest shares, largest first, with values and z-scores
    /// (allocates: call it for anomalies only).</summary>
    public IReadOnlyList<FeatureContribution> Explain(ReadOnlySpan<float> rawFeatures, ReadOnlySpan<double> attribution, int top = 5)
    {
        var model = registry.Current.Anomaly;
        var list = new List<FeatureContribution>(UserFeatures.Count);
        if (model is null)
        {
            return list;
        }
        Span<float> scaled = stackalloc float[UserFeatures.Count];
        model.Scaler.Transform(rawFeatures, scaled);
        for (var f = 0; f < UserFeatures.Count; f++)
        {
            if (attribution[f] > 0)
            {
                list.Add(new FeatureContribution(UserFeatures.Names[f], Math.Round(attribution[f], 4), rawFeatures[f], Math.Round(scaled[f], 3)));
            }
        }
        list.Sort((a, b) => b.Share != a.Share ? b.Share.CompareTo(a.Share) : string.CompareOrdinal(a.Feature, b.Feature));
        if (list.Count > top)
        {
            list.RemoveRange(top, list.Count - top);
        }
        return list;
    }
}

/// <summary>Settings of <see cref="BehaviorScorer"/>.</summary>
public sealed record BehaviorScorerOptions
{
    /// <summary>Successful logins a user needs before an anomaly verdict (default 10).</summary>
    public int MinLogins { get; init; } = 10;

    /// <summary>The anomaly threshold (<c>ml.anomaly.threshold</c>); null uses the forest's own.</summary>
    public double? Threshold { get; init; }
}
