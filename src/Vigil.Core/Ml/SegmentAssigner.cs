using Vigil.Core.Events;
using Vigil.Core.Features;

namespace Vigil.Core.Ml;

/// <summary>Settings of <see cref="SegmentAssigner"/>.</summary>
public sealed record SegmentAssignerOptions
{
    /// <summary>Events a user needs before a first segment: one event says little about behaviour.</summary>
    public int MinEvents { get; init; } = 5;

    /// <summary>Events between re-assessments of a user under the same model, which bounds the cost and damps flapping.</summary>
    public int ReassessEvery { get; init; } = 20;
}

/// <summary>
/// Keeps each user's segment under the model in service and reports changes as SEGMENT_ASSIGNED and SEGMENT_CHANGED
/// insights. A user is assessed at its <see cref="SegmentAssignerOptions.MinEvents"/>-th event, then every
/// <see cref="SegmentAssignerOptions.ReassessEvery"/> events, and at its next event after a new model. Segments are
/// compared by name, not index: indices mean nothing across two k-means fits, names are derived from what the
/// centroids look like, so a retrain that finds the same groups changes nobody's segment.
/// </summary>
/// <remarks>Called from the partitions' threads; keeps no state of its own (that is in <see cref="UserFeatureState"/>).</remarks>
public sealed class SegmentAssigner(ModelRegistry registry, IInsightSink sink, SegmentAssignerOptions? options = null)
{
    private readonly SegmentAssignerOptions _options = options ?? new SegmentAssignerOptions();

    /// <summary>Insights published (both kinds).</summary>
    public long Published => Interlocked.Read(ref _published);

    private long _published;

    /// <summary>Whether <see cref="Update"/> would assess this user now (a model is in force, the user has enough
    /// events, and the segment is missing, from an older model or due again): the caller can skip deriving the
    /// features otherwise.</summary>
    public bool IsDue(in UserFeatureState state) => registry.Current.Segments is { } model && IsDue(model, in state);

    private bool IsDue(SegmentModel model, in UserFeatureState state) =>
        state.Events >= _options.MinEvents
        && (state.SegmentCode == 0 || state.SegmentModelVersion != model.Version || state.Events - state.EventsAtSegment >= _options.ReassessEvery);

    /// <summary>Re-assesses the user after an event when due; publishes an insight when its segment is new or renamed.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="state">The user's state, already updated with <paramref name="evt"/>.</param>
    /// <param name="rawFeatures">The user's features written from <paramref name="state"/>.</param>
    /// <param name="evt">The event that triggered this (its id and time make the insight's).</param>
    public void Update(string userId, ref UserFeatureState state, ReadOnlySpan<float> rawFeatures, UserEvent evt)
    {
        var model = registry.Current.Segments;
        if (model is null || !IsDue(model, in state))
        {
            return;
        }
        var segment = model.Assign(rawFeatures);
        if (segment < 0)
        {
            return;
        }
        var previous = state.SegmentCode;
        var code = model.Codes[segment];
        state.SegmentCode = code;
        state.SegmentModelVersion = model.Version;
        state.EventsAtSegment = state.Events;
        if (previous == code)
        {
            return;
        }
        var kind = previous == 0 ? InsightKinds.SegmentAssigned : InsightKinds.SegmentChanged;
        var features = new Dictionary<string, object?>(UserFeatures.Count, StringComparer.Ordinal);
        for (var f = 0; f < UserFeatures.Count; f++)
        {
            features[UserFeatures.Names[f]] = Math.Round(rawFeatures[f], 4);
        }
        var payload = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["segment"] = model.Names[segment],
            ["segmentIndex"] = segment,
            ["previousSegment"] = previous == 0 ? null : SegmentNames.FromCode(previous),
            ["modelVersion"] = model.Version,
            ["events"] = state.Events,
            ["features"] = features,
        };
        sink.Publish(new Insight
        {
            InsightId = Insight.MakeId(kind, userId, evt.EventId),
            Kind = kind,
            UserId = userId,
            Timestamp = evt.Timestamp,
            Payload = payload,
        });
        Interlocked.Increment(ref _published);
    }
}
