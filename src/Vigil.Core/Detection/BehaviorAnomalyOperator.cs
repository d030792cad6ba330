using System.Globalization;
using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Geo;

namespace Vigil.Core.Detection;

/// <summary>What the behaviour rule knows about a user's activity when one of their events arrives, for a scorer.</summary>
/// <param name="LocalHour">Hour of day at the user's location (solar time from the IP's longitude), or UTC without a locator.</param>
/// <param name="UnusualHour">The session's login came at an hour this user rarely logs in at (or, before the user's
/// habits are learned, at night: see <see cref="BehaviorAnomalyOptions.NightStartHour"/>).</param>
/// <param name="NewDevice">The session's user agent was never seen on this account before its login.</param>
/// <param name="SearchesLastHour">Searches in the hour up to this event.</param>
/// <param name="PurchasesLastHour">Purchases in the hour up to this event.</param>
/// <param name="PurchaseAmountLastHour">Their total amount (the <c>amount</c> property).</param>
/// <param name="LoginsSeen">Logins of this user seen so far: how much history the habits rest on.</param>
public readonly record struct BehaviorFeatures(int LocalHour, bool UnusualHour, bool NewDevice, int SearchesLastHour,
    int PurchasesLastHour, double PurchaseAmountLastHour, int LoginsSeen);

/// <summary>Scores behaviour in [0, 1]; the rule alerts when the score reaches its threshold. The ML anomaly model
/// plugs in here.</summary>
public delegate double BehaviorScorer(in BehaviorFeatures features);

/// <summary>Settings of <see cref="BehaviorAnomalyOperator"/>.</summary>
public sealed record BehaviorAnomalyOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>The score at which an alert is raised (DESIGN §5's <c>ml.anomaly.threshold</c> default).</summary>
    public double Threshold { get; init; } = 0.8;

    /// <summary>The scorer; null uses <see cref="HeuristicScore"/>, the interim detector.</summary>
    public BehaviorScorer? Scorer { get; init; }

    /// <summary>Searches in an hour that count as a full burst for the heuristic.</summary>
    public int BurstSearches { get; init; } = 50;

    /// <summary>Spending in an hour that counts as a full burst for the heuristic.</summary>
    public double BurstAmount { get; init; } = 2500;

    /// <summary>Start of the night, local solar hour, for users whose hours are not learned yet. Solar time is off
    /// civil time by up to about two hours (wide time zones, summer time), so 01:00–05:00 civil widens to 23–06.</summary>
    public int NightStartHour { get; init; } = 23;

    /// <summary>End of the night (exclusive), local solar hour.</summary>
    public int NightEndHour { get; init; } = 6;

    /// <summary>Logins before the user's own hours replace the night-time default.</summary>
    public int LearnedAfterLogins { get; init; } = 5;

    /// <summary>An hour (with its neighbours) holding less than this share of the user's logins is unusual.</summary>
    public double UnusualHourShare { get; init; } = 0.2;

    /// <summary>Devices remembered per user.</summary>
    public int MaxDevices { get; init; } = 8;

    public TimeSpan HistoryTtl { get; init; } = TimeSpan.FromDays(30);

    /// <summary>
    /// The interim scorer: 0.55 on a burst of searches or spending (the stronger of the two, each against its
    /// full-burst level), 0.25 on a new device, 0.2 on an unusual hour. At the default threshold of 0.8 either all three
    /// are present with the burst at 64 % of its full level or more (32 searches or 1,590 spent in an hour), or a full
    /// burst comes from a new device at any hour. The number of purchases is left out: a few cheap ones at night is an
    /// ordinary night owl — a night-time shopping spree from a device the account never used — since each alone
    /// is everyday behaviour.
    /// </summary>
    public double HeuristicScore(in BehaviorFeatures f)
    {
        var burst = Math.Max(Math.Min(1.0, (double)f.SearchesLastHour / BurstSearches), Math.Min(1.0, f.PurchaseAmountLastHour / BurstAmount));
        return (0.55 * burst) + (f.NewDevice ? 0.25 : 0) + (f.UnusualHour ? 0.2 : 0);
    }
}

