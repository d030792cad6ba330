using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="ResetBombingOperator"/>.</summary>
public sealed record ResetBombingOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>The notification kind counted.</summary>
    public string Kind { get; init; } = "PASSWORD_RESET";

    /// <summary>Notifications to one user within <see cref="Window"/> that make a flood.</summary>
    public int Threshold { get; init; } = 5;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// RESET_BOMBING, per user, on the <c>notifications</c> topic: at least <see cref="ResetBombingOptions.Threshold"/>
/// PASSWORD_RESET notifications to one user within <see cref="ResetBombingOptions.Window"/> → MEDIUM. Someone is
/// flooding the owner's inbox or phone with reset messages — to bury a real alert, to push them into approving a
/// prompt, or just to harass — and the reset endpoint is not rate-limiting them.
/// </summary>
public sealed class ResetBombingOperator(ResetBombingOptions options, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, ResetBombingState, Alert>(RuleNames.ResetBombing, options.Window,
        new DelegateStateSerializer<ResetBombingState>((w, s) => s.Write(w), r => ResetBombingState.Read(r, Capacity(options))))
{
    protected override string? KeyOf(in UserEvent evt) =>
        string.Equals(NotificationEvents.KindOf(evt), options.Kind, StringComparison.Ordinal) ? evt.UserId : null;

    protected override void Process(string key, ref ResetBombingState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        state ??= new ResetBombingState(Capacity(options));
        var ring = state.Notifications;
        var windowMs = (long)options.Window.TotalMilliseconds;
        var endMs = Math.Max(evt.TimestampMs, ring.LatestMs);
        var channel = evt.Properties is { } p && p.TryGetValue(NotificationEvents.ChannelProperty, out var c) ? c : null;
        ring.Add(new RingEntry(evt.TimestampMs, evt.EventId, channel, null));
        ring.DropThrough(endMs - windowMs);
        var count = ring.Count;
        var above = count >= options.Threshold;
        var rose = above && !state.Above;
        state.Above = above;
        if (!rose)
        {
            return;
        }
        var ids = new List<string>(count);
        var channels = new List<string>();
        for (var i = 0; i < count; i++)
        {
            ids.Add(ring[i].EventId);
            if (ring[i].Subject is { } ch && !channels.Contains(ch))
            {
                channels.Add(ch);
            }
        }
        var firstMs = ring[0].TimeMs;
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(RuleNames.ResetBombing, key, evt.EventId),
            Rule = RuleNames.ResetBombing,
            Severity = Severity.Medium,
            UserId = key,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(endMs),
            Score = Math.Min(1.0, 0.6 + (0.05 * (count - options.Threshold))),
            Summary = $"{count} password-reset messages sent to {key} in {Evidence.Text((endMs - firstMs) / 60_000.0, 1)} min by {string.Join("/", channels)}: reset bombing; rate-limit resets for this account and tell the owner not to act on them",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = ids,
                [Evidence.Entity] = Evidence.User(key),
                ["notifications"] = count,
                ["channels"] = channels,
                ["threshold"] = options.Threshold,
                ["windowMinutes"] = (int)options.Window.TotalMinutes,
            },
        });
    }

    private static int Capacity(ResetBombingOptions options) => Math.Max(64, options.Threshold * 4);
}

/// <summary>Per-user state of <see cref="ResetBombingOperator"/>.</summary>
public sealed class ResetBombingState(int capacity)
{
    public EventRing Notifications { get; private set; } = new(capacity, 4);

    public bool Above { get; set; }

    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Notifications.Write(writer);
        writer.Write(Above);
    }

    public static ResetBombingState Read(BinaryReader reader, int capacity)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new ResetBombingState(capacity) { Notifications = EventRing.Read(reader, capacity), Above = reader.ReadBoolean() };
    }
}
