using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="RapidActivityOperator"/>.</summary>
public sealed record RapidActivityOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>Events of one user within <see cref="Window"/> above which the rate is inhuman whatever the user's
    /// habits (120 a minute: two actions a second, sustained).</summary>
    public int AbsoluteLimit { get; init; } = 120;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>A rate above this many times the user's own baseline (events per active minute) also fires.</summary>
    public double BaselineMultiple { get; init; } = 10;

    /// <summary>The relative test needs at least this many events in the window, so that 3 against a baseline of
    /// 0.2 is not a burst.</summary>
    public int BaselineMinEvents { get; init; } = 30;

    /// <summary>Active minutes seen before the baseline is trusted.</summary>
    public int BaselineMinMinutes { get; init; } = 10;

    /// <summary>Weight of the latest active minute in the baseline (an exponentially weighted mean).</summary>
    public double BaselineAlpha { get; init; } = 0.1;

    /// <summary>How long a user's baseline is kept after their last event.</summary>
    public TimeSpan HistoryTtl { get; init; } = TimeSpan.FromDays(7);
}

/// <summary>
/// RAPID_ACTIVITY, per user: more than <see cref="RapidActivityOptions.AbsoluteLimit"/> events within
/// <see cref="RapidActivityOptions.Window"/>, or more than <see cref="RapidActivityOptions.BaselineMultiple"/> times the
/// user's own baseline (with at least <see cref="RapidActivityOptions.BaselineMinEvents"/>) → MEDIUM, once per rise
/// above the limit: a script or scraper driving the account. Every event of the user counts except failed logins
/// (the brute-force rules' business) and notifications.
/// </summary>
public sealed class RapidActivityOperator(RapidActivityOptions options, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, RapidActivityState, Alert>(RuleNames.RapidActivity, options.HistoryTtl,
        new DelegateStateSerializer<RapidActivityState>((w, s) => s.Write(w), r => RapidActivityState.Read(r, options.AbsoluteLimit + 1)))
{
    private readonly HashSet<string> _scratch = new(StringComparer.Ordinal);

    // Users holding a ring, checked as the watermark moves.
    private readonly RingReleaseQueue _rings = new();

    // Failed logins belong to the brute-force rules: a burst of them is password guessing, not a session driven by a script.
    protected override string? KeyOf(in UserEvent evt) =>
        evt.Type == EventType.LoginFailed || NotificationEvents.IsNotification(evt) ? null : evt.UserId;

    protected override void Process(string key, ref RapidActivityState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        if (created)
        {
            state = RapidActivityState.Initial;
        }
        var minute = Math.DivRem(evt.TimestampMs, 60_000L, out var rem) - (rem < 0 ? 1 : 0);
        if (minute > state.Minute)
        {
            if (state.MinuteCount > 0)
            {
                state.Baseline = state.MinutesSeen == 0 ? state.MinuteCount
                    : state.Baseline + (options.BaselineAlpha * (state.MinuteCount - state.Baseline));
                state.MinutesSeen++;
            }
            state.MinuteCount = 0;
        }
        state.MinuteCount++;

        var windowMs = (long)options.Window.TotalMilliseconds;
        var endMs = Math.Max(evt.TimestampMs, state.LatestMs);
        state.LatestMs = endMs;
        var ring = state.Recent;
        if (ring is null)
        {
            // The ring lives only while the window can still count its events; OnWatermark lets it go.
            ring = state.Recent = new EventRing(options.AbsoluteLimit + 1, 4);
            _rings.Enqueue(State.SlotOf(key), state.LatestMs);
        }
        ring.Add(new RingEntry(evt.TimestampMs, evt.EventId, null, evt.IpAddress));
        ring.DropThrough(endMs - windowMs);
        var count = ring.Count;
        var absolute = count > options.AbsoluteLimit;
        var relative = state.MinutesSeen >= options.BaselineMinMinutes && count >= options.BaselineMinEvents
            && count > options.BaselineMultiple * state.Baseline;
        var above = absolute || relative;
        var rose = above && !state.Above;
        state.Above = above;
        if (!rose)
        {
            return;
        }
        var ids = new List<string>(Math.Min(count, 20));
        _scratch.Clear();
        var ips = new List<string>();
        for (var i = 0; i < count; i++)
        {
            ref readonly var e = ref ring[i];
            if (i < 10 || i >= count - 10)
            {
                ids.Add(e.EventId);
            }
            if (e.Ip is { } ip && _scratch.Add(ip))
            {
                ips.Add(ip);
            }
        }
        var firstMs = ring[0].TimeMs;
        var perMinute = count * 60_000.0 / windowMs;
        var why = absolute
            ? $"above the limit of {options.AbsoluteLimit}"
            : $"{Evidence.Text(count / Math.Max(state.Baseline, 1e-9), 0)}× this user's usual {Evidence.Text(state.Baseline, 1)} a minute";
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(RuleNames.RapidActivity, key, evt.EventId),
            Rule = RuleNames.RapidActivity,
            Severity = Severity.Medium,
            UserId = key,
            IpAddress = evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(endMs),
            Score = absolute ? Math.Min(1.0, 0.6 + (0.2 * ((double)count / options.AbsoluteLimit - 1))) : 0.6,
            Summary = $"{count} events in {Evidence.Seconds(endMs - firstMs)} s from {key} ({why}){(evt.UserAgent is { } ua ? $", user agent {Truncate(ua)}" : "")}: automation on the account; throttle it and check for scraping",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = ids,
                [Evidence.Entity] = Evidence.User(key),
                ["events"] = count,
                ["eventsPerMinute"] = Evidence.Round(perMinute),
                ["absoluteLimit"] = options.AbsoluteLimit,
                ["baselinePerMinute"] = state.MinutesSeen > 0 ? Evidence.Round(state.Baseline, 2) : null,
                ["baselineMinutes"] = state.MinutesSeen,
                ["baselineMultiple"] = options.BaselineMultiple,
                ["trigger"] = absolute ? "absolute" : "baseline",
                ["ips"] = ips,
                ["userAgent"] = evt.UserAgent,
            },
        });
    }

    /// <summary>Once the watermark passes this, every event still on time lies more than a window after the latest one
    /// seen, so each event in the ring would be dropped before being counted again: the ring can go.</summary>
    private long ReleaseAt(long latestMs) => latestMs + (long)options.Window.TotalMilliseconds + Context.AllowedLatenessMs;

    /// <summary>Evicts idle users, then releases the rings whose time has passed. The queue is in filing order, which
    /// is event time up to the disorder the watermark allows, so a ring may be let go a little late, never early; a
    /// ring that took events since it was filed goes back in the queue with its new latest time.</summary>
    public override void OnWatermark(long watermarkMs, IOutput<Alert> output)
    {
        base.OnWatermark(watermarkMs, output);
        while (_rings.TryPeek(out var slot, out var filedMs) && ReleaseAt(filedMs) < watermarkMs)
        {
            _rings.Dequeue();
            ref var state = ref State.GetValueRefAtSlotOrNullRef(slot);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref state) || state.Recent is null)
            {
                continue;
            }
            if (ReleaseAt(state.LatestMs) < watermarkMs)
            {
                state.Recent = null;
            }
            else
            {
                _rings.Enqueue(slot, state.LatestMs);
            }
        }
    }

    /// <summary>Restores the states, then files every user holding a ring again (oldest first).</summary>
    public override void Restore(BinaryReader reader)
    {
        base.Restore(reader);
        var holding = new List<(int Slot, long LatestMs)>();
        State.ForEachSlot(holding, static (list, slot, in state) =>
        {
            if (state.Recent is not null)
            {
                list.Add((slot, state.LatestMs));
            }
        });
        _rings.Refill(holding);
    }

    private static string Truncate(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...");
}

