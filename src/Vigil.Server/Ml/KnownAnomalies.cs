namespace Vigil.Server.Ml;

/// <summary>
/// Users known to behave anomalously (for example the simulator's BEHAVIOR_ANOMALY campaign targets), against which
/// each trained forest's ROC AUC is measured. Empty by default: then no AUC is reported. Thread-safe.
/// </summary>
public sealed class KnownAnomalies
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _users = new(StringComparer.Ordinal);

    /// <summary>Adds labelled users.</summary>
    public void Add(IEnumerable<string> userIds)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        lock (_lock)
        {
            _users.UnionWith(userIds);
        }
    }

    /// <summary>A copy of the labelled users; null when there are none.</summary>
    public IReadOnlySet<string>? Snapshot()
    {
        lock (_lock)
        {
            return _users.Count == 0 ? null : new HashSet<string>(_users, StringComparer.Ordinal);
        }
    }
}
