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

    // A jump can only be impossible while the elapsed time is under the longest possible trip (half the globe) at the
    // speed limit; past that (with a margin for rounding) an earlier login can no longer appear in an alert.
    private readonly long _travelHorizonMs =
        (long)(Math.PI * GeoMath.EarthRadiusKm / Math.Max(options.MaxSpeedKmh, 1e-9) * 3_600_000 * 1.01) + 60_000;

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
        var packed = PackedLogin.From(login);
        if (options.ImpossibleTravelEnabled)
        {
            var (before, after) = state.Neighbours(login.TimeMs);
            if (before is { } b)
            {
                CheckTravel(key, b, packed, login, true, evt, output);
            }
            if (after is { } a)
            {
                CheckTravel(key, packed, a, login, false, evt, output);
            }
        }
        if (options.NewCountryEnabled && state.Logins >= options.NewCountryAfterLogins && !state.KnowsCountry(packed.Country))
        {
            EmitNewCountry(key, state, login, evt, output);
        }
        // Ids of logins no on-time login can be an impossible jump from are not needed for evidence any more.
        var watermark = Context.Watermark;
        var idsNeededAfter = watermark == long.MinValue ? long.MinValue : watermark - Context.AllowedLatenessMs - _travelHorizonMs;
        state.Add(packed, options.MaxCountries, idsNeededAfter);
    }

    /// <param name="user">The user.</param>
    /// <param name="from">The earlier login.</param>
    /// <param name="to">The later login.</param>
    /// <param name="trigger">The login being processed, with its strings.</param>
    /// <param name="triggerIsTo">Whether <paramref name="trigger"/> is <paramref name="to"/> (else <paramref name="from"/>).</param>
    /// <param name="evt">The event.</param>
    /// <param name="output">Where alerts go.</param>
    private void CheckTravel(string user, in PackedLogin from, in PackedLogin to, in GeoLogin trigger, bool triggerIsTo,
        UserEvent evt, IOutput<Alert> output)
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
        // The other end's strings: its IP from the compact form, its city from the locator again.
        var other = triggerIsTo ? from : to;
        var otherIp = other.Ip.ToString() ?? "";
        var otherCity = geo.TryLookup(otherIp, out var otherLocation) ? otherLocation.City : null;
        var fromIp = triggerIsTo ? otherIp : trigger.Ip;
        var toIp = triggerIsTo ? trigger.Ip : otherIp;
        var fromCity = triggerIsTo ? otherCity : trigger.City;
        var toCity = triggerIsTo ? trigger.City : otherCity;
        var fromCountry = CountryCodes.Unpack(from.Country);
        var toCountry = CountryCodes.Unpack(to.Country);
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
            Summary = $"Logins from {Place(fromCity, fromCountry)} and {Place(toCity, toCountry)} {Evidence.Text(elapsedMs / 60_000.0, 1)} min apart: {Evidence.Text(km)} km {shownSpeed}"
                + (hosting ? "; one end is a hosting or VPN network, so likely a VPN switch" : "; two parties hold this account: confirm with the user and end the other session"),
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = new List<string> { from.EventId ?? "", to.EventId ?? "" },
                [Evidence.Entity] = Evidence.User(user),
                ["distanceKm"] = Evidence.Round(km),
                ["minutes"] = Evidence.Round(elapsedMs / 60_000.0),
                ["speedKmh"] = double.IsPositiveInfinity(speed) ? null : Evidence.Round(speed),
                ["maxSpeedKmh"] = options.MaxSpeedKmh,
                ["fromIp"] = fromIp,
                ["toIp"] = toIp,
                ["fromCountry"] = fromCountry,
                ["toCountry"] = toCountry,
                ["fromCity"] = fromCity,
                ["toCity"] = toCity,
                ["accuracyRadiusKm"] = from.RadiusKm + to.RadiusKm,
                ["hostingNetwork"] = hosting,
            },
        });
    }

    private void EmitNewCountry(string user, GeoLoginState state, GeoLogin login, UserEvent evt, IOutput<Alert> output)
    {
        var known = state.CountryNames();
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

    private static string Place(string? city, string country) => city is not null ? $"{city}, {country}" : country;
}

/// <summary>A located login.</summary>
public readonly record struct GeoLogin(long TimeMs, string EventId, string Ip, string Country, string? City, double Latitude,
    double Longitude, int RadiusKm, bool Hosting);

/// <summary>A login as <see cref="GeoLoginState"/> keeps it: numbers, the IP in compact form, and the event id only
/// while an impossible-travel alert could still cite it.</summary>
public readonly record struct PackedLogin(long TimeMs, string? EventId, CompactIp Ip, float Latitude, float Longitude,
    int RadiusKm, ushort Country, bool Hosting)
{
    public static PackedLogin From(in GeoLogin login) => new(login.TimeMs, login.EventId, CompactIp.From(login.Ip),
        (float)login.Latitude, (float)login.Longitude, login.RadiusKm, CountryCodes.Pack(login.Country), login.Hosting);
}