/// <summary>
/// BEHAVIOR_ANOMALY, per user: keeps the user's login hours, devices and the last hour of searches and purchases,
/// scores each search or purchase with <see cref="BehaviorAnomalyOptions.Scorer"/> and raises MEDIUM when the score
/// rises to <see cref="BehaviorAnomalyOptions.Threshold"/>.
/// </summary>
/// <remarks>The scorer is the hook for the ML anomaly model; until it lands, <see cref="BehaviorAnomalyOptions.HeuristicScore"/>
/// is the interim detector. Scorers must be deterministic (the same features, the same score) for replays to agree.</remarks>
public sealed class BehaviorAnomalyOperator(BehaviorAnomalyOptions options, IGeoLocator? geo, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, BehaviorState, Alert>(RuleNames.BehaviorAnomaly, options.HistoryTtl,
        new DelegateStateSerializer<BehaviorState>((w, s) => s.Write(w), BehaviorState.Read))
{
    private const long HourMs = 3_600_000;
    private const int MaxActivity = 4096;
    private readonly BehaviorScorer _scorer = options.Scorer ?? options.HeuristicScore;

    protected override string? KeyOf(in UserEvent evt) => evt.Type switch
    {
        EventType.LoginSuccess or EventType.Search or EventType.Purchase => evt.UserId,
        _ => null,
    };

    protected override void Process(string key, ref BehaviorState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        state ??= new BehaviorState();
        if (evt.Type == EventType.LoginSuccess)
        {
            OnLogin(state, evt);
            return;
        }
        var amount = 0.0;
        if (evt.Type == EventType.Purchase && evt.Properties is { } p && p.TryGetValue("amount", out var text))
        {
            _ = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out amount);
        }
        state.Activity.Add(new Activity(evt.TimestampMs, evt.Type == EventType.Purchase, amount, evt.EventId));
        var from = evt.TimestampMs - HourMs;
        while (state.Activity.Count > 0 && (state.Activity[0].TimeMs <= from - HourMs || state.Activity.Count > MaxActivity))
        {
            state.Activity.RemoveAt(0);
        }
        int searches = 0, purchases = 0;
        var spent = 0.0;
        foreach (var a in state.Activity)
        {
            if (a.TimeMs <= from || a.TimeMs > evt.TimestampMs)
            {
                continue;
            }
            if (a.Purchase)
            {
                purchases++;
                spent += a.Amount;
            }
            else
            {
                searches++;
            }
        }
        var sameSession = evt.SessionId is not null && string.Equals(evt.SessionId, state.SessionId, StringComparison.Ordinal);
        var newDevice = sameSession ? state.SessionNewDevice
            : evt.UserAgent is { } ua && !state.Devices.Contains(StateIo.StableHash(ua));
        var unusual = sameSession && state.SessionUnusualHour;
        var features = new BehaviorFeatures(LocalHour(evt), unusual, newDevice, searches, purchases, spent, state.Logins);
        var score = Math.Clamp(_scorer(features), 0, 1);
        var above = score >= options.Threshold;
        var rose = above && !state.Above;
        state.Above = above;
        if (!rose)
        {
            return;
        }
        var ids = new List<string>();
        foreach (var a in state.Activity)
        {
            if (a.TimeMs > from && a.TimeMs <= evt.TimestampMs && ids.Count < 50)
            {
                ids.Add(a.EventId);
            }
        }
        if (sameSession && state.SessionLoginEventId is { } login)
        {
            ids.Insert(0, login);
        }
        var signals = new List<string>(3);
        if (unusual)
        {
            signals.Add($"at {features.LocalHour:00}:00 local time, an hour this account {(state.Logins > options.LearnedAfterLogins ? "rarely uses" : "is not expected at")}");
        }
        if (newDevice)
        {
            signals.Add("from a device it never used");
        }
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(RuleNames.BehaviorAnomaly, key, evt.EventId),
            Rule = RuleNames.BehaviorAnomaly,
            Severity = Severity.Medium,
            UserId = key,
            IpAddress = evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(from, state.Activity[0].TimeMs)),
            WindowEnd = evt.Timestamp,
            Score = score,
            Summary = $"{searches} searches and {purchases} purchases ({Evidence.Text(spent, 2)}) in the last hour{(signals.Count > 0 ? ", " + string.Join(", ", signals) : "")}: behaviour unlike this account's; confirm with the owner before shipping orders",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = ids,
                [Evidence.Entity] = Evidence.User(key),
                ["score"] = Evidence.Round(score, 3),
                ["threshold"] = options.Threshold,
                ["scorer"] = options.Scorer is null ? "heuristic" : "custom",
                ["searchesLastHour"] = searches,
                ["purchasesLastHour"] = purchases,
                ["purchaseAmountLastHour"] = Evidence.Round(spent, 2),
                ["localHour"] = features.LocalHour,
                ["unusualHour"] = unusual,
                ["newDevice"] = newDevice,
                ["loginsSeen"] = state.Logins,
                ["userAgent"] = evt.UserAgent,
            },
        });
    }

    private void OnLogin(BehaviorState state, UserEvent evt)
    {
        var hour = LocalHour(evt);
        bool unusual;
        if (state.Logins >= options.LearnedAfterLogins)
        {
            var near = state.Hours[hour] + state.Hours[(hour + 23) % 24] + state.Hours[(hour + 1) % 24];
            unusual = near < options.UnusualHourShare * state.Logins;
        }
        else
        {
            unusual = options.NightStartHour <= options.NightEndHour
                ? hour >= options.NightStartHour && hour < options.NightEndHour
                : hour >= options.NightStartHour || hour < options.NightEndHour;
        }
        var device = evt.UserAgent is { } ua ? StateIo.StableHash(ua) : 0UL;
        state.SessionId = evt.SessionId;
        state.SessionLoginEventId = evt.EventId;
        state.SessionUnusualHour = unusual;
        state.SessionNewDevice = device != 0 && !state.Devices.Contains(device);
        state.Above = false;
        state.Hours[hour]++;
        state.Logins++;
        if (device != 0 && !state.Devices.Contains(device))
        {
            if (state.Devices.Count >= options.MaxDevices)
            {
                state.Devices.RemoveAt(0);
            }
            state.Devices.Add(device);
        }
    }

    /// <summary>Local solar hour at the IP's longitude (15° an hour), which needs no time-zone data; UTC without one.</summary>
    private int LocalHour(UserEvent evt)
    {
        var offsetHours = 0.0;
        if (geo is not null && evt.IpAddress is { } ip && geo.TryLookup(ip, out var location))
        {
            offsetHours = location.Longitude / 15.0;
        }
        var hours = (evt.TimestampMs / (double)HourMs) + offsetHours;
        var h = (int)Math.Floor(hours % 24);
        return h < 0 ? h + 24 : h;
    }
}

