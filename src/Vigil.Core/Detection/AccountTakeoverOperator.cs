using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Geo;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="AccountTakeoverOperator"/>.</summary>
public sealed record AccountTakeoverOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>Failed logins needed before the suspicious success.</summary>
    public int MinFailures { get; init; } = 2;

    /// <summary>
    /// Failed logins needed when the account has no login history to compare with (every IP is new to it), unless
    /// the login comes from a hosting or VPN network or an automation client, which stand in for the missing
    /// evidence of novelty.
    /// </summary>
    public int MinFailuresWithoutHistory { get; init; } = 3;

    /// <summary>
    /// When true (the default) and a geo locator is present, an account with history must log in from a country it
    /// never used; a new IP in a known country is the owner's phone changing cell, not a takeover. Off, a new IP is
    /// enough, as it is when there is no locator.
    /// </summary>
    public bool RequireNewCountry { get; init; } = true;

    /// <summary>How long before the success the failures may lie.</summary>
    public TimeSpan FailuresWithin { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long after the success a password, e-mail or MFA change completes the pattern.</summary>
    public TimeSpan ChangeWithin { get; init; } = TimeSpan.FromHours(1);

    /// <summary>IPs and countries remembered per user (most recent first out).</summary>
    public int MaxKnown { get; init; } = 16;

    /// <summary>How long a user's login history is kept after their last event.</summary>
    public TimeSpan HistoryTtl { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>
/// ACCOUNT_TAKEOVER, per user, a three-step sequence: at least <see cref="AccountTakeoverOptions.MinFailures"/>
/// failed logins, then a LOGIN_SUCCESS from an IP the account never logged in from (or a country it never logged in
/// from, with a geo locator: see <see cref="AccountTakeoverOptions.RequireNewCountry"/>), then PASSWORD_CHANGED, EMAIL_CHANGED or MFA_CHANGED from that session or IP within
/// <see cref="AccountTakeoverOptions.ChangeWithin"/> → CRITICAL: the owner is being locked out.
/// </summary>
/// <remarks>
/// An account with no login history has every IP new, so novelty proves nothing there: such an account needs
/// <see cref="AccountTakeoverOptions.MinFailuresWithoutHistory"/> failures, or a login from a hosting network or an
/// automation client. A password reset between the failures and the login withdraws the failures. The change must come from the suspicious
/// session or IP, so the owner changing settings from home later does not complete someone else's sequence.
/// </remarks>
public sealed class AccountTakeoverOperator(AccountTakeoverOptions options, IGeoLocator? geo, TimeProvider alertClock)
    : KeyedProcessOperator<UserEvent, AccountTakeoverState, Alert>(RuleNames.AccountTakeover, options.HistoryTtl,
        new DelegateStateSerializer<AccountTakeoverState>((w, s) => s.Write(w), r => AccountTakeoverState.Read(r, options.MaxKnown)))
{
    private const int MaxFailures = AccountTakeoverState.MaxFailures;

    protected override string? KeyOf(in UserEvent evt) => evt.Type switch
    {
        EventType.LoginFailed or EventType.LoginSuccess or EventType.PasswordChanged or EventType.EmailChanged
            or EventType.MfaChanged or EventType.PasswordResetRequested => evt.UserId,
        _ => null,
    };

    protected override void Process(string key, ref AccountTakeoverState state, bool created, in UserEvent evt, long timestampMs,
        IOutput<Alert> output)
    {
        switch (evt.Type)
        {
            case EventType.LoginFailed:
                // One entry to start: most users who fail, fail once; the ring doubles as failures come.
                state.AddFailure(new RingEntry(evt.TimestampMs, evt.EventId, null, evt.IpAddress), MaxFailures,
                    (long)options.FailuresWithin.TotalMilliseconds);
                break;
            case EventType.LoginSuccess:
                OnSuccess(ref state, evt);
                break;
            case EventType.PasswordResetRequested:
                // Recovering through the reset link proves control of the mailbox: the failures before it were the owner's.
                state.ClearFailures();
                break;
            default:
                OnChange(key, ref state, evt, output);
                break;
        }
    }

    private void OnSuccess(ref AccountTakeoverState state, UserEvent evt)
    {
        string? country = null;
        var hosting = false;
        if (geo is not null && evt.IpAddress is { } address && geo.TryLookup(address, out var location))
        {
            country = location.CountryCode;
            hosting = location.IsHosting;
        }
        var ipHash = evt.IpAddress is { } ip ? StateIo.StableHash(ip) : 0;
        var countryCode = country is not null ? CountryCodes.Pack(country) : (ushort)0;
        var history = state.KnownIpCount > 0;
        var newIp = evt.IpAddress is not null && !state.KnowsIp(ipHash);
        var newCountry = country is not null && state.KnownCountryCount > 0 && !state.KnowsCountry(countryCode);
        var automation = UserAgents.IsAutomation(evt.UserAgent);
        // Counted first and listed only for a takeover: a list per successful login was most of this rule's garbage.
        var failures = 0;
        var firstFailure = 0;
        var ring = state.Failures;
        if (state.HasFailures)
        {
            firstFailure = ring.FirstAfter(evt.TimestampMs - (long)options.FailuresWithin.TotalMilliseconds);
            for (var i = firstFailure; i < ring.Count && ring[i].TimeMs <= evt.TimestampMs; i++)
            {
                failures++;
            }
        }
        var novel = !history
            ? failures >= options.MinFailuresWithoutHistory || hosting || automation
            : geo is not null && options.RequireNewCountry && state.KnownCountryCount > 0 ? newCountry : newIp;
        if (failures >= options.MinFailures && novel)
        {
            var failureIds = new List<string>(failures);
            for (var i = firstFailure; i < firstFailure + failures; i++)
            {
                failureIds.Add(ring[i].EventId);
            }
            state.Pending = new PendingTakeover(evt.TimestampMs, evt.EventId, evt.IpAddress, evt.SessionId, country, newIp,
                newCountry, state.KnownIpCount, failureIds, hosting, automation ? evt.UserAgent : null);
            // The failures led to this success; they must not be counted again for a later one.
            state.ClearFailures();
        }
        if (evt.IpAddress is not null)
        {
            state.RememberIp(ipHash, options.MaxKnown);
        }
        if (country is not null)
        {
            state.RememberCountry(countryCode, options.MaxKnown);
        }
    }

    private void OnChange(string user, ref AccountTakeoverState state, UserEvent evt, IOutput<Alert> output)
    {
        if (state.Pending is not { } pending || evt.TimestampMs < pending.TimeMs
            || evt.TimestampMs - pending.TimeMs > (long)options.ChangeWithin.TotalMilliseconds)
        {
            return;
        }
        var sameSession = pending.SessionId is not null && string.Equals(pending.SessionId, evt.SessionId, StringComparison.Ordinal);
        var sameIp = pending.Ip is not null && string.Equals(pending.Ip, evt.IpAddress, StringComparison.Ordinal);
        if (!sameSession && !sameIp)
        {
            return;
        }
        state.Pending = null;
        var change = evt.Type.ToWireName();
        var ids = new List<string>(pending.FailureIds) { pending.SuccessEventId, evt.EventId };
        var why = pending.NewCountry ? $"a country it never used ({pending.Country}, {pending.Ip})"
            : pending.KnownIps > 0 ? $"a new IP ({pending.Ip})"
            : pending.Hosting ? $"a hosting or VPN network ({pending.Ip}), on an account with no earlier login"
            : pending.AutomationAgent is not null ? $"an automation client ({pending.AutomationAgent}), on an account with no earlier login"
            : $"{pending.Ip}, on an account with no earlier login";
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(RuleNames.AccountTakeover, user, evt.EventId),
            Rule = RuleNames.AccountTakeover,
            Severity = Severity.Critical,
            UserId = user,
            IpAddress = pending.Ip ?? evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = alertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(pending.TimeMs),
            WindowEnd = evt.Timestamp,
            Score = pending.NewCountry ? 0.97 : 0.9,
            Summary = $"{pending.FailureIds.Count} failed logins, a login from {why}, then {change} {Evidence.Text((evt.TimestampMs - pending.TimeMs) / 60_000.0, 1)} min later from the same {(sameSession ? "session" : "IP")}: lock the account, revert the change and end its sessions",
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = ids,
                [Evidence.Entity] = Evidence.User(user),
                ["failures"] = pending.FailureIds.Count,
                ["successEventId"] = pending.SuccessEventId,
                ["successIp"] = pending.Ip,
                ["country"] = pending.Country,
                ["newIp"] = pending.NewIp,
                ["newCountry"] = pending.NewCountry,
                ["knownIpsBefore"] = pending.KnownIps,
                ["hostingNetwork"] = pending.Hosting,
                ["automationAgent"] = pending.AutomationAgent,
                ["change"] = change,
                ["changeEventId"] = evt.EventId,
                ["minutesFromLoginToChange"] = Evidence.Round((evt.TimestampMs - pending.TimeMs) / 60_000.0),
            },
        });
    }
}

