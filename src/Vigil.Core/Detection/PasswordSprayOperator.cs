using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="PasswordSprayOperator"/>.</summary>
public sealed record PasswordSprayOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>Distinct accounts (user id, or the user name of an unknown account) one IP fails on within
    /// <see cref="Window"/> (Elastic's Entra ID brute-force rule: 15 users in 30 minutes).</summary>
    public int DistinctAccounts { get; init; } = 15;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Failures remembered per IP; must exceed <see cref="DistinctAccounts"/> with room for repeats.</summary>
    public int MaxTracked { get; init; } = 128;
}

/// <summary>
/// PASSWORD_SPRAY: one IP failing on at least <see cref="PasswordSprayOptions.DistinctAccounts"/> distinct accounts
/// within <see cref="PasswordSprayOptions.Window"/> raises HIGH as the count is reached. HIGH rather than MEDIUM: many
/// accounts are exposed at once and the pattern (few passwords, many accounts) has no innocent reading at this
/// breadth. Keyed by IP (<see cref="DetectionScope.Shared"/>).
/// </summary>
public sealed class PasswordSprayOperator(PasswordSprayOptions options, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, PasswordSprayState, Alert>(RuleNames.PasswordSpray, options.Window,
        new DelegateStateSerializer<PasswordSprayState>((w, s) => s.Write(w), r => PasswordSprayState.Read(r, options.MaxTracked)))
{
    private readonly HashSet<string> _scratch = new(StringComparer.Ordinal);

    protected override string? KeySpace => KeySpaces.Ip;

    protected override string? KeyOf(in UserEvent evt) =>
        evt.Type == EventType.LoginFailed && (evt.UserId ?? evt.Username) is not null ? evt.IpAddress : null;

    protected override void Process(string key, ref PasswordSprayState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        if (created)
        {
            state = PasswordSprayState.Initial;
        }
        ref var ring = ref state.Failures;
        var windowMs = (long)options.Window.TotalMilliseconds;
        var endMs = Math.Max(evt.TimestampMs, ring.LatestMs);
        ring.Add(new RingEntry(evt.TimestampMs, evt.EventId, evt.UserId ?? evt.Username, key), options.MaxTracked);
        var first = ring.FirstAfter(endMs - windowMs);
        _scratch.Clear();
        for (var i = first; i < ring.Count; i++)
        {
            _scratch.Add(ring[i].Subject!);
        }
        var distinct = _scratch.Count;
        var above = distinct >= options.DistinctAccounts;
        var rose = above && !state.Above;
        state.Above = above;
        if (!rose)
        {
            ring.DropThrough(ring.LatestMs - windowMs);
            return;
        }
        var ids = new List<string>(ring.Count - first);
        var accounts = new List<string>(distinct);
        _scratch.Clear();
        for (var i = first; i < ring.Count; i++)
        {
            ref readonly var e = ref ring[i];
            ids.Add(e.EventId);
            if (_scratch.Add(e.Subject!))
            {
                accounts.Add(e.Subject!);
            }
        }
        var firstMs = ring[first].TimeMs;
        ring.DropThrough(ring.LatestMs - windowMs);
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(RuleNames.PasswordSpray, key, evt.EventId),
            Rule = RuleNames.PasswordSpray,
            Severity = Severity.High,
            UserId = evt.UserId,
            IpAddress = key,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(endMs),
            Score = Math.Min(1.0, 0.7 + (0.01 * (distinct - options.DistinctAccounts))),
            Summary = $"{key} failed to log in to {distinct} different accounts in {Evidence.Text((endMs - firstMs) / 60_000.0, 1)} min ({ids.Count} attempts): password spraying; block the address and check those accounts for later successes",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = ids,
                [Evidence.Entity] = Evidence.Ip(key),
                ["failures"] = ids.Count,
                ["distinctAccounts"] = distinct,
                ["accounts"] = accounts,
                ["threshold"] = options.DistinctAccounts,
                ["windowMinutes"] = (int)options.Window.TotalMinutes,
            },
        });
    }
}

/// <summary>Per-IP state of <see cref="PasswordSprayOperator"/>: a struct inline in the keyed-state page, its ring
/// too, so an address that failed once costs 64 bytes inline and no object (a state object, a ring object and a
/// one-entry array, 144 bytes, before); more failures go to an array. A new key's state is <see cref="Initial"/>.</summary>
public struct PasswordSprayState
{
    /// <summary>The failures within the window (a field, so the operator changes it in place through a ref).</summary>
    public InlineEventRing Failures;

    /// <summary>The state of an address not seen yet.</summary>
    public static PasswordSprayState Initial => new() { Failures = InlineEventRing.Empty };

    /// <summary>Whether the last failure left the count at or above the threshold (alerts fire on the rise).</summary>
    public bool Above { get; set; }

    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Failures.Write(writer);
        writer.Write(Above);
    }

    public static PasswordSprayState Read(BinaryReader reader, int capacity)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new PasswordSprayState { Failures = InlineEventRing.Read(reader, capacity), Above = reader.ReadBoolean() };
    }
}
