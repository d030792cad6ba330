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
        if (!geo.TryLookup(evt.IpAddress, out var location))
        {
            return;
        }
        var login = new GeoLogin(evt.TimestampMs, evt.EventId, evt.IpAddress!, location.CountryCode, location.City,
            location.Latitude, location.Longitude, location.AccuracyRadiusKm, location.IsHosting);
        var packed = PackedLogin.From(login);
        var place = LoginPlace.Of(location);
        if (options.ImpossibleTravelEnabled)
        {
            var (before, after) = state.Neighbours(login.TimeMs);
            if (before is { } b && TryPlace(b, packed, place, out var beforePlace))
            {
                CheckTravel(key, b, beforePlace, packed, place, login, true, evt, output);
            }
            if (after is { } a && TryPlace(a, packed, place, out var afterPlace))
            {
                CheckTravel(key, packed, place, a, afterPlace, login, false, evt, output);
            }
        }
        var country = CountryCodes.Pack(location.CountryCode);
        if (options.NewCountryEnabled && state.Logins >= options.NewCountryAfterLogins && !state.KnowsCountry(country))
        {
            EmitNewCountry(key, in state, login, evt, output);
        }
        // Ids of logins no on-time login can be an impossible jump from are not needed for evidence any more.
        var watermark = Context.Watermark;
        var idsNeededAfter = watermark == long.MinValue ? long.MinValue : watermark - Context.AllowedLatenessMs - _travelHorizonMs;
        state.Add(packed, country, options.MaxCountries, idsNeededAfter);
    }

    /// <summary>Where a kept login was: its address looked up again (the state keeps no coordinates; the locator answers
    /// the same for the same address, and casts them to float as the state used to keep them), or the place of
    /// <paramref name="current"/> when it is the same address. False when the address is no longer found, which only a
    /// replaced database does.</summary>
    private bool TryPlace(in PackedLogin login, in PackedLogin current, in LoginPlace currentPlace, out LoginPlace place)
    {
        if (login.Ip == current.Ip)
        {
            // The address of the login being processed, just looked up: the locator would answer the same.
            place = currentPlace;
            return true;
        }
        Span<char> scratch = stackalloc char[16];
        if (geo.TryLookup(login.Ip.AsSpan(scratch), out var location))
        {
            place = LoginPlace.Of(location);
            return true;
        }
        place = default;
        return false;
    }

    /// <param name="user">The user.</param>
    /// <param name="from">The earlier login.</param>
    /// <param name="fromPlace">Where it was.</param>
    /// <param name="to">The later login.</param>
    /// <param name="toPlace">Where it was.</param>
    /// <param name="trigger">The login being processed, with its strings.</param>
    /// <param name="triggerIsTo">Whether <paramref name="trigger"/> is <paramref name="to"/> (else <paramref name="from"/>).</param>
    /// <param name="evt">The event.</param>
    /// <param name="output">Where alerts go.</param>
    private void CheckTravel(string user, in PackedLogin from, in LoginPlace fromPlace, in PackedLogin to, in LoginPlace toPlace,
        in GeoLogin trigger, bool triggerIsTo, UserEvent evt, IOutput<Alert> output)
    {
        var km = GeoMath.DistanceKm(fromPlace.Latitude, fromPlace.Longitude, toPlace.Latitude, toPlace.Longitude);
        if (km < options.MinDistanceKm || km <= fromPlace.RadiusKm + toPlace.RadiusKm)
        {
            return;
        }
        var elapsedMs = to.TimeMs - from.TimeMs;
        var speed = GeoMath.SpeedKmPerHour(km, elapsedMs);
        if (speed <= options.MaxSpeedKmh)
        {
            return;
        }
        // The other end's strings: its IP from the compact form, its city and country from the locator again.
        var other = triggerIsTo ? from : to;
        var otherIp = other.Ip.ToString() ?? "";
        var fromIp = triggerIsTo ? otherIp : trigger.Ip;
        var toIp = triggerIsTo ? trigger.Ip : otherIp;
        var fromCity = fromPlace.City;
        var toCity = toPlace.City;
        var fromCountry = fromPlace.Country;
        var toCountry = toPlace.Country;
        var hosting = fromPlace.Hosting || toPlace.Hosting;
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
                [Evidence.EventIds] = new List<string> { from.EventId.ToString() ?? "", to.EventId.ToString() ?? "" },
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
                ["accuracyRadiusKm"] = fromPlace.RadiusKm + toPlace.RadiusKm,
                ["hostingNetwork"] = hosting,
            },
        });
    }

    private void EmitNewCountry(string user, in GeoLoginState state, GeoLogin login, UserEvent evt, IOutput<Alert> output)
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

