using System.Runtime.InteropServices;
using Vigil.Core.Events;
using Vigil.Core.Geo;

namespace Vigil.Core.Features;

/// <summary>
/// The per-user features outside the engine: a plain dictionary of <see cref="UserFeatureState"/> fed one event at a
/// time, for batch jobs (<c>vigil ml features</c>) and tests. Same arithmetic as <see cref="UserFeaturesOperator"/>,
/// without TTL or checkpoints. Not thread-safe.
/// </summary>
public sealed class UserFeatureAggregator(UserFeatureOptions? options = null, IGeoLocator? geo = null)
{
    private readonly Dictionary<string, UserFeatureState> _users = new(StringComparer.Ordinal);
    private readonly long _sessionTimeoutMs = (long)(options ?? new UserFeatureOptions()).SessionTimeout.TotalMilliseconds;

    /// <summary>Users seen.</summary>
    public int Count => _users.Count;

    /// <summary>Adds one event to its user; events without a user id (failed logins of unknown accounts) are skipped.</summary>
    /// <returns>False when the event was skipped.</returns>
    public bool Add(UserEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        if (string.IsNullOrEmpty(evt.UserId))
        {
            return false;
        }
        ref var state = ref CollectionsMarshal.GetValueRefOrAddDefault(_users, evt.UserId, out _);
        state.Add(evt, geo, _sessionTimeoutMs);
        return true;
    }

    /// <summary>The state of a user, when seen.</summary>
    public bool TryGetState(string userId, out UserFeatureState state) => _users.TryGetValue(userId, out state);

    /// <summary>Writes a user's features; false when the user was not seen.</summary>
    public bool TryGetFeatures(string userId, Span<float> features)
    {
        if (!_users.TryGetValue(userId, out var state))
        {
            return false;
        }
        state.WriteTo(features);
        return true;
    }

    /// <summary>The user ids, in ordinal order.</summary>
    public IReadOnlyList<string> UserIds()
    {
        var ids = new string[_users.Count];
        _users.Keys.CopyTo(ids, 0);
        Array.Sort(ids, StringComparer.Ordinal);
        return ids;
    }
}
