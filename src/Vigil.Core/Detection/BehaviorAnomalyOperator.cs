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

    /// <summary>
    /// How <see cref="HeuristicScore"/> is made up, as shares of the <see cref="BehaviorModel"/> features that sum to 1
    /// (all 0 when the score is 0): the burst term goes to searches or spending, whichever set it, the device term
    /// to <c>newDevice</c>, the hour term to <c>loginHourRarity</c>. An alert the expert score raised explains itself
    /// in the same terms as one the forest raised.
    /// </summary>
    public void ExpertAttribution(in BehaviorFeatures f, Span<double> attribution)
    {
        attribution.Clear();
        var searches = Math.Min(1.0, (double)f.SearchesLastHour / BurstSearches);
        var spending = Math.Min(1.0, f.PurchaseAmountLastHour / BurstAmount);
        attribution[spending > searches ? 2 : 0] = 0.55 * Math.Max(searches, spending);
        attribution[3] = f.NewDevice ? 0.25 : 0;
        attribution[4] = f.UnusualHour ? 0.2 : 0;
        var total = attribution[0] + attribution[2] + attribution[3] + attribution[4];
        if (total <= 0)
        {
            return;
        }
        for (var i = 0; i < attribution.Length; i++)
        {
            attribution[i] /= total;
        }
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

    // This pipeline's recent forest scores by vector (BehaviorModel.ScoreMemo): the operator runs on one thread.
    private readonly BehaviorModel.ScoreMemo _scoreMemo = new();

    // Users holding a ring, with the latest activity time when filed, checked as the watermark moves.
    private readonly RingReleaseQueue _rings = new();

    // The rings' arrays, handed on from users whose activity has passed (see BehaviorState.ActivityRingPools).
    private readonly BehaviorState.ActivityRingPools _ringArrays = new();

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
        if (evt.Type == EventType.LoginSuccess)
        {
            OnLogin(ref state, evt);
            return;
        }

        var amount = 0.0;
        if (evt.Type == EventType.Purchase && evt.Properties is { } p && p.TryGetValue("amount", out var text))
        {
            _ = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out amount);
        }
        if (state.AddActivity(evt.TimestampMs, evt.Type == EventType.Purchase, amount, evt.EventId, _ringArrays))
        {
            // The ring lives only while an on-time event could still count what it holds; OnWatermark lets it go.
            _rings.Enqueue(State.SlotOf(key), evt.TimestampMs);
        }
        var from = evt.TimestampMs - HourMs;
        while (state.ActivityCount > 0 && (state.FirstActivityMs <= from - HourMs || state.ActivityCount > MaxActivity))
        {
            state.RemoveFirstActivity();
        }
        state.CountActivity(from, evt.TimestampMs, out var searches, out var purchases, out var spent);
        var sameSession = state.InSession(evt.SessionId);
        var newDevice = sameSession ? state.SessionNewDevice
            : evt.UserAgent is { } ua && !state.KnowsDevice(BehaviorState.DeviceHash(ua));
        var unusual = sameSession && state.SessionUnusualHour;
        // Within the session the forest and the expert score never read the local hour (the session's login fixed the
        // hour's share): it is looked up (an address lookup) only for an alert's evidence, or for a custom scorer.
        var localHour = sameSession && _model is not null ? -1 : LocalHour(evt);
        var features = new BehaviorFeatures(localHour, unusual, newDevice, searches, purchases, spent, state.Logins)
        {
            BaselineSearches = sameSession ? state.BaseSearches : state.MaxSearchesHour,
            BaselinePurchases = sameSession ? state.BasePurchases : state.MaxPurchasesHour,
            BaselineAmount = sameSession ? state.BaseAmount : state.MaxAmountHour,
            LoginHourShare = sameSession ? state.SessionHourShare : HourShare(state, localHour),
        };
        state.RaiseMaxima(searches, purchases, spent);
        Span<double> attribution = stackalloc double[BehaviorModel.FeatureCount];
        Span<float> vector = stackalloc float[BehaviorModel.FeatureCount];
        IsolationForest? scoredBy = null;
        double score;
        var paperScore = double.NaN;
        var modelVersion = 0;
        var forestScore = double.NaN;
        var expertScore = double.NaN;
        bool above;
        if (_model is not null)
        {
            BehaviorModel.ToVector(features, vector);
            var sampleHint = state.SampleHint;
            _model.Observe(key, vector, evt.TimestampMs, state.Logins, ref sampleHint);
            state.SampleHint = sampleHint;
            // The learning minimum: a user's first logins are what "normal" is learnt from, never alerted on; so
            // neither score is needed before it (the sample above still learns from the user).
            var eligible = state.Logins >= _model.Options.MinLogins;
            var expertAbove = false;
            if (eligible && options.ExpertScore)
            {
                expertScore = Math.Clamp(options.HeuristicScore(features), 0, 1);
                expertAbove = expertScore >= options.Threshold;
            }
            var forestAbove = false;
            // The forest walk (every tree) decides nothing when the expert score already holds an alert up: the state
            // stays above and nothing rises. Otherwise it decides, or scores the alert that rises.
            if (eligible && !(expertAbove && state.Above))
            {
                // The attribution (a logarithm per node of every tree) is only read when an alert rises: computed below.
                forestScore = _model.Score(vector, out paperScore, out modelVersion, out scoredBy, _scoreMemo);
                forestAbove = forestScore >= options.Threshold; // false while NaN (no forest yet)
            }
            above = eligible && (forestAbove || expertAbove);
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
        if (features.LocalHour < 0)
        {
            features = features with { LocalHour = LocalHour(evt) };
        }
        var ids = new List<string>();
        for (var i = 0; i < state.ActivityCount && ids.Count < 50; i++)
        {
            var t = state.ActivityTimeAt(i);
            if (t > from && t <= evt.TimestampMs)
            {
                ids.Add(state.ActivityEventIdAt(i));
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
            if (scoredBy is not null)
            {
                scoredBy.Explain(vector, attribution);
            }
            else
            {
                attribution.Clear();
            }
            if (!(forestScore >= options.Threshold))
            {
                // The expert score raised it: explain that score, not the forest's below-threshold isolation.
                options.ExpertAttribution(features, attribution);
            }
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
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(from, state.FirstActivityMs)),
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

    private void OnLogin(ref BehaviorState state, UserEvent evt)
    {
        var hour = LocalHour(evt);
        bool unusual;
        if (state.Logins >= options.LearnedAfterLogins)
        {
            unusual = state.NearHour(hour) < options.UnusualHourShare * state.HourTotal;
        }
        else
        {
            unusual = options.NightStartHour <= options.NightEndHour
                ? hour >= options.NightStartHour && hour < options.NightEndHour
                : hour >= options.NightStartHour || hour < options.NightEndHour;
        }
        var device = evt.UserAgent is { } ua ? BehaviorState.DeviceHash(ua) : 0U;
        var newDevice = device != 0 && !state.KnowsDevice(device);
        state.StartSession(evt.SessionId, evt.EventId, unusual, newDevice, HourShare(state, hour));
        state.CountLogin(hour);
        if (newDevice)
        {
            state.AddDevice(device, options.MaxDevices);
        }
    }

    /// <summary>The share of the user's logins so far within an hour of <paramref name="hour"/> (0 with none). The
    /// histogram's total is the login count until an hour passes 255 logins and the histogram is halved.</summary>
    private static double HourShare(in BehaviorState state, int hour) => state.HourTotal is var total and > 0
        ? state.NearHour(hour) / (double)total
        : 0;

    /// <summary>Once the watermark passes this, every on-time event lies at least two hours after the latest
    /// activity held, so the front pruning would drop them all before anything reads them: the ring can go. (Two hours,
    /// not one, because the ring keeps two: the first entry bounds an alert's window start.)</summary>
    private long ReleaseAt(long latestActivityMs) => latestActivityMs + (2 * HourMs) + Context.AllowedLatenessMs;

    /// <summary>Evicts idle users, then releases the rings whose time has passed. The queue is in filing order, which
    /// is event time up to the disorder the watermark allows, so a ring may be let go a little late, never early; a
    /// ring that took activity since it was filed goes back in the queue with its new latest time.</summary>
    public override void OnWatermark(long watermarkMs, IOutput<Alert> output)
    {
        base.OnWatermark(watermarkMs, output);
        while (_rings.TryPeek(out var slot, out var filedMs) && ReleaseAt(filedMs) < watermarkMs)
        {
            _rings.Dequeue();
            ref var state = ref State.GetValueRefAtSlotOrNullRef(slot);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref state) || !state.HoldsActivity)
            {
                continue;
            }
            var latest = state.LatestActivityMs;
            if (ReleaseAt(latest) < watermarkMs)
            {
                state.ReleaseActivity(_ringArrays);
            }
            else
            {
                _rings.Enqueue(slot, latest);
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
            if (state.HoldsActivity)
            {
                list.Add((slot, state.LatestActivityMs));
            }
        });
        _rings.Refill(holding);
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

/// <summary>
/// Per-user state of <see cref="BehaviorAnomalyOperator"/>, a value type held inline in the keyed state's pages
/// (112 bytes for a user without recent searches or purchases): login hours as a byte histogram, known devices
/// as 32-bit hashes of the user agent, the session as a hash of its id with its login event id packed
/// (<see cref="CompactId"/>), the hourly maxima as numbers, and the searches and purchases of the last two hours in a
/// ring that exists only while one of them could still count (the operator releases it as the watermark passes).
/// </summary>
public struct BehaviorState
{
    private const byte Format = 1;
    private const byte UnusualFlag = 1;
    private const byte NewDeviceFlag = 2;
    private const byte AboveFlag = 4;
    // Two inline: most users have one or two devices; a third and more go to the small array.
    private const int InlineDevices = 2;

    private HourHistogram _hours;
    private DeviceSlots _devices;
    // The devices past the inline ones (a uint[]), the ring of recent activity (an ActivityEntry[]), both (a Side), or
    // neither: one reference where most users need none and few need both.
    private object? _side;
    private CompactId _sessionLogin;
    private double _maxAmount;
    private double _baseAmount;
    private double _sessionHourShare;
    private int _logins;
    private uint _sessionHash;
    private ushort _ringHead;
    private ushort _ringCount;
    private ushort _maxSearches;
    private ushort _maxPurchases;
    private ushort _baseSearches;
    private ushort _basePurchases;
    private byte _deviceCount;
    private byte _flags;
    // Where the behaviour model's sample keeps this user's row, + 1 (0: not known); a note the model checks, not
    // checkpointed (a restored state starts without it). Two bytes the struct's padding had free.
    private ushort _sampleHint;

    /// <summary>Logins per local hour, at most 255 each: when one would pass that, every hour is halved (rounding
    /// up), which keeps the shares the rule reads and lets old habits fade.</summary>
    [System.Runtime.CompilerServices.InlineArray(24)]
    private struct HourHistogram
    {
        private byte _element;
    }

    [System.Runtime.CompilerServices.InlineArray(InlineDevices)]
    private struct DeviceSlots
    {
        private uint _element;
    }

    /// <summary>The devices past the inline ones together with the ring; never changed, so a copied state cannot see
    /// another copy's ring.</summary>
    private sealed class Side(uint[] devices, ActivityEntry[] ring)
    {
        public readonly uint[] Devices = devices;
        public readonly ActivityEntry[] Ring = ring;
    }

    private readonly uint[]? MoreDevices => _side is Side both ? both.Devices : _side as uint[];

    private readonly ActivityEntry[]? Ring => _side is Side both ? both.Ring : _side as ActivityEntry[];

    private void SetSide(uint[]? devices, ActivityEntry[]? ring) =>
        _side = devices is null ? ring : ring is null ? devices : new Side(devices, ring);

    /// <summary>Free arrays of a few small ring sizes (1, 2, 4, 8 and 16 entries), handed from a user whose ring was let
    /// go or outgrown to the next user who needs one; larger rings come and go through the runtime.</summary>
    internal sealed class ActivityRingPools
    {
        private readonly SmallArrayPool<ActivityEntry>[] _bySize = [new(1), new(2), new(4), new(8), new(16)];

        public ActivityEntry[]? Rent(int length) =>
            System.Numerics.BitOperations.IsPow2(length) && length <= 16 ? _bySize[System.Numerics.BitOperations.Log2((uint)length)].Rent() : null;

        public void Return(ActivityEntry[] ring)
        {
            if (System.Numerics.BitOperations.IsPow2(ring.Length) && ring.Length <= 16)
            {
                _bySize[System.Numerics.BitOperations.Log2((uint)ring.Length)].Return(ring);
            }
        }
    }

    /// <summary>A search or purchase: time and kind in one number (time × 2 + 1 for a purchase).</summary>
    internal readonly record struct ActivityEntry(long TimeAndKind, double Amount, CompactId EventId)
    {
        public long TimeMs => TimeAndKind >> 1;

        public bool Purchase => (TimeAndKind & 1) != 0;
    }

    /// <summary>The behaviour model's note of where its sample keeps this user's row (see <see cref="BehaviorModel.Observe(string, ReadOnlySpan{float}, long, int, ref ushort)"/>).</summary>
    internal ushort SampleHint
    {
        readonly get => _sampleHint;
        set => _sampleHint = value;
    }

    /// <summary>Successful logins seen (exact; the learning minimum and the evidence read it).</summary>
    public readonly int Logins => _logins;

    /// <summary>Devices remembered.</summary>
    public readonly int DeviceCount => _deviceCount;

    /// <summary>Searches and purchases held (those of the last two hours while any could still count; 0 once released).</summary>
    public readonly int ActivityCount => _ringCount;

    /// <summary>Whether the ring of recent searches and purchases is allocated.</summary>
    public readonly bool HoldsActivity => Ring is not null;

    /// <summary>The remembered search or purchase at <paramref name="index"/> (arrival order).</summary>
    public readonly Activity ActivityAt(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, (int)_ringCount);
        ref readonly var e = ref Entry(index);
        return new Activity(e.TimeMs, e.Purchase, e.Amount, e.EventId.ToString() ?? "");
    }

    internal readonly int HourTotal
    {
        get
        {
            var total = 0;
            for (var h = 0; h < 24; h++)
            {
                total += _hours[h];
            }
            return total;
        }
    }

    /// <summary>Logins within an hour of <paramref name="hour"/>: that hour and its two neighbours.</summary>
    internal readonly int NearHour(int hour) => _hours[hour] + _hours[(hour + 23) % 24] + _hours[(hour + 1) % 24];

    internal readonly bool SessionUnusualHour => (_flags & UnusualFlag) != 0;

    internal readonly bool SessionNewDevice => (_flags & NewDeviceFlag) != 0;

    internal bool Above
    {
        readonly get => (_flags & AboveFlag) != 0;
        set => _flags = (byte)(value ? _flags | AboveFlag : _flags & ~AboveFlag);
    }

    internal readonly double SessionHourShare => _sessionHourShare;

    internal readonly int MaxSearchesHour => _maxSearches;

    internal readonly int MaxPurchasesHour => _maxPurchases;

    internal readonly double MaxAmountHour => _maxAmount;

    internal readonly int BaseSearches => _baseSearches;

    internal readonly int BasePurchases => _basePurchases;

    internal readonly double BaseAmount => _baseAmount;

    /// <summary>The login event of the current session, or null.</summary>
    internal readonly string? SessionLoginEventId => _sessionLogin.ToString();

    /// <summary>Whether <paramref name="sessionId"/> is the current session's (null never is).</summary>
    internal readonly bool InSession(string? sessionId) => sessionId is not null && _sessionHash != 0 && SessionHash(sessionId) == _sessionHash;

    /// <summary>A user agent's device hash: never 0, which stands for no device.</summary>
    internal static uint DeviceHash(string userAgent) => UserAgents.DeviceHash(userAgent);

    // 32 bits tell the session from the next one (a false "same session" needs the two ids to collide).
    private static uint SessionHash(string sessionId) => (uint)Features.StableHash.Hash64(sessionId, 6) | 1;

    internal readonly bool KnowsDevice(uint device)
    {
        for (var i = 0; i < _deviceCount; i++)
        {
            if (DeviceAt(i) == device)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Starts a session at a login: the session's verdicts and baselines, then the login joins the habits.</summary>
    internal void StartSession(string? sessionId, string loginEventId, bool unusual, bool newDevice, double hourShare)
    {
        _sessionHash = sessionId is null ? 0 : SessionHash(sessionId);
        _sessionLogin = CompactId.From(loginEventId);
        _flags = (byte)((unusual ? UnusualFlag : 0) | (newDevice ? NewDeviceFlag : 0));
        _sessionHourShare = hourShare;
        _baseSearches = _maxSearches;
        _basePurchases = _maxPurchases;
        _baseAmount = _maxAmount;
    }

    internal void CountLogin(int hour)
    {
        if (_hours[hour] == byte.MaxValue)
        {
            for (var h = 0; h < 24; h++)
            {
                _hours[h] = (byte)((_hours[h] + 1) >> 1);
            }
        }
        _hours[hour]++;
        _logins++;
    }

    /// <summary>Remembers a device, forgetting the least recently added one past <paramref name="max"/>.</summary>
    internal void AddDevice(uint device, int max)
    {
        if (max <= 0 || KnowsDevice(device))
        {
            return;
        }
        if (_deviceCount >= max)
        {
            for (var i = 1; i < _deviceCount; i++)
            {
                SetDevice(i - 1, DeviceAt(i));
            }
            _deviceCount--;
        }
        var more = MoreDevices;
        if (_deviceCount >= InlineDevices && (more is null || more.Length < _deviceCount - InlineDevices + 1))
        {
            Array.Resize(ref more, Math.Min(Math.Max(4, (more?.Length ?? 0) * 2), Math.Max(1, max - InlineDevices)));
            SetSide(more, Ring);
        }
        SetDevice(_deviceCount++, device);
    }

    internal void RaiseMaxima(int searches, int purchases, double amount)
    {
        _maxSearches = (ushort)Math.Max(_maxSearches, Math.Min(searches, ushort.MaxValue));
        _maxPurchases = (ushort)Math.Max(_maxPurchases, Math.Min(purchases, ushort.MaxValue));
        _maxAmount = Math.Max(_maxAmount, amount);
    }

    /// <summary>Appends a search or purchase; true when the ring was just created (the caller files it for release).</summary>
    internal bool AddActivity(long timeMs, bool purchase, double amount, string eventId) => AddActivity(timeMs, purchase, amount, eventId, null);

    /// <summary><see cref="AddActivity(long, bool, double, string)"/> with the ring's arrays taken from and given
    /// back to <paramref name="pools"/>.</summary>
    internal bool AddActivity(long timeMs, bool purchase, double amount, string eventId, ActivityRingPools? pools)
    {
        var created = false;
        var ring = Ring;
        if (ring is null)
        {
            ring = pools?.Rent(1) ?? new ActivityEntry[1];
            SetSide(MoreDevices, ring);
            _ringHead = 0;
            _ringCount = 0;
            created = true;
        }
        else if (_ringCount == ring.Length)
        {
            var bigger = pools?.Rent(ring.Length * 2) ?? new ActivityEntry[ring.Length * 2];
            for (var i = 0; i < _ringCount; i++)
            {
                bigger[i] = Entry(i);
            }
            pools?.Return(ring);
            ring = bigger;
            SetSide(MoreDevices, ring);
            _ringHead = 0;
        }
        ring[(_ringHead + _ringCount) & (ring.Length - 1)] = new ActivityEntry((timeMs << 1) | (purchase ? 1L : 0), amount, CompactId.From(eventId));
        _ringCount++;
        return created;
    }

    /// <summary>The time of the first remembered activity (arrival order).</summary>
    internal readonly long FirstActivityMs => Entry(0).TimeMs;

    internal readonly long ActivityTimeAt(int index) => Entry(index).TimeMs;

    /// <summary>The searches and purchases (with the purchases' total amount, summed in arrival order) remembered at
    /// times t with <paramref name="after"/> &lt; t ≤ <paramref name="upTo"/>: one pass over the ring.</summary>
    internal readonly void CountActivity(long after, long upTo, out int searches, out int purchases, out double spent)
    {
        searches = 0;
        purchases = 0;
        spent = 0;
        if (_ringCount == 0)
        {
            return;
        }
        var ring = Ring!;
        var mask = ring.Length - 1;
        for (var i = 0; i < _ringCount; i++)
        {
            ref readonly var entry = ref ring[(_ringHead + i) & mask];
            var t = entry.TimeMs;
            if (t <= after || t > upTo)
            {
                continue;
            }
            if (entry.Purchase)
            {
                purchases++;
                spent += entry.Amount;
            }
            else
            {
                searches++;
            }
        }
    }

    internal readonly bool ActivityIsPurchase(int index) => Entry(index).Purchase;

    internal readonly double ActivityAmountAt(int index) => Entry(index).Amount;

    internal readonly string ActivityEventIdAt(int index) => Entry(index).EventId.ToString() ?? "";

    internal void RemoveFirstActivity()
    {
        var ring = Ring!;
        ring[_ringHead] = default;
        _ringHead = (ushort)((_ringHead + 1) & (ring.Length - 1));
        _ringCount--;
    }

    /// <summary>The latest time among the remembered activities (long.MinValue with none).</summary>
    internal readonly long LatestActivityMs
    {
        get
        {
            var latest = long.MinValue;
            if (_ringCount == 0)
            {
                return latest;
            }
            var ring = Ring!;
            var mask = ring.Length - 1;
            for (var i = 0; i < _ringCount; i++)
            {
                latest = Math.Max(latest, ring[(_ringHead + i) & mask].TimeMs);
            }
            return latest;
        }
    }

    /// <summary>Lets the ring go (no on-time event can count what it holds any more).</summary>
    internal void ReleaseActivity() => ReleaseActivity(null);

    /// <summary><see cref="ReleaseActivity()"/>, giving the ring's array back to <paramref name="pools"/>.</summary>
    internal void ReleaseActivity(ActivityRingPools? pools)
    {
        if (pools is not null && Ring is { } ring)
        {
            pools.Return(ring);
        }
        SetSide(MoreDevices, null);
        _ringHead = 0;
        _ringCount = 0;
    }

    private readonly ref ActivityEntry Entry(int index)
    {
        var ring = Ring!;
        return ref ring[(_ringHead + index) & (ring.Length - 1)];
    }

    private readonly uint DeviceAt(int index) => index < InlineDevices ? _devices[index] : MoreDevices![index - InlineDevices];

    private void SetDevice(int index, uint device)
    {
        if (index < InlineDevices)
        {
            _devices[index] = device;
        }
        else
        {
            MoreDevices![index - InlineDevices] = device;
        }
    }

    /// <summary>Writes the checkpoint form, a format byte first.</summary>
    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Format);
        for (var h = 0; h < 24; h++)
        {
            writer.Write(_hours[h]);
        }
        writer.Write(_logins);
        writer.Write(_deviceCount);
        for (var i = 0; i < _deviceCount; i++)
        {
            writer.Write(DeviceAt(i));
        }
        writer.Write(Ring is not null);
        if (Ring is not null)
        {
            writer.Write(_ringCount);
            for (var i = 0; i < _ringCount; i++)
            {
                ref readonly var e = ref Entry(i);
                writer.Write(e.TimeAndKind);
                writer.Write(e.Amount);
                writer.Write(e.EventId.ToString() ?? "");
            }
        }
        writer.Write(_sessionHash);
        StateIo.WriteNullable(writer, _sessionLogin.ToString());
        writer.Write(_flags);
        writer.Write(_maxSearches);
        writer.Write(_maxPurchases);
        writer.Write(_maxAmount);
        writer.Write(_baseSearches);
        writer.Write(_basePurchases);
        writer.Write(_baseAmount);
        writer.Write(_sessionHourShare);
    }

    /// <summary>Reads what <see cref="Write"/> wrote.</summary>
    /// <exception cref="InvalidDataException">Another format, or counts out of range.</exception>
    public static BehaviorState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var format = reader.ReadByte();
        if (format != Format)
        {
            throw new InvalidDataException($"A behaviour state has format {format}; this version reads {Format}.");
        }
        var state = default(BehaviorState);
        for (var h = 0; h < 24; h++)
        {
            state._hours[h] = reader.ReadByte();
        }
        state._logins = reader.ReadInt32();
        int devices = reader.ReadByte();
        for (var i = 0; i < devices; i++)
        {
            state.AddDevice(reader.ReadUInt32(), devices);
        }
        if (reader.ReadBoolean())
        {
            int count = reader.ReadUInt16();
            if (count > 1_000_000)
            {
                throw new InvalidDataException($"A checkpointed behaviour state claims {count} activities.");
            }
            var capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, count));
            var ring = new ActivityEntry[capacity];
            state.SetSide(state.MoreDevices, ring);
            for (var i = 0; i < count; i++)
            {
                ring[i] = new ActivityEntry(reader.ReadInt64(), reader.ReadDouble(), CompactId.From(reader.ReadString()));
            }
            state._ringCount = (ushort)count;
        }
        state._sessionHash = reader.ReadUInt32();
        state._sessionLogin = CompactId.From(StateIo.ReadNullable(reader));
        state._flags = reader.ReadByte();
        state._maxSearches = reader.ReadUInt16();
        state._maxPurchases = reader.ReadUInt16();
        state._maxAmount = reader.ReadDouble();
        state._baseSearches = reader.ReadUInt16();
        state._basePurchases = reader.ReadUInt16();
        state._baseAmount = reader.ReadDouble();
        state._sessionHourShare = reader.ReadDouble();
        return state;
    }
}
