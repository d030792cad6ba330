using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Geo;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="GeoLoginOperator"/>: IMPOSSIBLE_TRAVEL and NEW_COUNTRY.</summary>
public sealed record GeoLoginOptions
{
    public bool ImpossibleTravelEnabled { get; init; } = true;

    public bool NewCountryEnabled { get; init; } = true;

    /// <summary>Great-circle speed between consecutive logins above which travel is impossible (Panther: 900 km/h,
    /// an airliner's cruise).</summary>
    public double MaxSpeedKmh { get; init; } = 900;

    /// <summary>Jumps shorter than this are ignored whatever the time (Panther: 50 km).</summary>
    public double MinDistanceKm { get; init; } = 50;

    /// <summary>Logins needed before a new country is worth an alert: the learning period.</summary>
    public int NewCountryAfterLogins { get; init; } = 3;

    /// <summary>Countries remembered per user.</summary>
    public int MaxCountries { get; init; } = 16;

    /// <summary>How long a user's login history is kept after their last login.</summary>
    public TimeSpan HistoryTtl { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>
/// Geo rules on a user's successful logins, through an <see cref="IGeoLocator"/>:
/// IMPOSSIBLE_TRAVEL when two consecutive logins (by event time) are further apart than
/// <see cref="GeoLoginOptions.MinDistanceKm"/> and than their accuracy radii together, at a speed above
/// <see cref="GeoLoginOptions.MaxSpeedKmh"/> → HIGH, or LOW when either end is a hosting or VPN network (where the
/// address says little about the person, as Panther's standard rule treats them); and NEW_COUNTRY when, after
/// <see cref="GeoLoginOptions.NewCountryAfterLogins"/> logins, one comes from a country the user never logged in from
/// → LOW (trips are common; the stronger rules escalate).
/// </summary>
/// <remarks>Logins the locator cannot place are skipped. A login arriving out of order is compared with both its
/// neighbours in time.</remarks>
public sealed class GeoLoginOperator(GeoLoginOptions options, IGeoLocator geo, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, GeoLoginState, Alert>("GEO_LOGIN", options.HistoryTtl,
        new DelegateStateSerializer<GeoLoginState>((w, s) => s.Write(w), r => GeoLoginState.Read(r, options.MaxCountries)))
{
    protected override string? KeyOf(in UserEvent evt) =>
        evt.Type == EventType.LoginSuccess && evt.IpAddress is not null ? evt.UserId : null;

    protected override void Process(string key, ref GeoLoginState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        state ??= new GeoLoginState();
        if (!geo.TryLookup(evt.IpAddress, out var location))
        {
            return;
        }
        var login = new GeoLogin(evt.TimestampMs, evt.EventId, evt.IpAddress!, location.CountryCode, location.City,
            location.Latitude, location.Longitude, location.AccuracyRadiusKm, location.IsHosting);
        if (options.ImpossibleTravelEnabled)
        {
            var (before, after) = state.Neighbours(login.TimeMs);
            if (before is { } b)
            {
                CheckTravel(key, b, login, login, evt, output);
            }
            if (after is { } a)
            {
                CheckTravel(key, login, a, login, evt, output);
            }
        }
        if (options.NewCountryEnabled && state.Logins >= options.NewCountryAfterLogins && !state.Countries.Contains(login.Country))
        {
            EmitNewCountry(key, state, login, evt, output);
        }
        state.Add(login, options.MaxCountries);
    }

    private void CheckTravel(string user, GeoLogin from, GeoLogin to, GeoLogin trigger, UserEvent evt, IOutput<Alert> output)
    {
        var km = GeoMath.DistanceKm(from.Latitude, from.Longitude, to.Latitude, to.Longitude);
        if (km < options.MinDistanceKm || km <= from.RadiusKm + to.RadiusKm)
        {
            return;
        }
        var elapsedMs = to.TimeMs - from.TimeMs;
        var speed = GeoMath.SpeedKmPerHour(km, elapsedMs);
        if (speed <= options.MaxSpeedKmh)
        {
            return;
        }
        var hosting = from.Hosting || to.Hosting;
        var shownSpeed = double.IsPositiveInfinity(speed) ? "at the same instant" : $"at {Evidence.Text(speed)} km/h";
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(RuleNames.ImpossibleTravel, user, trigger.EventId),
            Rule = RuleNames.ImpossibleTravel,
            Severity = hosting ? Severity.Low : Severity.High,
            UserId = user,
            IpAddress = trigger.Ip,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(from.TimeMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(to.TimeMs),
            Score = hosting ? 0.3 : Math.Min(1.0, 0.7 + (0.05 * Math.Log2(Math.Min(speed, 1e9) / options.MaxSpeedKmh))),
            Summary = $"Logins from {Place(from)} and {Place(to)} {Evidence.Text(elapsedMs / 60_000.0, 1)} min apart: {Evidence.Text(km)} km {shownSpeed}"
                + (hosting ? "; one end is a hosting or VPN network, so likely a VPN switch" : "; two parties hold this account: confirm with the user and end the other session"),
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = new List<string> { from.EventId, to.EventId },
                [Evidence.Entity] = Evidence.User(user),
                ["distanceKm"] = Evidence.Round(km),
                ["minutes"] = Evidence.Round(elapsedMs / 60_000.0),
                ["speedKmh"] = double.IsPositiveInfinity(speed) ? null : Evidence.Round(speed),
                ["maxSpeedKmh"] = options.MaxSpeedKmh,
                ["fromIp"] = from.Ip,
                ["toIp"] = to.Ip,
                ["fromCountry"] = from.Country,
                ["toCountry"] = to.Country,
                ["fromCity"] = from.City,
                ["toCity"] = to.City,
                ["accuracyRadiusKm"] = from.RadiusKm + to.RadiusKm,
                ["hostingNetwork"] = hosting,
            },
        });
    }

    private void EmitNewCountry(string user, GeoLoginState state, GeoLogin login, UserEvent evt, IOutput<Alert> output)
    {
        var known = new List<string>(state.Countries);
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(RuleNames.NewCountry, user, login.EventId),
            Rule = RuleNames.NewCountry,
            Severity = Severity.Low,
            UserId = user,
            IpAddress = login.Ip,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            Score = login.Hosting ? 0.2 : 0.4,
            Summary = $"First login from {login.Country} after {state.Logins} logins from {string.Join(", ", known)}"
                + (login.Hosting ? " (a hosting or VPN network)" : "") + ": a trip, or someone else; check the later activity",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = new List<string> { login.EventId },
                [Evidence.Entity] = Evidence.User(user),
                ["country"] = login.Country,
                ["city"] = login.City,
                ["knownCountries"] = known,
                ["loginsBefore"] = state.Logins,
                ["hostingNetwork"] = login.Hosting,
            },
        });
    }

    private static string Place(GeoLogin login) => login.City is { } city ? $"{city}, {login.Country}" : login.Country;
}

