using Vigil.Core.Features;
using Vigil.Core.Ml;
using Vigil.Storage;

namespace Vigil.Server.Ml;

/// <summary>What Vigil's models say about one user, for GET /api/users/{id}.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Segment">The segment under the model in service (null without a model).</param>
/// <param name="StoredSegment">The segment last recorded in user_behavior_patterns, with its model version and time.</param>
/// <param name="StoredModelVersion">The segment model of <paramref name="StoredSegment"/>.</param>
/// <param name="StoredAt">Event time of the stored row.</param>
/// <param name="Features">The user's features by name, original units: live from the training sample when the user is in it, else as stored.</param>
/// <param name="FeaturesLive">True when <paramref name="Features"/> came from the live sample.</param>
/// <param name="AnomalyScore">The forest's score of those features (null without a model).</param>
/// <param name="IsAnomaly">At or above the threshold with the learning minimum passed.</param>
/// <param name="LearningComplete">The user has the minimum of successful logins.</param>
/// <param name="Contributions">The features that made the score, largest share first.</param>
public sealed record UserProfile(
    string UserId,
    string? Segment,
    string? StoredSegment,
    int? StoredModelVersion,
    DateTimeOffset? StoredAt,
    IReadOnlyDictionary<string, double> Features,
    bool FeaturesLive,
    double? AnomalyScore,
    bool IsAnomaly,
    bool LearningComplete,
    IReadOnlyList<FeatureContribution> Contributions);

/// <summary>Builds <see cref="UserProfile"/>s from the store, the training sample and the models in service.</summary>
public sealed class UserProfileService(IVigilStore store, FeatureReservoir reservoir, ModelRegistry registry, BehaviorScorer scorer)
{
    /// <summary>The user's profile; null when Vigil knows nothing of the user (not stored, not sampled).</summary>
    public async Task<UserProfile?> GetUserAsync(string userId, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var stored = await store.GetUserBehaviorPatternAsync(userId, ct);
        var raw = new float[UserFeatures.Count];
        var live = reservoir.TryGet(userId, raw);
        if (!live)
        {
            if (stored is null)
            {
                return null;
            }
            for (var f = 0; f < UserFeatures.Count; f++)
            {
                raw[f] = stored.Features.TryGetValue(UserFeatures.Names[f], out var v) ? (float)v : 0;
            }
        }
        var features = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var f = 0; f < UserFeatures.Count; f++)
        {
            features[UserFeatures.Names[f]] = raw[f];
        }
        var models = registry.Current;
        string? segment = null;
        if (models.Segments is { } segments && segments.Assign(raw) is var s and >= 0)
        {
            segment = segments.Names[s];
        }
        var attribution = new double[UserFeatures.Count];
        var score = scorer.Score(raw, (int)raw[(int)UserFeature.Logins], attribution);
        return new UserProfile(userId, segment, stored?.Segment, stored?.ModelVersion, stored?.UpdatedAt, features, live,
            score.HasScore ? Math.Round(score.Score, 4) : null, score.IsAnomaly, score.LearningComplete,
            score.HasScore ? scorer.Explain(raw, attribution) : []);
    }
}
