using Vigil.Core.Alerts;
using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="BruteForceDetector"/>.</summary>
public sealed record BruteForceOptions
{
    /// <summary>Failures within <see cref="Window"/> that make an attack (Microsoft Sentinel's default).</summary>
    public int Threshold { get; init; } = 5;

    /// <summary>The event-time window the failures must fall in.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A success within this time after the alert raises a second, HIGH alert.</summary>
    public TimeSpan SuccessWithin { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Keep at most this many failure timestamps per user; older ones are counted, not stored.</summary>
    public int MaxTracked { get; init; } = 64;
}

/// <summary>
/// BRUTE_FORCE per user: at least <see cref="BruteForceOptions.Threshold"/> LOGIN_FAILED within
/// <see cref="BruteForceOptions.Window"/> of event time raises a MEDIUM alert; a LOGIN_SUCCESS soon after raises HIGH.
/// </summary>
/// <remarks>
/// The walking-skeleton version of the rule: it keys by user in a dictionary and evaluates in arrival order.
/// One alert is raised each time the count crosses the threshold, so a 40-failure burst is one alert, not 36.
/// Not thread-safe: one instance per partition.
/// </remarks>
public sealed class BruteForceDetector(BruteForceOptions options, TimeProvider clock)
{
    /// <summary>The rule name on the alerts.</summary>
    public const string Rule = "BRUTE_FORCE";

    private readonly Dictionary<string, UserState> _users = new(StringComparer.Ordinal);

    /// <summary>Users with state.</summary>
    public int TrackedUsers => _users.Count;

    /// <summary>Feeds one event; appends any alert it raises to <paramref name="output"/>.</summary>
    public void Process(UserEvent evt, List<Alert> output)
    {
        ArgumentNullException.ThrowIfNull(evt);
        ArgumentNullException.ThrowIfNull(output);
        if (evt.Type == EventType.LoginFailed)
        {
            OnFailure(evt, output);
        }
        else if (evt.Type == EventType.LoginSuccess && evt.UserId is not null
            && _users.TryGetValue(evt.UserId, out var state))
        {
            OnSuccess(evt, state, output);
        }
    }

    /// <summary>Drops users whose last failure is older than every window that could still use it.</summary>
    public int EvictIdle(long watermarkMs)
    {
        var horizon = (long)Math.Max(options.Window.TotalMilliseconds, options.SuccessWithin.TotalMilliseconds);
        List<string>? idle = null;
        foreach (var (key, state) in _users)
        {
            if (state.LastSeenMs + horizon < watermarkMs)
            {
                (idle ??= []).Add(key);
            }
        }
        if (idle is null)
        {
            return 0;
        }
        foreach (var key in idle)
        {
            _users.Remove(key);
        }
        return idle.Count;
    }

    private void OnFailure(UserEvent evt, List<Alert> output)
    {
        var key = evt.SubjectKey;
        if (key.Length == 0)
        {
            return;
        }
        if (!_users.TryGetValue(key, out var state))
        {
            state = new UserState(options.MaxTracked);
            _users[key] = state;
        }
        var windowMs = (long)options.Window.TotalMilliseconds;
        // The window ends at the latest failure seen, so a late, out-of-order failure still counts towards it.
        var endMs = Math.Max(evt.TimestampMs, state.LatestFailureMs);
        var wasAbove = state.Count(endMs, windowMs) >= options.Threshold;
        state.Add(evt);
        var count = state.Count(endMs, windowMs);
        if (wasAbove || count < options.Threshold)
        {
            return;
        }

        var (eventIds, ips, firstMs) = state.InWindow(endMs, windowMs);
        var windowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs);
        var windowEnd = DateTimeOffset.FromUnixTimeMilliseconds(endMs);
        var alert = new Alert
        {
            AlertId = Alert.MakeId(Rule, key, evt.EventId),
            Rule = Rule,
            Severity = Severity.Medium,
            UserId = evt.UserId,
            IpAddress = evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = clock.GetUtcNow(),
            WindowStart = windowStart,
            WindowEnd = windowEnd,
            Score = Math.Min(1.0, 0.5 + (0.05 * (count - options.Threshold))),
            Summary = $"{count} failed logins in {Seconds(endMs - firstMs)} s for {(evt.UserId ?? evt.Username)} from {ips.Count} IP{(ips.Count == 1 ? "" : "s")}",
            Evidence = new Dictionary<string, object?>
            {
                ["eventIds"] = eventIds,
                ["failures"] = count,
                ["distinctIps"] = ips,
                ["threshold"] = options.Threshold,
                ["windowSeconds"] = (int)options.Window.TotalSeconds,
                ["username"] = evt.Username,
            },
        };
        state.LastAlert = alert;
        output.Add(alert);
    }

