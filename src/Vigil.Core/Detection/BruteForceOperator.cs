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
        state ??= new BruteForceState(options.MaxTracked);
        if (evt.Type == EventType.LoginFailed)
        {
            OnFailure(key, state, evt, output);
        }
        else
        {
            OnSuccess(key, state, evt, output);
        }
    }

    private void OnFailure(string key, BruteForceState state, UserEvent evt, IOutput<Alert> output)
    {
        var windowMs = (long)options.Window.TotalMilliseconds;
        var endMs = Math.Max(evt.TimestampMs, state.LatestFailureMs);
        var wasAbove = state.Count(endMs, windowMs) >= options.Threshold;
        state.Add(evt.TimestampMs, evt.EventId, evt.IpAddress);
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

    private void OnSuccess(string key, BruteForceState state, UserEvent evt, IOutput<Alert> output)
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

/// <summary>Per-user state of <see cref="BruteForceOperator"/>: a ring of recent failures, sorted by time, and the open alert.</summary>
public sealed class BruteForceState(int capacity)
{
    // Grown on demand up to capacity: most users never fail a login, and a full ring per user was 1.6 KB of state.
    private long[] _times = [];
    private string[] _eventIds = [];
    private string?[] _ips = [];
    private int _start;
    private int _count;

    public long LatestFailureMs { get; private set; } = long.MinValue;

    /// <summary>The MEDIUM alert a success may still escalate; null when none.</summary>
    public string? AlertId { get; set; }

    public long AlertTimeMs { get; set; }

    public int AlertFailures { get; set; }

    public void Add(long timeMs, string eventId, string? ip)
    {
        if (_count == _times.Length && _count < capacity)
        {
            Grow();
        }
        else if (_count == _times.Length)
        {
            _start = (_start + 1) % _times.Length;
            _count--;
        }
        // Events arrive nearly in order; inserting from the back keeps the ring sorted by time.
        var pos = _count;
        while (pos > 0 && _times[Index(pos - 1)] > timeMs)
        {
            var from = Index(pos - 1);
            var to = Index(pos);
            _times[to] = _times[from];
            _eventIds[to] = _eventIds[from];
            _ips[to] = _ips[from];
            pos--;
        }
        var at = Index(pos);
        _times[at] = timeMs;
        _eventIds[at] = eventId;
        _ips[at] = ip;
        _count++;
        LatestFailureMs = Math.Max(LatestFailureMs, timeMs);
    }

    public int Count(long endMs, long windowMs)
    {
        var n = 0;
        for (var i = 0; i < _count; i++)
        {
            var t = _times[Index(i)];
            if (t > endMs - windowMs && t <= endMs)
            {
                n++;
            }
        }
        return n;
    }

    public (List<string> EventIds, List<string> Ips, long FirstMs) InWindow(long endMs, long windowMs)
    {
        var ids = new List<string>();
        var ips = new List<string>();
        var first = endMs;
        for (var i = 0; i < _count; i++)
        {
            var at = Index(i);
            var t = _times[at];
            if (t <= endMs - windowMs || t > endMs)
            {
                continue;
            }
            first = Math.Min(first, t);
            ids.Add(_eventIds[at]);
            if (_ips[at] is { } ip && !ips.Contains(ip))
            {
                ips.Add(ip);
            }
        }
        return (ids, ips, first);
    }

    private int Index(int i) => (_start + i) % _times.Length;

    private void Grow()
    {
        // From one entry: most users who fail, fail once (three arrays of four were 168 bytes for that one failure).
        var size = Math.Min(capacity, Math.Max(1, _times.Length * 2));
        var times = new long[size];
        var ids = new string[size];
        var ips = new string?[size];
        for (var i = 0; i < _count; i++)
        {
            var at = Index(i);
            times[i] = _times[at];
            ids[i] = _eventIds[at];
            ips[i] = _ips[at];
        }
        _times = times;
        _eventIds = ids;
        _ips = ips;
        _start = 0;
    }

    /// <summary>Checkpoint form: the failures oldest first, then the open alert.</summary>
    public sealed class Serializer(int capacity) : IStateSerializer<BruteForceState>
    {
        public void Write(BinaryWriter writer, BruteForceState value)
        {
            ArgumentNullException.ThrowIfNull(writer);
            ArgumentNullException.ThrowIfNull(value);
            writer.Write(value._count);
            for (var i = 0; i < value._count; i++)
            {
                var at = value.Index(i);
                writer.Write(value._times[at]);
                writer.Write(value._eventIds[at]);
                writer.Write(value._ips[at] is not null);
                if (value._ips[at] is { } ip)
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
            var state = new BruteForceState(capacity);
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
                state.Add(t, id, ip);
            }
            state.LatestFailureMs = reader.ReadInt64();
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
