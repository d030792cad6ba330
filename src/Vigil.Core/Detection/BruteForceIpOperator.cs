using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="BruteForceIpOperator"/>.</summary>
public sealed record BruteForceIpOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>Failures from one IP within <see cref="Window"/> (Wazuh rule 5765: 8 in 120 s).</summary>
    public int Threshold { get; init; } = 8;

    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>A success from the same IP within this time after the alert raises a HIGH alert.</summary>
    public TimeSpan SuccessWithin { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Failures remembered per IP (the evidence lists at most this many).</summary>
    public int MaxTracked { get; init; } = 64;
}

/// <summary>
/// BRUTE_FORCE_IP: at least <see cref="BruteForceIpOptions.Threshold"/> LOGIN_FAILED from one IP within
/// <see cref="BruteForceIpOptions.Window"/>, whatever the accounts, raises MEDIUM as the threshold is crossed; a
/// LOGIN_SUCCESS from that IP within <see cref="BruteForceIpOptions.SuccessWithin"/> afterwards raises HIGH (a guess
/// that worked). Keyed by IP: in serve it runs in the shared pipeline (<see cref="DetectionScope.Shared"/>).
/// </summary>
/// <remarks>One alert per crossing; the window ends at the latest failure seen. Successes only touch IPs that already
/// have state, so ordinary logins create none.</remarks>
public sealed class BruteForceIpOperator(BruteForceIpOptions options, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, BruteForceIpState, Alert>(RuleNames.BruteForceIp,
        options.Window > options.SuccessWithin ? options.Window : options.SuccessWithin,
        new DelegateStateSerializer<BruteForceIpState>((w, s) => s.Write(w), r => BruteForceIpState.Read(r, options.MaxTracked)))
{
    private readonly HashSet<string> _scratch = new(StringComparer.Ordinal);

    protected override string? KeySpace => KeySpaces.Ip;

    protected override string? KeyOf(in UserEvent evt) => evt.Type switch
    {
        EventType.LoginFailed => evt.IpAddress,
        EventType.LoginSuccess when evt.IpAddress is { } ip && State.ContainsKey(ip) => ip,
        _ => null,
    };

    protected override void Process(string key, ref BruteForceIpState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        if (created)
        {
            state = BruteForceIpState.Initial;
        }
        if (evt.Type == EventType.LoginFailed)
        {
            OnFailure(key, ref state, evt, output);
        }
        else
        {
            OnSuccess(key, ref state, evt, output);
        }
    }

    private void OnFailure(string ip, ref BruteForceIpState state, in UserEvent evt, IOutput<Alert> output)
    {
        var windowMs = (long)options.Window.TotalMilliseconds;
        ref var ring = ref state.Failures;
        var endMs = Math.Max(evt.TimestampMs, ring.LatestMs);
        var wasAbove = ring.Count - ring.FirstAfter(endMs - windowMs) >= options.Threshold;
        ring.Add(new RingEntry(evt.TimestampMs, evt.EventId, evt.UserId ?? evt.Username, ip), options.MaxTracked);
        var first = ring.FirstAfter(endMs - windowMs);
        var count = ring.Count - first;
        if (wasAbove || count < options.Threshold)
        {
            ring.DropThrough(ring.LatestMs - windowMs);
            return;
        }
        var ids = new List<string>(count);
        _scratch.Clear();
        var subjects = new List<string>();
        for (var i = first; i < ring.Count; i++)
        {
            ref readonly var e = ref ring[i];
            ids.Add(e.EventId);
            if (e.Subject is { } s && _scratch.Add(s))
            {
                subjects.Add(s);
            }
        }
        var firstMs = ring[first].TimeMs;
        var id = Alert.MakeId(Rule, ip, evt.EventId);
        state.AlertId = id;
        state.AlertTimeMs = evt.TimestampMs;
        state.AlertFailures = count;
        ring.DropThrough(ring.LatestMs - windowMs);
        output.Emit(new Alert
        {
            AlertId = id,
            Rule = Rule,
            Severity = Severity.Medium,
            UserId = evt.UserId,
            IpAddress = ip,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(endMs),
            Score = Math.Min(1.0, 0.6 + (0.02 * (count - options.Threshold))),
            Summary = $"{count} failed logins in {Evidence.Seconds(endMs - firstMs)} s from {ip} against {Evidence.Plural(subjects.Count, "account")}: block or rate-limit the address",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = ids,
                [Evidence.Entity] = Evidence.Ip(ip),
                ["failures"] = count,
                ["accounts"] = subjects,
                ["distinctAccounts"] = subjects.Count,
                ["threshold"] = options.Threshold,
                ["windowSeconds"] = (int)options.Window.TotalSeconds,
            },
        });
    }

    private void OnSuccess(string ip, ref BruteForceIpState state, in UserEvent evt, IOutput<Alert> output)
    {
        if (state.AlertId is not { } previousId || evt.TimestampMs < state.AlertTimeMs
            || evt.TimestampMs - state.AlertTimeMs > (long)options.SuccessWithin.TotalMilliseconds)
        {
            return;
        }
        var failures = state.AlertFailures;
        var alertTimeMs = state.AlertTimeMs;
        state.AlertId = null;
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(Rule, ip, evt.EventId),
            Rule = Rule,
            Severity = Severity.High,
            UserId = evt.UserId,
            IpAddress = ip,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(alertTimeMs),
            WindowEnd = evt.Timestamp,
            Score = 0.9,
            Summary = $"{failures} failed logins from {ip}, then {evt.UserId} logged in from it {Evidence.Seconds(evt.TimestampMs - alertTimeMs)} s later: check that account and reset its password",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = new List<string> { evt.EventId },
                [Evidence.Entity] = Evidence.Ip(ip),
                ["failures"] = failures,
                ["successEventId"] = evt.EventId,
                ["successUserId"] = evt.UserId,
                ["previousAlertId"] = previousId,
            },
        });
    }

    private static string Rule => RuleNames.BruteForceIp;
}

/// <summary>Per-IP state of <see cref="BruteForceIpOperator"/>: a struct inline in the keyed-state page, its ring too,
/// so an address that failed once costs 80 bytes inline and no object (a state object, a ring object and a one-entry
/// array, 160 bytes, before); more failures go to an array. A new key's state is <see cref="Initial"/>.</summary>
public struct BruteForceIpState
{
    /// <summary>The failures within the window (a field, so the operator changes it in place through a ref). Starts
    /// with one entry: most addresses fail once (a user's typo); an attacking address grows it by doubling.</summary>
    public InlineEventRing Failures;

    /// <summary>The state of an address not seen yet.</summary>
    public static BruteForceIpState Initial => new() { Failures = InlineEventRing.Empty };

    /// <summary>The MEDIUM alert a success may still escalate; null when none.</summary>
    public string? AlertId { get; set; }

    public long AlertTimeMs { get; set; }

    public int AlertFailures { get; set; }

    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Failures.Write(writer);
        StateIo.WriteNullable(writer, AlertId);
        writer.Write(AlertTimeMs);
        writer.Write(AlertFailures);
    }

    public static BruteForceIpState Read(BinaryReader reader, int capacity)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new BruteForceIpState
        {
            Failures = InlineEventRing.Read(reader, capacity),
            AlertId = StateIo.ReadNullable(reader),
            AlertTimeMs = reader.ReadInt64(),
            AlertFailures = reader.ReadInt32(),
        };
    }
}