/// <summary>Per-user state of <see cref="GeoLoginOperator"/>: the last few located logins as numbers and the
/// countries seen as packed codes.</summary>
public sealed class GeoLoginState
{
    private const int Kept = 4;

    // Oldest first; exact-size arrays, as most users have one or two of each.
    private PackedLogin[] _recent = [];
    private ushort[] _countries = [];

    /// <summary>Located logins seen.</summary>
    public int Logins { get; private set; }

    /// <summary>Countries remembered.</summary>
    public int CountryCount => _countries.Length;

    /// <summary>Whether the country with this <see cref="CountryCodes.Pack"/> code was logged in from.</summary>
    public bool KnowsCountry(ushort code) => Array.IndexOf(_countries, code) >= 0;

    /// <summary>Countries logged in from, least recent first.</summary>
    public List<string> CountryNames()
    {
        var names = new List<string>(_countries.Length);
        foreach (var code in _countries)
        {
            names.Add(CountryCodes.Unpack(code));
        }
        return names;
    }

    /// <summary>The latest login at or before <paramref name="timeMs"/> and the earliest after it.</summary>
    public (PackedLogin? Before, PackedLogin? After) Neighbours(long timeMs)
    {
        PackedLogin? before = null;
        PackedLogin? after = null;
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

    /// <summary>Adds a login; event ids of logins at or before <paramref name="idsNeededAfter"/> are dropped.</summary>
    public void Add(in PackedLogin login, int maxCountries, long idsNeededAfter = long.MinValue)
    {
        var pos = _recent.Length;
        while (pos > 0 && _recent[pos - 1].TimeMs > login.TimeMs)
        {
            pos--;
        }
        // Insert at pos; beyond Kept the oldest falls out.
        var merged = new PackedLogin[_recent.Length + 1];
        Array.Copy(_recent, 0, merged, 0, pos);
        merged[pos] = login;
        Array.Copy(_recent, pos, merged, pos + 1, _recent.Length - pos);
        var next = merged.Length <= Kept ? merged : merged[1..];
        for (var i = 0; i < next.Length; i++)
        {
            if (next[i].EventId is not null && next[i].TimeMs <= idsNeededAfter)
            {
                next[i] = next[i] with { EventId = null };
            }
        }
        _recent = next;
        Logins++;
        var at = Array.IndexOf(_countries, login.Country);
        if (at >= 0)
        {
            Array.Copy(_countries, at + 1, _countries, at, _countries.Length - at - 1);
            _countries[^1] = login.Country;
        }
        else if (_countries.Length >= maxCountries)
        {
            Array.Copy(_countries, 1, _countries, 0, _countries.Length - 1);
            _countries[^1] = login.Country;
        }
        else
        {
            var bigger = new ushort[_countries.Length + 1];
            Array.Copy(_countries, bigger, _countries.Length);
            bigger[^1] = login.Country;
            _countries = bigger;
        }
    }

    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Logins);
        StateIo.WriteList(writer, CountryNames());
        writer.Write(_recent.Length);
        foreach (var l in _recent)
        {
            writer.Write(l.TimeMs);
            StateIo.WriteNullable(writer, l.EventId);
            StateIo.WriteNullable(writer, l.Ip.ToString());
            writer.Write(CountryCodes.Unpack(l.Country));
            writer.Write(l.Latitude);
            writer.Write(l.Longitude);
            writer.Write(l.RadiusKm);
            writer.Write(l.Hosting);
        }
    }

    public static GeoLoginState Read(BinaryReader reader, int maxCountries)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var state = new GeoLoginState { Logins = reader.ReadInt32() };
        var countries = StateIo.ReadList(reader, maxCountries);
        state._countries = new ushort[countries.Count];
        for (var i = 0; i < countries.Count; i++)
        {
            state._countries[i] = CountryCodes.Pack(countries[i]);
        }
        var count = reader.ReadInt32();
        if (count < 0 || count > Kept)
        {
            throw new InvalidDataException($"A checkpointed login history claims {count} logins.");
        }
        state._recent = new PackedLogin[count];
        for (var i = 0; i < count; i++)
        {
            var time = reader.ReadInt64();
            var eventId = StateIo.ReadNullable(reader);
            var ip = CompactIp.From(StateIo.ReadNullable(reader));
            var country = CountryCodes.Pack(reader.ReadString());
            var latitude = reader.ReadSingle();
            var longitude = reader.ReadSingle();
            state._recent[i] = new PackedLogin(time, eventId, ip, latitude, longitude, reader.ReadInt32(), country, reader.ReadBoolean());
        }
        return state;
    }
}
