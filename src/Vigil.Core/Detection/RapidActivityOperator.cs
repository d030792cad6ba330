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

    // The window's ring is indexed with 16 bits (see RapidActivityState).
    private readonly int _capacity = options.AbsoluteLimit is > 0 and < RapidActivityState.MaxWindowCapacity
        ? options.AbsoluteLimit + 1
        : throw new ArgumentOutOfRangeException(nameof(options), $"RapidActivity:AbsoluteLimit must be 1 to {RapidActivityState.MaxWindowCapacity - 1}.");

    // Users holding a ring, checked as the watermark moves.
    private readonly RingReleaseQueue _rings = new();

    // Windows' first arrays, handed from a user whose window emptied to the next one who needs one.
    private readonly SmallArrayPool<RapidWindowEntry> _arrays = new(RapidActivityState.InitialWindow);

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
        if (!state.HoldsWindow)
        {
            // The window lives only while it can still count its events; OnWatermark lets it go.
            state.OpenWindow();
            _rings.Enqueue(State.SlotOf(key), state.LatestMs);
        }
        state.AddToWindow(evt.TimestampMs, evt.EventId, evt.IpAddress, _capacity, _arrays);
        state.DropThrough(endMs - windowMs, _arrays);
        var count = state.WindowCount;
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
            ref readonly var e = ref state.WindowEntry(i);
            if (i < 10 || i >= count - 10)
            {
                ids.Add(e.EventId);
            }
            if (e.Ip is { } ip && _scratch.Add(ip))
            {
                ips.Add(ip);
            }
        }
        var firstMs = state.WindowEntry(0).TimeMs;
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
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref state) || !state.HoldsWindow)
            {
                continue;
            }
            if (ReleaseAt(state.LatestMs) < watermarkMs)
            {
                state.CloseWindow(_arrays);
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
            if (state.HoldsWindow)
            {
                list.Add((slot, state.LatestMs));
            }
        });
        _rings.Refill(holding);
    }

    private static string Truncate(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...");
}

/// <summary>One event in <see cref="RapidActivityState"/>'s window: its time, and its id and address for the evidence
/// (40 bytes: the rule has no subject to keep).</summary>
/// <remarks>The id is kept packed (<see cref="CompactId"/>), not as the decoded string: a window holds each event for a
/// minute, long enough for the garbage collector to copy a string twice before it dies, and at 20,000 events/s these
/// strings were most of what young collections promoted. The address stays a reference: the decoder's value cache
/// gives the same long-lived string for each address.</remarks>
public readonly record struct RapidWindowEntry
{
    public RapidWindowEntry(long timeMs, string eventId, string? ip)
    {
        TimeMs = timeMs;
        Id = CompactId.From(eventId);
        Ip = ip;
    }

    /// <summary>Event time.</summary>
    public long TimeMs { get; }

    /// <summary>The event's id, packed.</summary>
    public CompactId Id { get; }

    /// <summary>The event's id (a new string for the packed forms).</summary>
    public string EventId => Id.ToString()!;

    /// <summary>Where it came from.</summary>
    public string? Ip { get; }
}

/// <summary>Per-user state of <see cref="RapidActivityOperator"/>: the baseline as numbers, and the events of the
/// window only while it is open.</summary>
/// <remarks>A struct inline in the operator's keyed-state page (no object per user). A new key's state is
/// <see cref="Initial"/>, not default: the latest time and minute start below any event time. The window is a ring kept
/// in the state itself (the array, and its start and count in what was the struct's padding), so an active user costs
/// one array and no ring object; its latest time is the state's.</remarks>
public struct RapidActivityState
{
    // Sorted by event time from _start, circularly; null while no window is open, empty (shared) while open with
    // nothing in it. The start and count fit the padding after Above, so the state stays 40 bytes.
    private RapidWindowEntry[]? _window;
    private ushort _start;
    private ushort _count;

    /// <summary>The initial size of a window's array; it doubles up to the capacity.</summary>
    internal const int InitialWindow = 4;

    /// <summary>The largest capacity the 16-bit start and count can index.</summary>
    public const int MaxWindowCapacity = ushort.MaxValue;

    /// <summary>The state of a user not seen yet.</summary>
    public static RapidActivityState Initial => new() { LatestMs = long.MinValue };

    /// <summary>Whether the window is open (its events still countable); false once the window has passed.</summary>
    public readonly bool HoldsWindow => _window is not null;

    /// <summary>Events within the window.</summary>
    public readonly int WindowCount => _count;

    /// <summary>The <paramref name="index"/>-th event of the window, oldest first.</summary>
    public readonly ref readonly RapidWindowEntry WindowEntry(int index) => ref _window![RingIndex.Wrap(_start + index, _window.Length)];

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

    /// <summary>Opens an empty window (no array until the first event).</summary>
    public void OpenWindow()
    {
        _window = [];
        _start = 0;
        _count = 0;
    }

    /// <summary>Lets the window go: the state keeps only the baseline. Its array goes back to
    /// <paramref name="pool"/> when given.</summary>
    internal void CloseWindow(SmallArrayPool<RapidWindowEntry>? pool)
    {
        if (_window is { Length: > 0 } items)
        {
            pool?.Return(items);
        }
        CloseWindow();
    }

