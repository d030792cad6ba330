using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Geo;
using Vigil.Core.Ml;

namespace Vigil.Core.Features;

/// <summary>
/// Keeps every user's <see cref="UserFeatureState"/> in the stream, checkpointed with the partition and dropped after
/// <see cref="UserFeatureOptions.StateTtl"/> of silence. After each event it (optionally) refreshes the user's row in
/// the trainer's <see cref="FeatureReservoir"/> and lets a <see cref="SegmentAssigner"/> re-assess the user's segment.
/// It raises no alert itself: a rule placed after it in the same runtime (BEHAVIOR_ANOMALY) reads the features it has
/// just updated through <see cref="TryGetFeatures"/> or <see cref="KeyedProcessOperator{TIn, TState, TOut}.State"/>.
/// </summary>
/// <remarks>
/// Keyed by user id; failed logins against unknown accounts (no user id) are skipped. Per event: one dictionary
/// lookup, the state update (no allocation), and with a reservoir or assigner a 15-float vector on the stack.
/// Memory: <see cref="UserFeatureState.SizeInBytes"/> bytes per user plus the key (see <see cref="KeyedState{TState}.ApproximateBytes"/>).
/// </remarks>
public sealed class UserFeaturesOperator : KeyedProcessOperator<UserEvent, UserFeatureState, Alert>
{
    /// <summary>The checkpoint section name.</summary>
    public const string OperatorName = "USER_FEATURES";

    private readonly IGeoLocator? _geo;
    private readonly FeatureReservoir? _reservoir;
    private readonly SegmentAssigner? _segments;
    private readonly long _sessionTimeoutMs;

    /// <param name="options">Session timeout and state TTL.</param>
    /// <param name="geo">Resolves IPs to countries for <see cref="UserFeature.DistinctCountries"/>; without it the feature is 0.</param>
    /// <param name="reservoir">The training sample to refresh, or null.</param>
    /// <param name="segments">Assigns segments and publishes the insights, or null.</param>
    public UserFeaturesOperator(UserFeatureOptions? options = null, IGeoLocator? geo = null, FeatureReservoir? reservoir = null,
        SegmentAssigner? segments = null)
        : base(OperatorName, (options ?? new UserFeatureOptions()).StateTtl, UserFeatureState.Serializer.Instance)
    {
        options ??= new UserFeatureOptions();
        options.Validate();
        _geo = geo;
        _reservoir = reservoir;
        _segments = segments;
        _sessionTimeoutMs = (long)options.SessionTimeout.TotalMilliseconds;
    }

    /// <summary>Writes a user's current features (original units); false when the user has no state here.</summary>
    public bool TryGetFeatures(string userId, Span<float> features)
    {
        ArgumentNullException.ThrowIfNull(userId);
        if (!State.TryGetValue(userId, out var state))
        {
            return false;
        }
        state.WriteTo(features);
        return true;
    }

    protected override string? KeyOf(in UserEvent evt) => evt.UserId;

    // Per key slot of this operator's state, where the user was last put in the reservoir, so that an offer skips the
    // reservoir's hash, lookup and lock; the reservoir checks every hint, so a slot passed to another user or a user
    // dropped from the sample only costs that check.
    private ReservoirHint[] _reservoirHints = [];

    private void OfferToReservoir(string key, in UserFeatureState state, long timestampMs)
    {
        var keySlot = State.SlotOf(key);
        if (keySlot < 0)
        {
            _reservoir!.Offer(key, in state, timestampMs);
            return;
        }
        if (keySlot >= _reservoirHints.Length)
        {
            Array.Resize(ref _reservoirHints, Math.Max(keySlot + 1, _reservoirHints.Length * 2));
        }
        _reservoir!.Offer(key, in state, timestampMs, ref _reservoirHints[keySlot]);
    }

    protected override void Process(string key, ref UserFeatureState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        state.Add(evt, _geo, _sessionTimeoutMs);
        // The reservoir keeps the state and derives the features when the trainer reads the sample.
        if (_reservoir is not null)
        {
            OfferToReservoir(key, in state, timestampMs);
        }
        if (_segments is not null && _segments.IsDue(in state))
        {
            Span<float> features = stackalloc float[UserFeatures.Count];
            state.WriteTo(features);
            _segments.Update(key, ref state, features, evt);
        }
    }
}
