using System.Globalization;
using Vigil.Core.Events;

namespace Vigil.Simulator.Internal;

/// <summary>
/// One run of the simulation. Users and campaigns wake up through a time-ordered queue; a wake-up generates
/// one session (or one campaign) whose events all lie at or after the wake time, so popping the queue in order
/// emits a time-ordered stream while only the sessions in flight are held in memory.
/// </summary>
internal sealed partial class Engine
{
    private const long Second = 1000;
    private const long Minute = 60 * Second;
    private const long Hour = 60 * Minute;
    private const long Day = 24 * Hour;
    private const double MsPerDay = Day;

    // Legitimate events per nominal session wake-up, measured over long runs (about 12 per session, less the
    // wake-ups lost while a user is mid-session or in the air); turns --rate into session intensity.
    private const double EventsPerSession = 10.7;

    // Failure flows of one user are kept this far apart, so no two-minute window holds more than one flow's failures.
    private const long FailureFlowSpacing = 150 * Second;

    private const ulong StreamUser = 1;
    private const ulong StreamCampaign = 2;
    private const ulong StreamSchedule = 3;

    private static readonly double[] s_dayCurve = Normalise(
    [
        0.15, 0, 0, 0, 0, 0, 0.1, 0.5, 0.8, 0.9, 0.9, 1.0, 1.1, 1.0, 0.9, 0.9, 1.0, 1.2, 1.5, 1.9, 2.1, 2.0, 1.5, 0.7,
    ]);

    private static readonly double[] s_owlCurve = Normalise(
    [
        1.8, 1.6, 1.3, 1.0, 0.6, 0.3, 0.1, 0, 0, 0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 1.9,
    ]);

    private static readonly double s_dayMax = Max(s_dayCurve);
    private static readonly double s_owlMax = Max(s_owlCurve);

    private readonly SimulatorOptions _options;
    private readonly GeoSeed _geo = GeoSeed.Instance;
    private readonly UserState[] _users;
    private readonly PriorityQueue<Pending, QueueOrder> _queue = new();
    private readonly long _startMs;
    private readonly long _endMs;
    private readonly ulong _idSalt;
    private readonly double[] _rateScale = new double[96];
    private readonly double _rateScaleMax;
    private readonly AttackKinds[] _enabledKinds;
    private readonly long _attackIntervalMs;
    private readonly EventEncoder _encoder = new();
    private Prng _schedule;
    private long _seq;
    private long _eventCounter;
    private long _sessionCounter;
    private long _objectCounter;
    private int _campaignCounter;
    private int _cyclePosition;
    private AttackKinds[] _cycle = [];

    public Engine(SimulatorOptions options)
    {
        _options = options;
        _startMs = options.Start.ToUnixTimeMilliseconds();
        _endMs = options.Duration is { } d ? _startMs + (long)d.TotalMilliseconds : long.MaxValue;
        _idSalt = Prng.Mix64((ulong)options.Seed * 0x2545F4914F6CDD1DUL);
        _schedule = Prng.For(options.Seed, StreamSchedule, 0);

        _users = new UserState[options.Users];
        for (var i = 0; i < _users.Length; i++)
        {
            _users[i] = CreateUser(i);
        }

        ComputeRateScale();
        _rateScaleMax = 0;
        foreach (var k in _rateScale)
        {
            _rateScaleMax = Math.Max(_rateScaleMax, k);
        }

        var kinds = new List<AttackKinds>();
        foreach (var k in AttackKindNames.Singles)
        {
            if ((options.Attacks & k) != 0)
            {
                kinds.Add(k);
            }
        }

        _enabledKinds = [.. kinds];
        _attackIntervalMs = (long)DefaultAttackInterval(options, _enabledKinds.Length).TotalMilliseconds;
    }

    /// <summary>Raised when the last event of a campaign has been emitted.</summary>
    public Action<CampaignState>? OnCampaignCompleted { get; set; }

    /// <summary>The population, for tests.</summary>
    public IReadOnlyList<UserState> Users => _users;

    public long UserEventCount { get; private set; }

    public long NotificationCount { get; private set; }

    private static TimeSpan DefaultAttackInterval(SimulatorOptions o, int kinds)
    {
        if (o.AttackInterval is { } explicitInterval)
        {
            return explicitInterval;
        }

        if (o.Duration is not { } d || kinds == 0)
        {
            return TimeSpan.FromMinutes(3);
        }

        // Leave five minutes at the end so the last campaign has room; never less than 30 s apart.
        var usable = d - o.FirstAttackAfter - TimeSpan.FromMinutes(5);
        var spread = usable / kinds;
        if (spread < TimeSpan.FromSeconds(30))
        {
            spread = TimeSpan.FromSeconds(30);
        }

        return spread < TimeSpan.FromMinutes(10) ? spread : TimeSpan.FromMinutes(10);
    }