/// <summary>A success that started the takeover sequence and waits for a sensitive change.</summary>
public sealed record PendingTakeover(long TimeMs, string SuccessEventId, string? Ip, string? SessionId, string? Country,
    bool NewIp, bool NewCountry, int KnownIps, List<string> FailureIds, bool Hosting, string? AutomationAgent);

/// <summary>Per-user state of <see cref="AccountTakeoverOperator"/>: the IPs the user logged in from as 64-bit
/// hashes and the countries as packed codes (the rule only asks whether one is new, and how many), the recent
/// failures and a pending takeover.</summary>
/// <remarks>A struct inline in the operator's keyed-state page: the latest IP and country sit in it (most users have one
/// of each), and everything else (older IPs and countries, failures, a pending takeover) in one side object that only
/// the users who need it get, so an idle user with one IP costs 24 bytes and no object.</remarks>
public struct AccountTakeoverState
{
    /// <summary>The most failed logins kept.</summary>
    public const int MaxFailures = 32;

    private ulong _ip;
    private AccountTakeoverHistory? _more;
    private ushort _country;
    private bool _hasIp;
    private bool _hasCountry;

    /// <summary>IPs remembered.</summary>
    public readonly int KnownIpCount => _more?.Ips is { } ips ? ips.Length : _hasIp ? 1 : 0;