    private void OnSuccess(UserEvent evt, UserState state, List<Alert> output)
    {
        state.LastSeenMs = Math.Max(state.LastSeenMs, evt.TimestampMs);
        if (state.LastAlert is not { } previous
            || evt.TimestampMs < previous.EventTime.ToUnixTimeMilliseconds()
            || evt.Timestamp - previous.EventTime > options.SuccessWithin)
        {
            return;
        }
        state.LastAlert = null;
        var failures = previous.Evidence.TryGetValue("failures", out var f) ? f : null;
        var eventIds = new List<string>();
        if (previous.Evidence.TryGetValue("eventIds", out var ids) && ids is List<string> list)
        {
            eventIds.AddRange(list);
        }
        eventIds.Add(evt.EventId);
        output.Add(previous with
        {
            AlertId = Alert.MakeId(Rule, evt.SubjectKey, evt.EventId),
            Severity = Severity.High,
            IpAddress = evt.IpAddress ?? previous.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = clock.GetUtcNow(),
            WindowEnd = evt.Timestamp,
            Score = Math.Max(previous.Score, 0.9),
            Summary = $"{failures} failed logins, then a success {Seconds(evt.TimestampMs - previous.EventTime.ToUnixTimeMilliseconds())} s later from {evt.IpAddress ?? "an unknown IP"}",
            Evidence = new Dictionary<string, object?>(previous.Evidence)
            {
                ["eventIds"] = eventIds,
                ["successEventId"] = evt.EventId,
                ["successIp"] = evt.IpAddress,
                ["previousAlertId"] = previous.AlertId,
            },
        });
    }

    private static long Seconds(long ms) => (ms + 500) / 1000;

    /// <summary>A small ring of recent failures for one user.</summary>
    private sealed class UserState(int capacity)
    {
        private readonly long[] _times = new long[capacity];
        private readonly string[] _eventIds = new string[capacity];
        private readonly string?[] _ips = new string?[capacity];
        private int _start;
        private int _count;

        public long LastSeenMs { get; set; }

        public long LatestFailureMs { get; private set; } = long.MinValue;

        public Alert? LastAlert { get; set; }

        public void Add(UserEvent evt)
        {
            // Events arrive nearly in order; an insertion from the back keeps the ring sorted by time.
            if (_count == _times.Length)
            {
                _start = (_start + 1) % _times.Length;
                _count--;
            }
            var pos = _count;
            while (pos > 0 && _times[Index(pos - 1)] > evt.TimestampMs)
            {
                var from = Index(pos - 1);
                var to = Index(pos);
                _times[to] = _times[from];
                _eventIds[to] = _eventIds[from];
                _ips[to] = _ips[from];
                pos--;
            }
            var at = Index(pos);
            _times[at] = evt.TimestampMs;
            _eventIds[at] = evt.EventId;
            _ips[at] = evt.IpAddress;
            _count++;
            LastSeenMs = Math.Max(LastSeenMs, evt.TimestampMs);
            LatestFailureMs = Math.Max(LatestFailureMs, evt.TimestampMs);
        }

        public int Count(long nowMs, long windowMs)
        {
            var n = 0;
            for (var i = 0; i < _count; i++)
            {
                var t = _times[Index(i)];
                if (t > nowMs - windowMs && t <= nowMs)
                {
                    n++;
                }
            }
            return n;
        }

        public (List<string> EventIds, List<string> Ips, long FirstMs) InWindow(long nowMs, long windowMs)
        {
            var ids = new List<string>();
            var ips = new List<string>();
            var first = nowMs;
            for (var i = 0; i < _count; i++)
            {
                var at = Index(i);
                var t = _times[at];
                if (t <= nowMs - windowMs || t > nowMs)
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
    }
}