    /// <summary>Runs the simulation: each item is a message and whether it belongs to a campaign.</summary>
    public IEnumerable<(SimulatedMessage Message, bool Campaign)> Run()
    {
        foreach (var u in _users)
        {
            ScheduleWake(u, _startMs);
        }

        if (_enabledKinds.Length > 0)
        {
            Enqueue(new Pending { Ts = _startMs + (long)_options.FirstAttackAfter.TotalMilliseconds, Kind = PendingKind.CampaignWake });
        }

        while (_queue.TryDequeue(out var p, out _))
        {
            if (p.Ts >= _endMs)
            {
                yield break;
            }

            switch (p.Kind)
            {
                case PendingKind.UserWake:
                    RunSession(p.User!, p.Ts);
                    break;
                case PendingKind.CampaignWake:
                    StartCampaign(p.Ts);
                    break;
                case PendingKind.Event:
                    yield return (EmitEvent(p), p.Campaign is not null);
                    break;
                case PendingKind.Notification:
                    NotificationCount++;
                    yield return (new SimulatedMessage(SimulatedMessage.NotificationsTopic, p.UserId!, p.Ts,
                        _encoder.EncodeNotification(p, NewId("n-", ref _objectCounter))), p.Campaign is not null);
                    break;
                default:
                    throw new InvalidOperationException($"Unknown queue item {p.Kind}.");
            }
        }
    }

    private SimulatedMessage EmitEvent(Pending p)
    {
        var id = NewId("e-", ref _eventCounter);
        UserEventCount++;
        var message = new SimulatedMessage(SimulatedMessage.UserEventsTopic, p.UserId ?? p.Username!, p.Ts, _encoder.EncodeEvent(p, id));
        if (p.Campaign is { } c)
        {
            c.EventIds.Add(id);
            c.FirstTs = Math.Min(c.FirstTs, p.Ts);
            c.LastTs = Math.Max(c.LastTs, p.Ts);
            if (--c.Remaining == 0)
            {
                OnCampaignCompleted?.Invoke(c);
            }
        }

        return message;
    }

    private string NewId(string prefix, ref long counter)
    {
        // A bijective mix of the counter: unique within a run, different between seeds and kinds of id, and
        // not a bare sequence.
        var v = Prng.Mix64(_idSalt + ((ulong)prefix[0] << 56) + (ulong)counter++);
        return string.Create(CultureInfo.InvariantCulture, $"{prefix}{v:x16}");
    }

    private void Enqueue(Pending p) => _queue.Enqueue(p, new QueueOrder(p.Ts, _seq++));

    // ---- population ----

    private UserState CreateUser(int index)
    {
        var rng = Prng.For(_options.Seed, StreamUser, index);
        var first = rng.Pick(Catalog.FirstNames);
        var last = rng.Pick(Catalog.LastNames);
        // Every real user name carries the account number, which keeps them unique and apart from the
        // digit-free names attackers guess.
        var username = rng.Next(4) switch
        {
            0 => string.Create(CultureInfo.InvariantCulture, $"{first}.{last}{index}"),
            1 => string.Create(CultureInfo.InvariantCulture, $"{first[0]}{last}{index}"),
            2 => string.Create(CultureInfo.InvariantCulture, $"{first}{index}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{first}_{last[0]}{index}"),
        };
        var home = _geo.Cities[rng.PickWeighted(_geo.CityCumulativeWeights)];
        var homeIp = home.Prefixes[rng.Next(home.Prefixes.Length)] + (uint)rng.Between(2, 254);
        var deviceCount = rng.Chance(0.45) ? 1 : rng.Chance(0.7) ? 2 : 3;
        var devices = new string[deviceCount];
        var mobile = new bool[deviceCount];
        for (var d = 0; d < deviceCount; d++)
        {
            mobile[d] = d == 0 ? rng.Chance(0.55) : !mobile[d - 1] || rng.Chance(0.3);
            devices[d] = rng.Pick(mobile[d] ? Catalog.MobileAgents : Catalog.DesktopAgents);
        }

        var vpn = rng.Chance(0.04) ? rng.Pick(_geo.Hosting) : null;
        var start = _options.Start;
        return new UserState
        {
            Index = index,
            Id = string.Create(CultureInfo.InvariantCulture, $"u-{index:D6}"),
            Username = username,
            EmailDomain = rng.Pick(Catalog.EmailDomains),
            Home = home,
            HomeIp = homeIp,
            Devices = devices,
            DeviceIsMobile = mobile,
            NightOwl = rng.Chance(0.12),
            Vpn = vpn,
            SessionsPerDay = Math.Clamp(rng.LogNormal(5, 0.7), 0.3, 30),
            UtcOffsetHours = home.TimeZone.GetUtcOffset(start).TotalHours,
            // A few accounts sign up during the run.
            Registered = !rng.Chance(0.015),
            Rng = rng,
        };
    }