    /// <summary>Countries remembered.</summary>
    public readonly int KnownCountryCount => _more?.Countries is { } codes ? codes.Length : _hasCountry ? 1 : 0;

    /// <summary>Whether the IP with this <see cref="StateIo.StableHash"/> is remembered.</summary>
    public readonly bool KnowsIp(ulong hash) =>
        _more?.Ips is { } ips ? Array.IndexOf(ips, hash) >= 0 : _hasIp && _ip == hash;

    /// <summary>Whether the country with this <see cref="CountryCodes.Pack"/> code is remembered.</summary>
    public readonly bool KnowsCountry(ushort code) =>
        _more?.Countries is { } codes ? Array.IndexOf(codes, code) >= 0 : _hasCountry && _country == code;

    /// <summary>Remembers an IP as the most recent, forgetting the least recent beyond <paramref name="max"/>.</summary>
    public void RememberIp(ulong hash, int max)
    {
        if (_more?.Ips is { } ips)
        {
            _more.Ips = Remember(ips, hash, max);
        }
        else if (!_hasIp || _ip == hash || max <= 1)
        {
            _ip = hash;
            _hasIp = true;
        }
        else
        {
            // A second IP: both move to the side object, least recent first.
            More.Ips = [_ip, hash];
            _ip = 0;
            _hasIp = false;
        }
    }

