using Vigil.Core.Alerts;
using Vigil.Core.Events;
using Vigil.Core.Ml;

namespace Vigil.Storage;

/// <summary>Filters, paging and sort order of an alert query.</summary>
public sealed record AlertQuery
{
    public Severity? Severity { get; init; }

    public string? Rule { get; init; }

    public AlertStatus? Status { get; init; }

    public string? UserId { get; init; }

    public string? IpAddress { get; init; }

    /// <summary>Inclusive lower bound on event time.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Exclusive upper bound on event time.</summary>
    public DateTimeOffset? To { get; init; }

    public int Limit { get; init; } = 100;

    public int Offset { get; init; }

    /// <summary>Newest first by event time when true (the default), oldest first otherwise.</summary>
    public bool Descending { get; init; } = true;
}

/// <summary>Alert counts by severity.</summary>
public readonly record struct SeverityCounts(long Low, long Medium, long High, long Critical)
{
    public long Total => Low + Medium + High + Critical;
}

/// <summary>The outcome of a status change.</summary>
public enum StatusChangeOutcome
{
    Changed,
    NotFound,

    /// <summary>The workflow does not allow the move from the alert's current status.</summary>
    NotAllowed,
}

/// <summary>One line of the audit log of privileged actions.</summary>
public sealed record AuditEntry(DateTimeOffset At, string Actor, string Role, string Action, string? Target, string? Detail);

/// <summary>A user's segment and behaviour, a row of user_behavior_patterns.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Segment">The segment's name.</param>
/// <param name="SegmentIndex">The segment's index in the model that assigned it.</param>
/// <param name="ModelVersion">The segment model that assigned it.</param>
/// <param name="Features">The user's features when assigned, by name, in original units.</param>
/// <param name="AnomalyScore">The latest anomaly score, when one was recorded.</param>
/// <param name="UpdatedAt">Event time of the update; an older update never overwrites a newer one.</param>
public sealed record UserBehaviorPattern(
    string UserId,
    string Segment,
    int SegmentIndex,
    int ModelVersion,
    IReadOnlyDictionary<string, double> Features,
    double? AnomalyScore,
    DateTimeOffset UpdatedAt);

/// <summary>A user's latest anomaly score, for user_behavior_patterns.anomaly_score.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Score">The score in (0, 1].</param>
/// <param name="At">Event time of the scored event; the latest wins within a batch.</param>
public readonly record struct UserAnomalyScore(string UserId, double Score, DateTimeOffset At);

/// <summary>The number of users stored in one segment.</summary>
public readonly record struct SegmentCount(string Segment, long Users);

/// <summary>
/// The persistent store of alerts and dead letters. Implemented for PostgreSQL and SQLite; both pass the
/// same test suite. Writes are idempotent: an alert id or a dead letter's (topic, partition, offset)
/// already stored is skipped, so a replay after a crash does not duplicate rows.
/// </summary>
public interface IVigilStore : IAsyncDisposable
{
    /// <summary>Which database this is, for health output: <c>sqlite</c> or <c>postgresql</c>.</summary>
    string Kind { get; }

    /// <summary>Applies the versioned migrations not yet applied.</summary>
    Task MigrateAsync(CancellationToken ct);

    /// <summary>
    /// Inserts the alerts not already stored, and applies suppression updates: a repeat of a stored alert id with a
    /// higher <c>evidence.occurrences</c> replaces its evidence, window end, score and summary (never its workflow
    /// status); a lower or equal count, as a replay re-emits, changes nothing. Returns the rows inserted or updated.
    /// </summary>
    Task<int> InsertAlertsAsync(IReadOnlyList<Alert> alerts, CancellationToken ct);

    Task<IReadOnlyList<Alert>> QueryAlertsAsync(AlertQuery query, CancellationToken ct);

    Task<Alert?> GetAlertAsync(string alertId, CancellationToken ct);

    Task<SeverityCounts> CountAlertsBySeverityAsync(CancellationToken ct);