    private void ComputeRateScale()
    {
        // Natural legitimate events/s of the population for each quarter hour of the UTC day, so that --rate
        // can be met whatever part of the world is awake.
        var natural = new double[96];
        foreach (var u in _users)
        {
            var curve = u.NightOwl ? s_owlCurve : s_dayCurve;
            for (var b = 0; b < 96; b++)
            {
                var local = (b / 4.0) + u.UtcOffsetHours;
                natural[b] += u.SessionsPerDay * curve[HourIndex(local)] / 86_400.0 * EventsPerSession;
            }
        }

        for (var b = 0; b < 96; b++)
        {
            _rateScale[b] = _options.Rate is { } r ? r / Math.Max(natural[b], 1e-9) : 1.0;
        }
    }

    private static int HourIndex(double localHours)
    {
        var h = (int)Math.Floor(localHours) % 24;
        return h < 0 ? h + 24 : h;
    }

    private double RateScaleAt(long ts)
    {
        var ms = ts % Day;
        if (ms < 0)
        {
            ms += Day;
        }

        return _rateScale[(int)(ms / (15 * Minute))];
    }

    private double LocalHour(UserState u, long ts) => ((double)ts / Hour) + u.UtcOffsetHours;

    private void ScheduleWake(UserState u, long from)
    {
        // Thinning of a non-homogeneous Poisson process: propose at the peak intensity, accept in
        // proportion to the intensity at the proposed time (diurnal curve × rate scale).
        var curve = u.NightOwl ? s_owlCurve : s_dayCurve;
        var peak = _rateScaleMax * u.SessionsPerDay * (u.NightOwl ? s_owlMax : s_dayMax) / MsPerDay;
        var t = (double)from;
        for (var i = 0; i < 100_000; i++)
        {
            t += u.Rng.Exponential(1.0 / peak);
            if (t >= _endMs)
            {
                return;
            }

            var ts = (long)t;
            var lambda = RateScaleAt(ts) * u.SessionsPerDay * curve[HourIndex(LocalHour(u, ts))] / MsPerDay;
            if (u.Rng.NextDouble() * peak < lambda)
            {
                break;
            }
        }

        if (t < _endMs)
        {
            Enqueue(new Pending { Ts = (long)t, Kind = PendingKind.UserWake, User = u });
        }
    }

    private static double[] Normalise(double[] curve)
    {
        double sum = 0;
        foreach (var v in curve)
        {
            sum += v;
        }

        var result = new double[curve.Length];
        for (var i = 0; i < curve.Length; i++)
        {
            result[i] = curve[i] * curve.Length / sum;
        }

        return result;
    }

    private static double Max(double[] values)
    {
        var m = double.MinValue;
        foreach (var v in values)
        {
            m = Math.Max(m, v);
        }

        return m;
    }

    // ---- shared helpers ----

    private static KeyValuePair<string, string>[] Props(string k, string v) => [new(k, v)];

    private static KeyValuePair<string, string>[] Props(string k1, string v1, string k2, string v2) => [new(k1, v1), new(k2, v2)];

    private static KeyValuePair<string, string>[] Props(string k1, string v1, string k2, string v2, string k3, string v3) =>
        [new(k1, v1), new(k2, v2), new(k3, v3)];

    private static string Ip(uint prefix, ref Prng rng) => GeoSeed.FormatIPv4(prefix + (uint)rng.Between(2, 254));

    private static string Amount(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    private string NextSessionId() => NewId("s-", ref _sessionCounter);

    private string NextOrderId() => NewId("o-", ref _objectCounter);

    private static bool UsesLogin(EventType t) =>
        t is EventType.LoginFailed or EventType.LoginSuccess or EventType.UserRegistered or EventType.PasswordResetRequested;

    private static Pending Event(long ts, EventType type, UserState? user, string? sessionId, string ip, string ua,
        KeyValuePair<string, string>[]? props, string? unknownUsername = null) => new()
        {
            Ts = ts,
            Kind = PendingKind.Event,
            Type = type,
            UserId = user?.Id,
            Username = user is null ? unknownUsername : UsesLogin(type) ? user.Username : null,
            SessionId = sessionId,
            Ip = ip,
            UserAgent = ua,
            Properties = props,
        };

    private static Pending Notification(long ts, UserState user, NotificationChannel channel, string kind) => new()
    {
        Ts = ts,
        Kind = PendingKind.Notification,
        UserId = user.Id,
        Channel = channel,
        NotificationKind = kind,
    };
}