    /// <summary>Remembers a country as the most recent, forgetting the least recent beyond <paramref name="max"/>.</summary>
    public void RememberCountry(ushort code, int max)
    {
        if (_more?.Countries is { } codes)
        {
            _more.Countries = Remember(codes, code, max);
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

    /// <summary>Whether failed logins are on record (until a success uses them or a reset clears them).</summary>
    public readonly bool HasFailures => _more is { } more && more.HasFailures;

    /// <summary>Recent failed logins, oldest first (an empty ring when none): a copy sharing the entries, to read.</summary>
    public readonly InlineEventRing Failures => _more?.Failures ?? InlineEventRing.Empty;

    /// <summary>Records a failed login, dropping those more than <paramref name="withinMs"/> before the latest one and
    /// the oldest past <paramref name="capacity"/>.</summary>
    public void AddFailure(in RingEntry failure, int capacity, long withinMs)
    {
        ref var ring = ref More.Failures;
        ring.Add(failure, capacity);
        ring.DropThrough(ring.LatestMs - withinMs);
    }

    /// <summary>Forgets the failed logins on record.</summary>
    public void ClearFailures()
    {
        if (_more is null)
        {
            return;
        }
        _more.Failures = InlineEventRing.Empty;
        Trim();
    }

    /// <summary>A success that started the sequence and waits for a sensitive change; null when none.</summary>
    public PendingTakeover? Pending
    {
        readonly get => _more?.Pending;
        set
        {
            if (value is null && _more is null)
            {
                return;
            }
            More.Pending = value;
            Trim();
        }
    }

    private AccountTakeoverHistory More => _more ??= new AccountTakeoverHistory();

    // The side object goes as soon as it holds nothing, so a user whose failures led nowhere is back to 24 bytes.
    private void Trim()
    {
        if (_more is { Ips: null, Countries: null, HasFailures: false, Pending: null })
        {
            _more = null;
        }
    }

    private static T[] Remember<T>(T[] known, T value, int max)
        where T : unmanaged, IEquatable<T>
    {
        var at = Array.IndexOf(known, value);
        if (at >= 0)
        {
            Array.Copy(known, at + 1, known, at, known.Length - at - 1);
            known[^1] = value;
            return known;
        }
        if (known.Length >= max)
        {
            Array.Copy(known, 1, known, 0, known.Length - 1);
            known[^1] = value;
            return known;
        }
        var bigger = new T[known.Length + 1];
        Array.Copy(known, bigger, known.Length);
        bigger[^1] = value;
        return bigger;
    }

    public readonly void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (_more?.Ips is { } ips)
        {
            writer.Write(ips.Length);
            foreach (var hash in ips)
            {
                writer.Write(hash);
            }
        }
        else
        {
            writer.Write(_hasIp ? 1 : 0);
            if (_hasIp)
            {
                writer.Write(_ip);
            }
        }
        if (_more?.Countries is { } codes)
        {
            writer.Write(codes.Length);
            foreach (var code in codes)
            {
                writer.Write(CountryCodes.Unpack(code));
            }
        }
        else
        {
            writer.Write(_hasCountry ? 1 : 0);
            if (_hasCountry)
            {
                writer.Write(CountryCodes.Unpack(_country));
            }
        }
        writer.Write(HasFailures);
        if (HasFailures)
        {
            _more!.Failures.Write(writer);
        }
        var pending = Pending;
        writer.Write(pending is not null);
        if (pending is { } p)
        {
            writer.Write(p.TimeMs);
            writer.Write(p.SuccessEventId);
            StateIo.WriteNullable(writer, p.Ip);
            StateIo.WriteNullable(writer, p.SessionId);
            StateIo.WriteNullable(writer, p.Country);
            writer.Write(p.NewIp);
            writer.Write(p.NewCountry);
            writer.Write(p.KnownIps);
            StateIo.WriteList(writer, p.FailureIds);
            writer.Write(p.Hosting);
            StateIo.WriteNullable(writer, p.AutomationAgent);
        }
    }

    public static AccountTakeoverState Read(BinaryReader reader, int maxKnown)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var ips = reader.ReadInt32();
        if (ips < 0 || ips > maxKnown)
        {
            throw new InvalidDataException($"A checkpointed takeover state claims {ips} IPs; at most {maxKnown} fit.");
        }
        var state = default(AccountTakeoverState);
        if (ips == 1)
        {
            state._ip = reader.ReadUInt64();
            state._hasIp = true;
        }
        else if (ips > 1)
        {
            var hashes = new ulong[ips];
            for (var i = 0; i < ips; i++)
            {
                hashes[i] = reader.ReadUInt64();
            }
            state.More.Ips = hashes;
        }
        var countries = StateIo.ReadList(reader, maxKnown);
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
        if (reader.ReadBoolean())
        {
            state.More.Failures = InlineEventRing.Read(reader, MaxFailures);
        }
        if (reader.ReadBoolean())
        {
            state.Pending = new PendingTakeover(reader.ReadInt64(), reader.ReadString(), StateIo.ReadNullable(reader),
                StateIo.ReadNullable(reader), StateIo.ReadNullable(reader), reader.ReadBoolean(), reader.ReadBoolean(),
                reader.ReadInt32(), StateIo.ReadList(reader, 1024), reader.ReadBoolean(), StateIo.ReadNullable(reader));
        }
        return state;
    }

    /// <summary>What a user with more than one IP or country, recent failures or a pending takeover keeps besides the
    /// inline fields (IPs and countries least recent first, in exact-size arrays).</summary>
    private sealed class AccountTakeoverHistory
    {
        public ulong[]? Ips;
        public ushort[]? Countries;
        // Inline rather than a ring object: 48 bytes more here, 48 fewer in the ring and, with one failure, no array
        // (56 fewer). Present once a failure was
        // added (its latest time set), whatever was dropped since, as the ring object was.
        public InlineEventRing Failures = InlineEventRing.Empty;

        public bool HasFailures => Failures.LatestMs != long.MinValue;
        public PendingTakeover? Pending;
    }
}