/// <summary>A located login.</summary>
public readonly record struct GeoLogin(long TimeMs, string EventId, string Ip, string Country, string? City, double Latitude,
    double Longitude, int RadiusKm, bool Hosting);

/// <summary>Per-user state of <see cref="GeoLoginOperator"/>: the last few located logins and the countries seen.</summary>
public sealed class GeoLoginState
{
    private const int Kept = 4;
    private readonly List<GeoLogin> _recent = new(2);

    /// <summary>Located logins seen.</summary>
    public int Logins { get; private set; }

    /// <summary>Countries logged in from, least recent first.</summary>
    public List<string> Countries { get; private set; } = new(2);

    /// <summary>The latest login at or before <paramref name="timeMs"/> and the earliest after it.</summary>
    public (GeoLogin? Before, GeoLogin? After) Neighbours(long timeMs)
    {
        GeoLogin? before = null;
        GeoLogin? after = null;
        foreach (var login in _recent)
        {
            if (login.TimeMs <= timeMs)
            {
                before = login;
            }
            else
            {
                after ??= login;
            }
        }
        return (before, after);
    }

    public void Add(GeoLogin login, int maxCountries)
    {
        var pos = _recent.Count;
        while (pos > 0 && _recent[pos - 1].TimeMs > login.TimeMs)
        {
            pos--;
        }
        _recent.Insert(pos, login);
        if (_recent.Count > Kept)
        {
            _recent.RemoveAt(0);
        }
        Logins++;
        var at = Countries.IndexOf(login.Country);
        if (at >= 0)
        {
            Countries.RemoveAt(at);
        }
        else if (Countries.Count >= maxCountries)
        {
            Countries.RemoveAt(0);
        }
        Countries.Add(login.Country);
    }

    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Logins);
        StateIo.WriteList(writer, Countries);
        writer.Write(_recent.Count);
        foreach (var l in _recent)
        {
            writer.Write(l.TimeMs);
            writer.Write(l.EventId);
            writer.Write(l.Ip);
            writer.Write(l.Country);
            StateIo.WriteNullable(writer, l.City);
            writer.Write(l.Latitude);
            writer.Write(l.Longitude);
            writer.Write(l.RadiusKm);
            writer.Write(l.Hosting);
        }
    }

    public static GeoLoginState Read(BinaryReader reader, int maxCountries)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var state = new GeoLoginState { Logins = reader.ReadInt32(), Countries = StateIo.ReadList(reader, maxCountries) };
        var count = reader.ReadInt32();
        if (count < 0 || count > Kept)
        {
            throw new InvalidDataException($"A checkpointed login history claims {count} logins.");
        }
        for (var i = 0; i < count; i++)
        {
            state._recent.Add(new GeoLogin(reader.ReadInt64(), reader.ReadString(), reader.ReadString(), reader.ReadString(),
                StateIo.ReadNullable(reader), reader.ReadDouble(), reader.ReadDouble(), reader.ReadInt32(), reader.ReadBoolean()));
        }
        return state;
    }
}