/// <summary>A search or purchase remembered by the behaviour rule.</summary>
public readonly record struct Activity(long TimeMs, bool Purchase, double Amount, string EventId);

/// <summary>Per-user state of <see cref="BehaviorAnomalyOperator"/>.</summary>
public sealed class BehaviorState
{
    /// <summary>Logins per local hour.</summary>
    public int[] Hours { get; private set; } = new int[24];

    public int Logins { get; set; }

    /// <summary>Stable hashes of the user agents seen at login, least recent first.</summary>
    public List<ulong> Devices { get; private set; } = new(2);

    /// <summary>Searches and purchases of the last two hours, in arrival order.</summary>
    public List<Activity> Activity { get; private set; } = [];

    public string? SessionId { get; set; }

    public string? SessionLoginEventId { get; set; }

    public bool SessionUnusualHour { get; set; }

    public bool SessionNewDevice { get; set; }

    public bool Above { get; set; }

    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var h in Hours)
        {
            writer.Write(h);
        }
        writer.Write(Logins);
        writer.Write(Devices.Count);
        foreach (var d in Devices)
        {
            writer.Write(d);
        }
        writer.Write(Activity.Count);
        foreach (var a in Activity)
        {
            writer.Write(a.TimeMs);
            writer.Write(a.Purchase);
            writer.Write(a.Amount);
            writer.Write(a.EventId);
        }
        StateIo.WriteNullable(writer, SessionId);
        StateIo.WriteNullable(writer, SessionLoginEventId);
        writer.Write(SessionUnusualHour);
        writer.Write(SessionNewDevice);
        writer.Write(Above);
    }

    public static BehaviorState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var state = new BehaviorState();
        for (var i = 0; i < 24; i++)
        {
            state.Hours[i] = reader.ReadInt32();
        }
        state.Logins = reader.ReadInt32();
        var devices = reader.ReadInt32();
        if (devices is < 0 or > 1024)
        {
            throw new InvalidDataException($"A checkpointed behaviour state claims {devices} devices.");
        }
        for (var i = 0; i < devices; i++)
        {
            state.Devices.Add(reader.ReadUInt64());
        }
        var activity = reader.ReadInt32();
        if (activity is < 0 or > 1_000_000)
        {
            throw new InvalidDataException($"A checkpointed behaviour state claims {activity} activities.");
        }
        for (var i = 0; i < activity; i++)
        {
            state.Activity.Add(new Activity(reader.ReadInt64(), reader.ReadBoolean(), reader.ReadDouble(), reader.ReadString()));
        }
        state.SessionId = StateIo.ReadNullable(reader);
        state.SessionLoginEventId = StateIo.ReadNullable(reader);
        state.SessionUnusualHour = reader.ReadBoolean();
        state.SessionNewDevice = reader.ReadBoolean();
        state.Above = reader.ReadBoolean();
        return state;
    }
}
