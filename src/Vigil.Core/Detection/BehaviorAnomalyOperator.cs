using System.Globalization;
using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Geo;
using Vigil.Core.Ml;

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
    int PurchasesLastHour, double PurchaseAmountLastHour, int LoginsSeen)
{
    /// <summary>The user's own baseline: the most searches they had in an hour before this session.</summary>
    public int BaselineSearches { get; init; }

    /// <summary>The most purchases they had in an hour before this session.</summary>
    public int BaselinePurchases { get; init; }

    /// <summary>The most they spent in an hour before this session.</summary>
    public double BaselineAmount { get; init; }

    /// <summary>The share of the user's earlier logins within an hour of the session's login hour (0 with no history).</summary>
    public double LoginHourShare { get; init; }
}

/// <summary>Scores behaviour in [0, 1]; the rule alerts when the score reaches its threshold. The ML anomaly model
/// plugs in here.</summary>
public delegate double BehaviorScorer(in BehaviorFeatures features);

/// <summary>Settings of <see cref="BehaviorAnomalyOperator"/>.</summary>
public sealed record BehaviorAnomalyOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>The score at which an alert is raised (DESIGN §5's <c>ml.anomaly.threshold</c> default).</summary>
    public double Threshold { get; init; } = 0.8;

    /// <summary>A custom scorer; when set it replaces the Isolation Forest (<see cref="Model"/>) and the heuristic.</summary>
    public BehaviorScorer? Scorer { get; init; }

    /// <summary>
    /// The Isolation Forest learnt in the stream (<see cref="BehaviorModel"/>), the default scorer: the rule alerts
    /// when its score s reaches <see cref="Threshold"/> and the user has <see cref="BehaviorModelOptions.MinLogins"/>
    /// successful logins, with each feature's share of the isolation in the evidence. Null (and no
    /// <see cref="Scorer"/>) falls back to <see cref="HeuristicScore"/>.
    /// </summary>
    public BehaviorModelOptions? Model { get; init; } = new();

    /// <summary>A forest over <see cref="BehaviorModel"/> vectors to score with instead of learning one (tests, a
    /// model trained elsewhere); it keeps its own threshold's place to <see cref="Threshold"/>.</summary>
    public IsolationForest? Forest { get; init; }

    /// <summary>One model shared by every pipeline built with these options (serve: all partitions learn one forest,
    /// so it trains as soon as the whole stream has shown <see cref="BehaviorModelOptions.MinTrainingUsers"/>
    /// established users); null gives each operator its own, learnt from <see cref="Model"/>'s settings.</summary>
    public BehaviorModel? SharedModel { get; init; }

    /// <summary>Where each anomaly is also published as an <see cref="InsightKinds.BehaviorAnomaly"/> insight
    /// (the host stores its score in user_behavior_patterns.anomaly_score); null publishes nothing.</summary>
    public IInsightSink? Insights { get; init; }

    /// <summary>
    /// Alongside the forest, the expert score (<see cref="HeuristicScore"/>: a burst of searches or spending from a new
    /// device at an unusual hour) also raises the alert, past the same learning minimum (default true). The forest
    /// learns from the population and is silent until <see cref="BehaviorModelOptions.MinTrainingUsers"/> established
    /// users have been seen, and a forest fitted on a few hours of history misses about a third of the simulator's
    /// campaigns (docs/RULES.md); the expert score covers the pattern every analyst knows from the first event, as
    /// SIEMs ship rules beside their ML jobs. The evidence says which scorer fired, with both scores.
    /// </summary>
    public bool ExpertScore { get; init; } = true;

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
    private readonly BehaviorModel? _model = options.Scorer is not null ? null
        : options.SharedModel is { } shared ? shared
        : options.Forest is { } forest ? new BehaviorModel(forest, (options.Model ?? new BehaviorModelOptions()).MinLogins)
        : options.Model is { } model ? new BehaviorModel(model, options.Threshold)
        : null;

    /// <summary>The forest this operator scores with (null before it has learnt one, or when another scorer is set).</summary>
    public BehaviorModel? Model => _model;

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
        var features = new BehaviorFeatures(LocalHour(evt), unusual, newDevice, searches, purchases, spent, state.Logins)
        {
            BaselineSearches = sameSession ? state.BaseSearches : state.MaxSearchesHour,
            BaselinePurchases = sameSession ? state.BasePurchases : state.MaxPurchasesHour,
            BaselineAmount = sameSession ? state.BaseAmount : state.MaxAmountHour,
            LoginHourShare = sameSession ? state.SessionHourShare : HourShare(state, LocalHour(evt)),
        };
        state.MaxSearchesHour = Math.Max(state.MaxSearchesHour, searches);
        state.MaxPurchasesHour = Math.Max(state.MaxPurchasesHour, purchases);
        state.MaxAmountHour = Math.Max(state.MaxAmountHour, spent);
        Span<double> attribution = stackalloc double[BehaviorModel.FeatureCount];
        double score;
        var paperScore = double.NaN;
        var modelVersion = 0;
        var forestScore = double.NaN;
        var expertScore = double.NaN;
        bool above;
        if (_model is not null)
        {
            Span<float> vector = stackalloc float[BehaviorModel.FeatureCount];
            BehaviorModel.ToVector(features, vector);
            _model.Observe(key, vector, evt.TimestampMs, state.Logins);
            forestScore = _model.Score(vector, attribution, out paperScore, out modelVersion);
            var forestAbove = forestScore >= options.Threshold; // false while NaN (no forest yet)
            var expertAbove = false;
            if (options.ExpertScore)
            {
                expertScore = Math.Clamp(options.HeuristicScore(features), 0, 1);
                expertAbove = expertScore >= options.Threshold;
            }
            // The learning minimum: a user's first logins are what "normal" is learnt from, never alerted on.
            above = state.Logins >= _model.Options.MinLogins && (forestAbove || expertAbove);
            score = forestAbove || double.IsNaN(expertScore) ? forestScore : expertScore;
        }
        else
        {
            score = Math.Clamp(_scorer(features), 0, 1);
            above = score >= options.Threshold;
        }
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
        List<Dictionary<string, object?>>? shares = null;
        var because = "";
        if (_model is not null)
        {
            shares = Attribution(features, attribution);
            if (forestScore >= options.Threshold)
            {
                because = shares.Count > 0 ? $"; isolated mostly by {shares[0]["feature"]}" + (shares.Count > 1 ? $" and {shares[1]["feature"]}" : "") : "";
            }
            else
            {
                because = double.IsNaN(forestScore) ? "; expert rule, the model is still learning" : $"; expert rule, model score {Evidence.Text(forestScore, 2)}";
            }
        }
        var evidence = new Dictionary<string, object?>
        {
            [Evidence.EventIds] = ids,
            [Evidence.Entity] = Evidence.User(key),
            ["score"] = Evidence.Round(score, 3),
            ["threshold"] = options.Threshold,
            ["scorer"] = options.Scorer is not null ? "custom"
                : _model is null ? "heuristic"
                : forestScore >= options.Threshold ? (expertScore >= options.Threshold ? "isolation-forest+expert" : "isolation-forest")
                : "expert",
            ["searchesLastHour"] = searches,
            ["purchasesLastHour"] = purchases,
            ["purchaseAmountLastHour"] = Evidence.Round(spent, 2),
            ["localHour"] = features.LocalHour,
            ["unusualHour"] = unusual,
            ["newDevice"] = newDevice,
            ["loginsSeen"] = state.Logins,
            ["userAgent"] = evt.UserAgent,
        };
        var alert = new Alert
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
            Summary = $"{searches} searches and {purchases} purchases ({Evidence.Text(spent, 2)}) in the last hour{(signals.Count > 0 ? ", " + string.Join(", ", signals) : "")}: behaviour unlike this account's (anomaly score {Evidence.Text(score, 2)}{because}); confirm with the owner before shipping orders",
            Evidence = evidence,
        };
        if (_model is not null)
        {
            evidence["forestScore"] = double.IsNaN(forestScore) ? null : Evidence.Round(forestScore, 3);
            evidence["expertScore"] = double.IsNaN(expertScore) ? null : Evidence.Round(expertScore, 3);
        }
        if (_model is not null && shares is not null)
        {
            evidence["modelVersion"] = modelVersion;
            evidence["paperScore"] = double.IsNaN(paperScore) ? null : Evidence.Round(paperScore, 3);
            evidence["learningMinimum"] = _model.Options.MinLogins;
            evidence["attribution"] = shares;
            options.Insights?.Publish(new Insight
            {
                InsightId = Insight.MakeId(InsightKinds.BehaviorAnomaly, key, evt.EventId),
                Kind = InsightKinds.BehaviorAnomaly,
                UserId = key,
                Timestamp = evt.Timestamp,
                Payload = new Dictionary<string, object?>
                {
                    ["alertId"] = alert.AlertId,
                    ["anomalyScore"] = Evidence.Round(score, 4),
                    ["threshold"] = options.Threshold,
                    ["modelVersion"] = modelVersion,
                    ["attribution"] = shares,
                },
            });
        }
        output.Emit(alert);
    }

    /// <summary>The features with a share of the isolation, largest first: name, share and what the value was.</summary>
    private static List<Dictionary<string, object?>> Attribution(in BehaviorFeatures features, ReadOnlySpan<double> attribution)
    {
        var order = new List<int>(BehaviorModel.FeatureCount);
        for (var f = 0; f < attribution.Length; f++)
        {
            if (attribution[f] > 0)
            {
                order.Add(f);
            }
        }
        var copy = attribution.ToArray();
        order.Sort((a, b) => copy[b] != copy[a] ? copy[b].CompareTo(copy[a]) : a.CompareTo(b));
        var list = new List<Dictionary<string, object?>>(order.Count);
        foreach (var f in order)
        {
            list.Add(new Dictionary<string, object?>
            {
                ["feature"] = BehaviorModel.Names[f],
                ["share"] = Evidence.Round(copy[f], 3),
                ["detail"] = BehaviorModel.Describe(features, f),
            });
        }
        return list;
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
        state.SessionHourShare = HourShare(state, hour);
        state.Above = false;
        state.BaseSearches = state.MaxSearchesHour;
        state.BasePurchases = state.MaxPurchasesHour;
        state.BaseAmount = state.MaxAmountHour;
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

    /// <summary>The share of the user's logins so far within an hour of <paramref name="hour"/> (0 with none).</summary>
    private static double HourShare(BehaviorState state, int hour) => state.Logins == 0 ? 0
        : (state.Hours[hour] + state.Hours[(hour + 23) % 24] + state.Hours[(hour + 1) % 24]) / (double)state.Logins;

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

    /// <summary>The most searches, purchases and spending this user ever had in an hour (up to the latest event).</summary>
    public int MaxSearchesHour { get; set; }

    /// <inheritdoc cref="MaxSearchesHour"/>
    public int MaxPurchasesHour { get; set; }

    /// <inheritdoc cref="MaxSearchesHour"/>
    public double MaxAmountHour { get; set; }

    /// <summary>The user's own baseline for the current session: the hourly maxima as they were at its login.</summary>
    public int BaseSearches { get; set; }

    /// <inheritdoc cref="BaseSearches"/>
    public int BasePurchases { get; set; }

    /// <inheritdoc cref="BaseSearches"/>
    public double BaseAmount { get; set; }

    /// <summary>The share of the user's earlier logins within an hour of the current session's login hour.</summary>
    public double SessionHourShare { get; set; }

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
        writer.Write(MaxSearchesHour);
        writer.Write(MaxPurchasesHour);
        writer.Write(MaxAmountHour);
        writer.Write(BaseSearches);
        writer.Write(BasePurchases);
        writer.Write(BaseAmount);
        writer.Write(SessionHourShare);
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
        state.MaxSearchesHour = reader.ReadInt32();
        state.MaxPurchasesHour = reader.ReadInt32();
        state.MaxAmountHour = reader.ReadDouble();
        state.BaseSearches = reader.ReadInt32();
        state.BasePurchases = reader.ReadInt32();
        state.BaseAmount = reader.ReadDouble();
        state.SessionHourShare = reader.ReadDouble();
        return state;
    }
}
