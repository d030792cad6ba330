using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="BruteForceOperator"/>.</summary>
public sealed record BruteForceOptions
{
    /// <summary>Failures within <see cref="Window"/> that make an attack (Microsoft Sentinel's default).</summary>
    public int Threshold { get; init; } = 5;

    /// <summary>The event-time window the failures must fall in.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A success within this time after the alert raises a second, HIGH alert.</summary>
    public TimeSpan SuccessWithin { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Keep at most this many failures per user; older ones fall out of the ring.</summary>
    public int MaxTracked { get; init; } = 64;
}

/// <summary>
/// BRUTE_FORCE per user: at least <see cref="BruteForceOptions.Threshold"/> LOGIN_FAILED within
/// <see cref="BruteForceOptions.Window"/> of event time raises a MEDIUM alert as soon as the threshold is crossed (no
/// wait for the watermark); a LOGIN_SUCCESS within <see cref="BruteForceOptions.SuccessWithin"/> after it raises HIGH.
/// </summary>
/// <remarks>
/// One alert each time the count crosses the threshold, so a 40-failure burst is one alert, not 36. The window ends
/// at the latest failure seen, so a slightly out-of-order failure still counts. Keyed by user id, or by the user
/// name for failures against unknown accounts. State is checkpointed; a key is dropped after it has been idle for
/// the longer of the two windows.
/// </remarks>
public sealed class BruteForceOperator(BruteForceOptions options, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, BruteForceState, Alert>(Rule, Max(options.Window, options.SuccessWithin),
        new BruteForceState.Serializer(options.MaxTracked))
{
    /// <summary>The rule name on the alerts, and the operator's checkpoint section.</summary>
    public const string Rule = "BRUTE_FORCE";

    protected override string? KeyOf(in UserEvent evt) => evt.Type switch
    {
        EventType.LoginFailed => evt.UserId ?? evt.Username,
        // A success matters only to a user with failures on record: the others get no state for it.
        EventType.LoginSuccess when evt.UserId is { } user && State.ContainsKey(user) => user,
        _ => null,
    };

    protected override void Process(string key, ref BruteForceState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        if (created)
        {
            state = BruteForceState.Initial;
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

    private void OnFailure(string key, ref BruteForceState state, in UserEvent evt, IOutput<Alert> output)
    {
        var windowMs = (long)options.Window.TotalMilliseconds;
        var endMs = Math.Max(evt.TimestampMs, state.LatestFailureMs);
        var wasAbove = state.Count(endMs, windowMs) >= options.Threshold;
        state.Add(evt.TimestampMs, evt.EventId, evt.IpAddress, options.MaxTracked);
        var count = state.Count(endMs, windowMs);
        if (wasAbove || count < options.Threshold)
        {
            return;
        }
        var (eventIds, ips, firstMs) = state.InWindow(endMs, windowMs);
        var id = Alert.MakeId(Rule, key, evt.EventId);
        state.AlertId = id;
        state.AlertTimeMs = evt.TimestampMs;
        state.AlertFailures = count;
        output.Emit(new Alert
        {
            AlertId = id,
            Rule = Rule,
            Severity = Severity.Medium,
            UserId = evt.UserId,
            IpAddress = evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(endMs),
            Score = Math.Min(1.0, 0.5 + (0.05 * (count - options.Threshold))),
            Summary = $"{count} failed logins in {Seconds(endMs - firstMs)} s for {evt.UserId ?? evt.Username} from {ips.Count} IP{(ips.Count == 1 ? "" : "s")}",
            Evidence = new Dictionary<string, object?>
            {
                ["eventIds"] = eventIds,
                ["failures"] = count,
                ["distinctIps"] = ips,
                ["threshold"] = options.Threshold,
                ["windowSeconds"] = (int)options.Window.TotalSeconds,
                ["username"] = evt.Username,
                [Evidence.Entity] = Evidence.Subject(evt.UserId, evt.Username),
            },
        });
    }

    private void OnSuccess(string key, ref BruteForceState state, in UserEvent evt, IOutput<Alert> output)
    {
        if (state.AlertId is not { } previousId || evt.TimestampMs < state.AlertTimeMs
            || evt.TimestampMs - state.AlertTimeMs > (long)options.SuccessWithin.TotalMilliseconds)
        {
            return;
        }
        var (eventIds, ips, firstMs) = state.InWindow(state.AlertTimeMs, (long)options.Window.TotalMilliseconds);
        eventIds.Add(evt.EventId);
        var failures = state.AlertFailures;
        var alertTimeMs = state.AlertTimeMs;
        state.AlertId = null;
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(Rule, key, evt.EventId),
            Rule = Rule,
            Severity = Severity.High,
            UserId = evt.UserId,
            IpAddress = evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = evt.Timestamp,
            Score = 0.9,
            Summary = $"{failures} failed logins, then a success {Seconds(evt.TimestampMs - alertTimeMs)} s later from {evt.IpAddress ?? "an unknown IP"}",
            Evidence = new Dictionary<string, object?>
            {
                ["eventIds"] = eventIds,
                ["failures"] = failures,
                ["distinctIps"] = ips,
                ["successEventId"] = evt.EventId,
                ["successIp"] = evt.IpAddress,
                ["previousAlertId"] = previousId,
                ["threshold"] = options.Threshold,
                ["windowSeconds"] = (int)options.Window.TotalSeconds,
                [Evidence.Entity] = Evidence.Subject(evt.UserId, evt.Username),
            },
        });
    }

    private static long Seconds(long ms) => (ms + 500) / 1000;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

/// <summary>Per-user state of <see cref="BruteForceOperator"/>: a ring of recent failures, sorted by time, and the open
/// alert.</summary>
/// <remarks>A struct inline in the keyed-state page (80 bytes) with its ring inline too: a user who failed once costs
/// no object, where a state object and three arrays were 176 bytes. A new key's state is
/// <see cref="Initial"/>.</remarks>
public struct BruteForceState
{
    // Failures with no subject (the key is the subject); kept up to the capacity whatever their age, as the window is
    // counted at the time asked for.
    private InlineEventRing _failures;

    /// <summary>The state of a user not seen yet.</summary>
    public static BruteForceState Initial => new() { _failures = InlineEventRing.Empty };

    public readonly long LatestFailureMs => _failures.LatestMs;

    /// <summary>The MEDIUM alert a success may still escalate; null when none.</summary>
    public string? AlertId { get; set; }

    public long AlertTimeMs { get; set; }

    public int AlertFailures { get; set; }

    /// <summary>Adds a failure in time order, dropping the oldest when <paramref name="capacity"/> are held.</summary>
    public void Add(long timeMs, string eventId, string? ip, int capacity) =>
        _failures.Add(new RingEntry(timeMs, eventId, null, ip), capacity);

    /// <summary>Failures within (endMs − windowMs, endMs].</summary>
    public readonly int Count(long endMs, long windowMs)
    {
        var n = 0;
        for (var i = 0; i < _failures.Count; i++)
        {
            var t = _failures[i].TimeMs;
            if (t > endMs - windowMs && t <= endMs)
            {
                n++;
            }
        }
        return n;
    }

    /// <summary>The ids and distinct addresses of the failures within (endMs − windowMs, endMs], and the first one's
    /// time (endMs when none).</summary>
    public readonly (List<string> EventIds, List<string> Ips, long FirstMs) InWindow(long endMs, long windowMs)
    {
        var ids = new List<string>();
        var ips = new List<string>();
        var first = endMs;
        for (var i = 0; i < _failures.Count; i++)
        {
            ref readonly var e = ref _failures[i];
            if (e.TimeMs <= endMs - windowMs || e.TimeMs > endMs)
            {
                continue;
            }
            first = Math.Min(first, e.TimeMs);
            ids.Add(e.EventId);
            if (e.Ip is { } ip && !ips.Contains(ip))
            {
                ips.Add(ip);
            }
        }
        return (ids, ips, first);
    }

    /// <summary>Checkpoint form: the failures oldest first, then the open alert.</summary>
    public sealed class Serializer(int capacity) : IStateSerializer<BruteForceState>
    {
        public void Write(BinaryWriter writer, BruteForceState value)
        {
            ArgumentNullException.ThrowIfNull(writer);
            var failures = value._failures;
            writer.Write(failures.Count);
            for (var i = 0; i < failures.Count; i++)
            {
                ref readonly var e = ref failures[i];
                writer.Write(e.TimeMs);
                writer.Write(e.EventId);
                writer.Write(e.Ip is not null);
                if (e.Ip is { } ip)
                {
                    writer.Write(ip);
                }
            }
            writer.Write(value.LatestFailureMs);
            writer.Write(value.AlertId is not null);
            if (value.AlertId is { } id)
            {
                writer.Write(id);
                writer.Write(value.AlertTimeMs);
                writer.Write(value.AlertFailures);
            }
        }

        public BruteForceState Read(BinaryReader reader)
        {
            ArgumentNullException.ThrowIfNull(reader);
            var state = Initial;
            var count = reader.ReadInt32();
            if (count < 0 || count > capacity)
            {
                throw new InvalidDataException($"A brute-force state claims {count} failures; at most {capacity} fit.");
            }
            for (var i = 0; i < count; i++)
            {
                var t = reader.ReadInt64();
                var id = reader.ReadString();
                var ip = reader.ReadBoolean() ? reader.ReadString() : null;
                state.Add(t, id, ip, capacity);
            }
            state._failures.LatestMs = reader.ReadInt64();
            if (reader.ReadBoolean())
            {
                state.AlertId = reader.ReadString();
                state.AlertTimeMs = reader.ReadInt64();
                state.AlertFailures = reader.ReadInt32();
            }
            return state;
        }
    }
}