/// <summary>A login as <see cref="GeoLoginState"/> keeps it: its time, the IP in compact form, and the event id (as a
/// <see cref="CompactId"/>, no string for the usual forms) only while an impossible-travel alert could still cite it.
/// Where it was is looked up again from the IP when a later login is compared with it.</summary>
public readonly record struct PackedLogin(long TimeMs, CompactId EventId, CompactIp Ip)
{
    public static PackedLogin From(in GeoLogin login) => new(login.TimeMs, CompactId.From(login.EventId), CompactIp.From(login.Ip));
}

/// <summary>Where a login was placed, as the rule compares it (coordinates as floats, as the state kept them when it
/// kept them; strings straight from the locator).</summary>
internal readonly record struct LoginPlace(float Latitude, float Longitude, int RadiusKm, string Country, string? City, bool Hosting)
{
    public static LoginPlace Of(in GeoLocation location) => new((float)location.Latitude, (float)location.Longitude,
        location.AccuracyRadiusKm, location.CountryCode, location.City, location.IsHosting);
}

/// <summary>Per-user state of <see cref="GeoLoginOperator"/>: the last few located logins as numbers and the
/// countries seen as packed codes.</summary>
/// <remarks>A struct inline in the operator's keyed-state page: a user with one kept login and one country holds them in
/// the struct; more logins or countries go to exact-size arrays in a side object. A kept login is its time, event id
/// and IP (48 bytes); the checkpoint form is the same since format 4.</remarks>
public struct GeoLoginState
{
    private const int Kept = 4;

    private PackedLogin _login;
    private GeoLoginHistory? _more;
    private int _logins;
    private ushort _country;
    private bool _hasLogin;
    private bool _hasCountry;

    /// <summary>Located logins seen.</summary>
    public readonly int Logins => _logins;

    /// <summary>Countries remembered.</summary>
    public readonly int CountryCount => _more?.Countries is { } codes ? codes.Length : _hasCountry ? 1 : 0;

    /// <summary>Logins kept (at most four).</summary>
    public readonly int RecentCount => _more?.Recent is { } recent ? recent.Length : _hasLogin ? 1 : 0;

    /// <summary>Whether the country with this <see cref="CountryCodes.Pack"/> code was logged in from.</summary>
    public readonly bool KnowsCountry(ushort code) =>
        _more?.Countries is { } codes ? Array.IndexOf(codes, code) >= 0 : _hasCountry && _country == code;

    /// <summary>Countries logged in from, least recent first.</summary>
    public readonly List<string> CountryNames()
    {
        var names = new List<string>(CountryCount);
        if (_more?.Countries is { } codes)
        {
            foreach (var code in codes)
            {
                names.Add(CountryCodes.Unpack(code));
            }
        }
        else if (_hasCountry)
        {
            names.Add(CountryCodes.Unpack(_country));
        }
        return names;
    }

    /// <summary>The <paramref name="index"/>-th kept login, oldest first.</summary>
    public readonly PackedLogin Recent(int index) => _more?.Recent is { } recent ? recent[index] : _login;