    /// <summary>Lets the window go: the state keeps only the baseline.</summary>
    public void CloseWindow()
    {
        _window = null;
        _start = 0;
        _count = 0;
    }

    /// <summary>Adds an event in time order (inserted from the back: events arrive nearly in order), dropping the
    /// oldest when <paramref name="capacity"/> are held. Opens the window if it was not.</summary>
    public void AddToWindow(long timeMs, string eventId, string? ip, int capacity) => AddToWindow(timeMs, eventId, ip, capacity, null);

    /// <summary><see cref="AddToWindow(long, string, string?, int)"/>, taking a first array from <paramref name="pool"/>
    /// and giving it back when the window outgrows it.</summary>
    internal void AddToWindow(long timeMs, string eventId, string? ip, int capacity, SmallArrayPool<RapidWindowEntry>? pool)
    {
        var items = _window;
        if (items is null || items.Length == 0)
        {
            var length = Math.Clamp(InitialWindow, 1, capacity);
            items = _window = pool is not null && pool.Length == length ? pool.Rent() : new RapidWindowEntry[length];
            _start = 0;
        }
        else if (_count == items.Length)
        {
            if (items.Length < capacity)
            {
                var bigger = new RapidWindowEntry[Math.Min(capacity, items.Length * 2)];
                for (var i = 0; i < _count; i++)
                {
                    bigger[i] = items[RingIndex.Wrap(_start + i, items.Length)];
                }
                pool?.Return(items);
                items = _window = bigger;
                _start = 0;
            }
            else
            {
                items[_start] = default;
                _start = (ushort)RingIndex.Wrap(_start + 1, items.Length);
                _count--;
            }
        }
        var pos = (int)_count;
        while (pos > 0 && items[RingIndex.Wrap(_start + pos - 1, items.Length)].TimeMs > timeMs)
        {
            items[RingIndex.Wrap(_start + pos, items.Length)] = items[RingIndex.Wrap(_start + pos - 1, items.Length)];
            pos--;
        }
        items[RingIndex.Wrap(_start + pos, items.Length)] = new RapidWindowEntry(timeMs, eventId, ip);
        _count++;
    }

    /// <summary>Drops the window's events at or before <paramref name="timeMs"/> (they can no longer be counted); the
    /// array goes with the last one, the window stays open.</summary>
    public void DropThrough(long timeMs) => DropThrough(timeMs, null);

    /// <summary><see cref="DropThrough(long)"/>, giving an emptied array back to <paramref name="pool"/>.</summary>
    internal void DropThrough(long timeMs, SmallArrayPool<RapidWindowEntry>? pool)
    {
        var items = _window;
        if (items is null)
        {
            return;
        }
        while (_count > 0 && items[_start].TimeMs <= timeMs)
        {
            items[_start] = default;
            _start = (ushort)RingIndex.Wrap(_start + 1, items.Length);
            _count--;
        }
        if (_count == 0 && items.Length > 0)
        {
            pool?.Return(items);
            _window = [];
            _start = 0;
        }
    }

    /// <summary>Writes the state. The window is laid out as <see cref="EventRing.Write"/> lays out a ring (entries with
    /// a null subject, then a latest time: here the state's, which nothing reads back), so checkpoints of the earlier
    /// layout restore unchanged.</summary>
    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(HoldsWindow);
        if (HoldsWindow)
        {
            writer.Write((int)_count);
            for (var i = 0; i < _count; i++)
            {
                ref readonly var e = ref WindowEntry(i);
                writer.Write(e.TimeMs);
                e.Id.WriteTo(writer);
                StateIo.WriteNullable(writer, null);
                StateIo.WriteNullable(writer, e.Ip);
            }
            writer.Write(LatestMs);
        }
        writer.Write(LatestMs);
        writer.Write(Minute);
        writer.Write(MinuteCount);
        writer.Write(Baseline);
        writer.Write(MinutesSeen);
        writer.Write(Above);
    }

    /// <summary>Reads what <see cref="Write"/> wrote, refusing a window of more than <paramref name="capacity"/>.</summary>
    public static RapidActivityState Read(BinaryReader reader, int capacity)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var state = new RapidActivityState();
        if (reader.ReadBoolean())
        {
            var count = reader.ReadInt32();
            if (count < 0 || count > capacity || count > MaxWindowCapacity)
            {
                throw new InvalidDataException($"A checkpointed window claims {count} events; at most {capacity} fit.");
            }
            state.OpenWindow();
            for (var i = 0; i < count; i++)
            {
                var t = reader.ReadInt64();
                var id = reader.ReadString();
                // The subject, always null for this rule.
                StateIo.ReadNullable(reader);
                var ip = StateIo.ReadNullable(reader);
                state.AddToWindow(t, id, ip, capacity);
            }
            // The ring's latest time: the state's own (below) is the one used.
            reader.ReadInt64();
        }
        state.LatestMs = reader.ReadInt64();
        // The minute written is the latest event's, which Minute derives from LatestMs.
        reader.ReadInt64();
        state.MinuteCount = reader.ReadInt32();
        state.Baseline = reader.ReadDouble();
        state.MinutesSeen = reader.ReadInt32();
        state.Above = reader.ReadBoolean();
        return state;
    }
}