    /// <summary>
    /// Moves an alert along the workflow (see <see cref="Alert.CanMove"/>), recording who, when and why. Safe against
    /// concurrent changes: the update only applies if the status is still the one the check saw.
    /// </summary>
    Task<(StatusChangeOutcome Outcome, Alert? Alert)> ChangeAlertStatusAsync(string alertId, AlertStatus to, string actor,
        string? note, DateTimeOffset at, CancellationToken ct);

    Task AppendAuditAsync(AuditEntry entry, CancellationToken ct);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> RecentAuditAsync(int limit, CancellationToken ct);

    /// <summary>Inserts the dead letters not already stored; returns how many were new.</summary>
    Task<int> InsertDeadLettersAsync(IReadOnlyList<DeadLetter> letters, CancellationToken ct);

    Task<long> CountDeadLettersAsync(CancellationToken ct);

    /// <summary>Newest dead letters first.</summary>
    Task<IReadOnlyList<DeadLetter>> RecentDeadLettersAsync(int limit, CancellationToken ct);

    /// <summary>
    /// Retention: deletes alerts whose event time is before <paramref name="alertsBefore"/> (open ones only if
    /// <paramref name="includeOpen"/>), dead letters received before <paramref name="deadLettersBefore"/>, and audit
    /// entries before <paramref name="auditBefore"/>. Returns the rows deleted.
    /// </summary>
    Task<long> DeleteExpiredAsync(DateTimeOffset alertsBefore, bool includeOpen, DateTimeOffset deadLettersBefore,
        DateTimeOffset auditBefore, CancellationToken ct);

    /// <summary>
    /// Inserts or updates users' rows in user_behavior_patterns; a row is replaced only by one with an
    /// <see cref="UserBehaviorPattern.UpdatedAt"/> at least as new, so a replayed old insight cannot undo a newer one.
    /// Returns the rows written.
    /// </summary>
    Task<int> UpsertUserBehaviorPatternsAsync(IReadOnlyList<UserBehaviorPattern> patterns, CancellationToken ct);

    Task<UserBehaviorPattern?> GetUserBehaviorPatternAsync(string userId, CancellationToken ct);

    /// <summary>
    /// Sets anomaly_score on users' existing user_behavior_patterns rows (the latest per user in the batch wins); a
    /// user without a row (no segment yet) is skipped. Leaves updated_at alone, so segment updates are not held back.
    /// Returns the rows updated.
    /// </summary>
    Task<int> SetAnomalyScoresAsync(IReadOnlyList<UserAnomalyScore> scores, CancellationToken ct);

    /// <summary>Users per segment, largest first (ties by name).</summary>
    Task<IReadOnlyList<SegmentCount>> CountUsersBySegmentAsync(CancellationToken ct);

    /// <summary>Users of a segment in user id order, for paging.</summary>
    Task<IReadOnlyList<UserBehaviorPattern>> ListUsersInSegmentAsync(string segment, int limit, int offset, CancellationToken ct);

    /// <summary>Stores a model's record as an ml_model_metrics row; false when (kind, version) is already stored.</summary>
    Task<bool> InsertModelMetricsAsync(ModelInfo model, CancellationToken ct);

    /// <summary>Model records newest first, of one kind or (null) all.</summary>
    Task<IReadOnlyList<ModelInfo>> RecentModelMetricsAsync(string? modelKind, int limit, CancellationToken ct);

    /// <summary>True when the database answers a trivial query.</summary>
    Task<bool> PingAsync(CancellationToken ct);

    /// <summary>
    /// Makes every write committed so far durable: it survives a crash of the machine, not only of the process. The
    /// pipeline calls it after the sinks have persisted a checkpoint's outputs and before the checkpoint stores the
    /// offsets that produced them. PostgreSQL commits durably already (a no-op); SQLite commits the sinks' batches
    /// without waiting for the disk and syncs here, once per checkpoint rather than once per batch.
    /// </summary>
    Task SyncAsync(CancellationToken ct);
}