    /// <summary>The latest login at or before <paramref name="timeMs"/> and the earliest after it.</summary>
    public readonly (PackedLogin? Before, PackedLogin? After) Neighbours(long timeMs)
    {
        PackedLogin? before = null;
        PackedLogin? after = null;
        var count = RecentCount;
        for (var i = 0; i < count; i++)
        {
            var login = Recent(i);
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

    /// <summary>Adds a login from the country <paramref name="country"/> (<see cref="CountryCodes.Pack"/>); event ids of
    /// logins at or before <paramref name="idsNeededAfter"/> are dropped.</summary>
    public void Add(in PackedLogin login, ushort country, int maxCountries, long idsNeededAfter = long.MinValue)
    {
        var count = RecentCount;
        var merged = new LoginBuffer();
        var pos = count;
        while (pos > 0 && Recent(pos - 1).TimeMs > login.TimeMs)
        {
            pos--;
        }
        // Insert at pos; beyond Kept the oldest falls out.
        for (var i = 0; i < pos; i++)
        {
            merged[i] = Recent(i);
        }
        merged[pos] = login;
        for (var i = pos; i < count; i++)
        {
            merged[i + 1] = Recent(i);
        }
        var total = count + 1;
        var first = total <= Kept ? 0 : 1;
        var kept = total - first;
        for (var i = first; i < total; i++)
        {
            if (!merged[i].EventId.IsNone && merged[i].TimeMs <= idsNeededAfter)
            {
                merged[i] = merged[i] with { EventId = default };
            }
        }
        if (kept == 1)
        {
            _login = merged[first];
            _hasLogin = true;
        }
        else
        {
            var recent = _more?.Recent is { } existing && existing.Length == kept ? existing : new PackedLogin[kept];
            for (var i = 0; i < kept; i++)
            {
                recent[i] = merged[first + i];
            }
            More.Recent = recent;
            _login = default;
            _hasLogin = false;
        }
        _logins++;
        RememberCountry(country, maxCountries);
    }

    private void RememberCountry(ushort code, int max)
    {
        if (_more?.Countries is { } codes)
        {
            var at = Array.IndexOf(codes, code);
            if (at >= 0)
            {
                Array.Copy(codes, at + 1, codes, at, codes.Length - at - 1);
                codes[^1] = code;
            }
            else if (codes.Length >= max)
            {
                Array.Copy(codes, 1, codes, 0, codes.Length - 1);
                codes[^1] = code;
            }
            else
            {
                var bigger = new ushort[codes.Length + 1];
                Array.Copy(codes, bigger, codes.Length);
                bigger[^1] = code;
                _more.Countries = bigger;
            }
        }
        else if (!_hasCountry || _country == code || max <= 1)
        {
            _country = code;
            _hasCountry = true;
        }
        else
        {
            More.Countries = [_country, code];
            _country = 0;
            _hasCountry = false;
        }
    }

    private GeoLoginHistory More => _more ??= new GeoLoginHistory();

    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_logins);
        StateIo.WriteList(writer, CountryNames());
        var count = RecentCount;
        writer.Write(count);
        for (var i = 0; i < count; i++)
        {
            var l = Recent(i);
            writer.Write(l.TimeMs);
            StateIo.WriteNullable(writer, l.EventId.ToString());
            StateIo.WriteNullable(writer, l.Ip.ToString());
        }
    }

    public static GeoLoginState Read(BinaryReader reader, int maxCountries)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var state = new GeoLoginState { _logins = reader.ReadInt32() };
        var countries = StateIo.ReadList(reader, maxCountries);
        if (countries.Count == 1)
        {
            state._country = CountryCodes.Pack(countries[0]);
            state._hasCountry = true;
        }
        else if (countries.Count > 1)
        {
            var codes = new ushort[countries.Count];
            for (var i = 0; i < countries.Count; i++)
            {
                codes[i] = CountryCodes.Pack(countries[i]);
            }
            state.More.Countries = codes;
        }
        var count = reader.ReadInt32();
        if (count < 0 || count > Kept)
        {
            throw new InvalidDataException($"A checkpointed login history claims {count} logins.");
        }
        var recent = new PackedLogin[count];
        for (var i = 0; i < count; i++)
        {
            var time = reader.ReadInt64();
            var eventId = CompactId.From(StateIo.ReadNullable(reader));
            recent[i] = new PackedLogin(time, eventId, CompactIp.From(StateIo.ReadNullable(reader)));
        }
        if (count == 1)
        {
            state._login = recent[0];
            state._hasLogin = true;
        }
        else if (count > 1)
        {
            state.More.Recent = recent;
        }
        return state;
    }

    /// <summary>Room for the kept logins and the one being added.</summary>
    [System.Runtime.CompilerServices.InlineArray(Kept + 1)]
    private struct LoginBuffer
    {
        private PackedLogin _element;
    }

    /// <summary>What a user with more than one kept login or country holds besides the inline fields (oldest and least
    /// recent first, exact-size arrays).</summary>
    private sealed class GeoLoginHistory
    {
        public PackedLogin[]? Recent;
        public ushort[]? Countries;
    }
}