/// <summary>Per-user state of <see cref="RapidActivityOperator"/>: the baseline as numbers, and the events of the
/// window only while it is open.</summary>
/// <remarks>A struct inline in the operator's keyed-state page (no object per user). A new key's state is
/// <see cref="Initial"/>, not default: the latest time and minute start below any event time.</remarks>
public struct RapidActivityState
{
    /// <summary>The state of a user not seen yet.</summary>
    public static RapidActivityState Initial => new() { LatestMs = long.MinValue };

    /// <summary>Events within the window (ids kept for the evidence); null once the window has passed.</summary>
    public EventRing? Recent { get; set; }

    /// <summary>The latest event time seen.</summary>
    public long LatestMs { get; set; }

    /// <summary>The minute (Unix minutes) being counted: the latest event's, as every event moves both on, so it is
    /// derived rather than kept (8 bytes a user less).</summary>
    public readonly long Minute => LatestMs == long.MinValue ? long.MinValue : Math.DivRem(LatestMs, 60_000L, out var rem) - (rem < 0 ? 1 : 0);

    /// <summary>Exponentially weighted mean of events per active minute.</summary>
    public double Baseline { get; set; }

    public int MinuteCount { get; set; }

    public int MinutesSeen { get; set; }

    public bool Above { get; set; }

    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Recent is not null);
        Recent?.Write(writer);
        writer.Write(LatestMs);
        writer.Write(Minute);
        writer.Write(MinuteCount);
        writer.Write(Baseline);
        writer.Write(MinutesSeen);
        writer.Write(Above);
    }

    public static RapidActivityState Read(BinaryReader reader, int capacity)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var recent = reader.ReadBoolean() ? EventRing.Read(reader, capacity) : null;
        var latestMs = reader.ReadInt64();
        // The minute written is the latest event's, which Minute derives from LatestMs.
        reader.ReadInt64();
        return new RapidActivityState
        {
            Recent = recent,
            LatestMs = latestMs,
            MinuteCount = reader.ReadInt32(),
            Baseline = reader.ReadDouble(),
            MinutesSeen = reader.ReadInt32(),
            Above = reader.ReadBoolean(),
        };
    }
}
