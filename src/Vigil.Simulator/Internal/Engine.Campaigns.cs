using System.Globalization;
using Vigil.Core.Events;

namespace Vigil.Simulator.Internal;

internal sealed partial class Engine
{
    private const long MinCampaignRoom = 30 * Second;

    private const long DeferHorizonMs = 2 * 3600 * Second;

    /// <summary>Behaviour-anomaly campaigns put off until an established account is up at night.</summary>
    private int _deferredBehaviour;

    /// <summary>The next kind of the shuffled cycle: every enabled kind occurs once before any occurs twice.</summary>
    private AttackKinds TakeNextKind()
    {
        if (_cyclePosition >= _cycle.Length)
        {
            _cycle = [.. _enabledKinds];
            for (var i = _cycle.Length - 1; i > 0; i--)
            {
                var j = _schedule.Next(i + 1);
                (_cycle[i], _cycle[j]) = (_cycle[j], _cycle[i]);
            }

            _cyclePosition = 0;
            if (_campaignCounter == 0 && _options.FirstAttackKind is { } first && Array.IndexOf(_cycle, first) is var at and > 0)
            {
                (_cycle[0], _cycle[at]) = (_cycle[at], _cycle[0]);
            }
        }

        return _cycle[_cyclePosition++];
    }

    private bool EstablishedNightVictimExists(long ts)
    {
        foreach (var u in _users)
        {
            if (IsNightVictim(u, ts) && u.Logins >= EstablishedLogins)
            {
                return true;
            }
        }

        return false;
    }

    private bool IsNightVictim(UserState u, long ts) =>
        u.Registered && !u.NightOwl && u.Away is null && u.Vpn is null && HourIndex(LocalHour(u, ts)) is >= 1 and < 5;

    private void StartCampaign(long ts)
    {
        var kind = TakeNextKind();
        // A behaviour-anomaly campaign needs an established account (a detector's learning minimum): while none is up
        // at night, it is put off and another kind takes the slot; the first wake that finds one runs it. Within the
        // last two hours of a finite run nothing waits any more, so short runs still hold every kind.
        var canWait = _endMs == long.MaxValue || _endMs - ts > DeferHorizonMs;
        if (_deferredBehaviour > 0 && kind != AttackKinds.BehaviorAnomaly && (!canWait || EstablishedNightVictimExists(ts)))
        {
            _cyclePosition--;
            _deferredBehaviour--;
            kind = AttackKinds.BehaviorAnomaly;
        }
        else if (kind == AttackKinds.BehaviorAnomaly && _enabledKinds.Length > 1 && canWait && !EstablishedNightVictimExists(ts))
        {
            while (kind == AttackKinds.BehaviorAnomaly)
            {
                _deferredBehaviour++;
                kind = TakeNextKind();
            }
        }

        var jitter = _schedule.Between(0.9, 1.1);
        Enqueue(new Pending { Ts = ts + Math.Max(Second, (long)(_attackIntervalMs * jitter)), Kind = PendingKind.CampaignWake });

        var deadline = _endMs == long.MaxValue ? long.MaxValue : _endMs - Second;
        if (_options.MaxCampaignSpan is { } span)
        {
            deadline = Math.Min(deadline, ts + (long)span.TotalMilliseconds);
        }

        if (deadline - ts < MinCampaignRoom)
        {
            return;
        }

        var index = _campaignCounter++;
        var rng = Prng.For(_options.Seed, StreamCampaign, index);
        var state = new CampaignState(string.Create(CultureInfo.InvariantCulture, $"c-{index + 1:D4}"), kind.ToWireName());
        var b = new CampaignBuilder(state, ts);
        switch (kind)
        {
            case AttackKinds.BruteForce:
                BruteForce(b, ref rng);
                break;
            case AttackKinds.BruteForceIp:
                BruteForceIp(b, ref rng);
                break;
            case AttackKinds.PasswordSpray:
                PasswordSpray(b, ref rng);
                break;
            case AttackKinds.CredentialStuffing:
                CredentialStuffing(b, ref rng);
                break;
            case AttackKinds.AccountTakeover:
                AccountTakeover(b, ref rng);
                break;
            case AttackKinds.ImpossibleTravel:
                ImpossibleTravel(b, ref rng);
                break;
            case AttackKinds.RapidActivity:
                RapidActivity(b, ref rng);
                break;
            case AttackKinds.BehaviorAnomaly:
                BehaviorAnomaly(b, ref rng, ts);
                break;
            default:
                throw new InvalidOperationException($"Unknown attack kind {kind}.");
        }

        foreach (var p in b.Finish(deadline))
        {
            Enqueue(p);
        }
    }

    // ---- the campaigns ----

    private void BruteForce(CampaignBuilder b, ref Prng rng)
    {
        var victim = PickVictim(ref rng, static u => u.Registered);
        var ua = rng.Pick(Catalog.AttackerAgents);
        long t = 0;
        if (rng.Chance(0.65))
        {
            // One attacker address guessing one account's password.
            var ip = AttackerIp(ref rng, victim.Home.CountryCode);
            var n = rng.Between(10, 40);
            for (var i = 0; i < n; i++)
            {
                b.Add(t, Event(0, EventType.LoginFailed, victim, null, ip, ua, Props("reason", "bad_password")));
                t += (long)(rng.Between(0.8, 3.2) * Second);
            }

            if (rng.Chance(0.3))
            {
                var sid = NextSessionId();
                b.Add(t, Event(0, EventType.LoginSuccess, victim, sid, ip, ua, Props("authMethod", "password")));
                b.Add(t + (5 * Second), Event(0, EventType.PageView, victim, sid, ip, ua, Props("path", "/account")));
            }
        }
        else
        {
            // Distributed: a botnet spreads the guesses for one account over many addresses.
            var ips = new string[rng.Between(5, 12)];
            for (var i = 0; i < ips.Length; i++)
            {
                ips[i] = rng.Chance(0.7) ? ResidentialIp(ref rng, ForeignCity(ref rng, victim.Home.CountryCode)) : AttackerIp(ref rng, null);
            }

            var n = rng.Between(Math.Max(15, ips.Length), 40);
            var span = rng.Between(60.0, 110.0) * Second;
            for (var i = 0; i < n; i++)
            {
                var ip = i < ips.Length ? ips[i] : ips[rng.Next(ips.Length)];
                b.Add((long)(span * i / n), Event(0, EventType.LoginFailed, victim, null, ip, rng.Pick(Catalog.AttackerAgents),
                    Props("reason", "bad_password")));
            }
        }
    }

    private void BruteForceIp(CampaignBuilder b, ref Prng rng)
    {
        // One address hammering the login form over a handful of guessed and real account names.
        var ip = AttackerIp(ref rng, null);
        var ua = rng.Pick(Catalog.AttackerAgents);
        var known = new List<UserState>();
        var knownCount = Math.Min(rng.Between(1, 2), _users.Length);
        while (known.Count < knownCount)
        {
            var v = PickVictim(ref rng, static u => u.Registered);
            if (!known.Contains(v))
            {
                known.Add(v);
            }
        }

        var unknown = new List<string>();
        var unknownCount = rng.Between(3, 8);
        while (unknown.Count < unknownCount)
        {
            var name = UnknownUsername(ref rng);
            if (!unknown.Contains(name))
            {
                unknown.Add(name);
            }
        }

        var n = rng.Between(20, 60);
        var span = rng.Between(60.0, 115.0) * Second;
        for (var i = 0; i < n; i++)
        {
            var at = (long)(span * i / n);
            var pickKnown = i < known.Count || (i >= known.Count + unknown.Count && rng.Chance(0.25));
            if (pickKnown)
            {
                b.Add(at, Event(0, EventType.LoginFailed, known[i < known.Count ? i : rng.Next(known.Count)], null, ip, ua,
                    Props("reason", "bad_password")));
            }
            else
            {
                var name = i < known.Count + unknown.Count ? unknown[i - known.Count] : unknown[rng.Next(unknown.Count)];
                b.Add(at, Event(0, EventType.LoginFailed, null, null, ip, ua, Props("reason", "unknown_user"), name));
            }
        }
    }

    private void PasswordSpray(CampaignBuilder b, ref Prng rng)
    {
        // One address, one or two common passwords, each tried once against many accounts.
        var ip = rng.Chance(0.7) ? AttackerIp(ref rng, null) : ResidentialIp(ref rng, _geo.Cities[rng.Next(_geo.Cities.Count)]);
        var ua = rng.Pick(Catalog.AttackerAgents);
        var targets = DistinctTargets(ref rng, rng.Between(15, 50), 0.8);
        var passes = rng.Chance(0.5) ? 1 : 2;
        var span = rng.Between(8.0, 25.0) * Minute;
        var total = targets.Count * passes;
        var k = 0;
        for (var pass = 0; pass < passes; pass++)
        {
            var order = Permutation(ref rng, targets.Count);
            foreach (var idx in order)
            {
                var at = (long)(span * (k + rng.Between(0.0, 0.6)) / total);
                k++;
                b.Add(at, FailedLogin(targets[idx], ip, ua));
            }
        }
    }

    private void CredentialStuffing(CampaignBuilder b, ref Prng rng)
    {
        // A leaked list replayed by a botnet: many accounts, many addresses, a few that still work.
        var ips = new string[rng.Between(5, 20)];
        for (var i = 0; i < ips.Length; i++)
        {
            ips[i] = rng.Chance(0.7) ? ResidentialIp(ref rng, _geo.Cities[rng.Next(_geo.Cities.Count)]) : AttackerIp(ref rng, null);
        }

        var successes = rng.Between(1, 3);
        var targets = DistinctTargets(ref rng, rng.Between(18, 40), 0.7, minKnown: 8 + successes);
        var span = rng.Between(3.0, 9.0) * Minute;
        var attempts = new List<(int Target, bool Success)>();
        var successLeft = successes;
        for (var i = 0; i < targets.Count; i++)
        {
            var success = targets[i].User is not null && successLeft > 0 && i % 5 == 2;
            if (success)
            {
                successLeft--;
            }

            attempts.Add((i, success));
            if (!success && rng.Chance(0.2))
            {
                attempts.Add((i, false));
            }
        }

        for (var k = 0; k < attempts.Count; k++)
        {
            var (target, success) = attempts[k];
            var ip = k < ips.Length ? ips[k] : ips[rng.Next(ips.Length)];
            var ua = rng.Chance(0.5) ? rng.Pick(Catalog.AttackerAgents) : rng.Pick(Catalog.DesktopAgents);
            var at = (long)(span * (k + rng.Between(0.0, 0.8)) / attempts.Count);
            if (success)
            {
                var victim = targets[target].User!;
                var sid = NextSessionId();
                b.Add(at, Event(0, EventType.LoginSuccess, victim, sid, ip, ua, Props("authMethod", "password")));
                b.Add(at + (long)(rng.Between(2.0, 8.0) * Second), Event(0, EventType.PageView, victim, sid, ip, ua, Props("path", "/account")));
                b.Add(at + (long)(rng.Between(9.0, 20.0) * Second), Event(0, EventType.PageView, victim, sid, ip, ua, Props("path", "/orders")));
            }
            else
            {
                b.Add(at, FailedLogin(targets[target], ip, ua));
            }
        }
    }

    private void AccountTakeover(CampaignBuilder b, ref Prng rng)
    {
        // A victim who has logged in before: an account with no history gives "a login from a new place" nothing to
        // compare with, and a real takeover of a dormant account is not what this campaign models.
        var start = b.Start;
        var victim = PickVictim(ref rng, u => u.Registered && u.Away is null && u.LastLoginMs != long.MinValue && u.LastLoginMs < start);
        var homeCc = victim.Vpn?.CountryCode ?? victim.Home.CountryCode;
        var city = ForeignCity(ref rng, homeCc);
        if (victim.Vpn is not null && city.CountryCode == victim.Home.CountryCode)
        {
            city = ForeignCity(ref rng, victim.Home.CountryCode);
        }

        var ip = rng.Chance(0.6) ? ResidentialIp(ref rng, city) : AttackerIp(ref rng, homeCc, victim.Home.CountryCode);
        var ua = rng.Chance(0.5) ? rng.Pick(Catalog.AttackerAgents) : Catalog.DesktopAgents[rng.Next(Catalog.DesktopAgents.Length)];
        long t = 0;
        var failures = rng.Between(2, 6);
        for (var i = 0; i < failures; i++)
        {
            b.Add(t, Event(0, EventType.LoginFailed, victim, null, ip, ua, Props("reason", "bad_password")));
            t += (long)(rng.Between(3.0, 20.0) * Second);
        }

        var sid = NextSessionId();
        b.Add(t, Event(0, EventType.LoginSuccess, victim, sid, ip, ua, Props("authMethod", "password")));
        var views = rng.Between(1, 5);
        for (var i = 0; i < views; i++)
        {
            t += (long)(rng.Between(10.0, 90.0) * Second);
            b.Add(t, Event(0, EventType.PageView, victim, sid, ip, ua, Props("path", i == 0 ? "/account" : "/account/security")));
        }

        // Locking the owner out: new e-mail, new password, MFA off — one or two of them.
        var first = rng.Next(100) switch { < 45 => 0, < 80 => 1, _ => 2 };
        var changes = rng.Chance(0.5) ? new[] { first } : [first, (first + 1 + rng.Next(2)) % 3];
        foreach (var c in changes)
        {
            t += (long)(rng.Between(20.0, 240.0) * Second);
            var (type, kind, props) = c switch
            {
                0 => (EventType.EmailChanged, "EMAIL_CHANGED", Props("newDomain", rng.Pick(Catalog.EmailDomains))),
                1 => (EventType.PasswordChanged, "PASSWORD_CHANGED", Props("via", "settings")),
                _ => (EventType.MfaChanged, "MFA_CHANGED", Props("mfa", "disabled")),
            };
            b.Add(t, Event(0, type, victim, sid, ip, ua, props));
            b.Add(t + (2 * Second), Notification(0, victim, type == EventType.MfaChanged ? NotificationChannel.Sms : NotificationChannel.Email, kind));
        }

        if (rng.Chance(0.4))
        {
            t += (long)(rng.Between(30.0, 300.0) * Second);
            b.Add(t, Event(0, EventType.Purchase, victim, sid, ip, ua,
                Props("amount", Amount(Math.Round(rng.Between(300.0, 2500.0), 2)), "currency", "USD", "orderId", NextOrderId())));
            b.Add(t + (3 * Second), Notification(0, victim, NotificationChannel.Email, "ORDER_CONFIRMATION"));
        }
    }

    private void ImpossibleTravel(CampaignBuilder b, ref Prng rng)
    {
        var victim = PickVictim(ref rng, static u => u.Registered && u.Away is null && u.Vpn is null);
        var homeIp = GeoSeed.FormatIPv4(victim.HomeIp);
        var ownUa = victim.Devices[0];
        var sid = NextSessionId();
        b.Add(0, Event(0, EventType.LoginSuccess, victim, sid, homeIp, ownUa, Props("authMethod", "password")));
        long t = 0;
        var views = rng.Between(1, 4);
        for (var i = 0; i < views; i++)
        {
            t += (long)(rng.Between(10.0, 60.0) * Second);
            b.Add(t, Event(0, EventType.PageView, victim, sid, homeIp, ownUa, Props("path", PagePath(ref rng))));
        }

        // The same credentials (or a stolen session) used from another continent minutes later.
        var far = FarCity(ref rng, victim.Home, 5000);
        var farIp = ResidentialIp(ref rng, far);
        var farUa = rng.Chance(0.5) ? ownUa : rng.Pick(Catalog.DesktopAgents);
        var farSid = rng.Chance(0.3) ? sid : NextSessionId();
        t = Math.Max(t + Second, (long)(rng.Between(5.0, 40.0) * Minute));
        b.Add(t, Event(0, EventType.LoginSuccess, victim, farSid, farIp, farUa, Props("authMethod", "password")));
        var farViews = rng.Between(2, 6);
        for (var i = 0; i < farViews; i++)
        {
            t += (long)(rng.Between(5.0, 45.0) * Second);
            b.Add(t, Event(0, i % 3 == 2 ? EventType.Search : EventType.PageView, victim, farSid, farIp, farUa,
                i % 3 == 2 ? Props("query", rng.Pick(Catalog.SearchQueries)) : Props("path", PagePath(ref rng))));
        }
    }

    private void RapidActivity(CampaignBuilder b, ref Prng rng)
    {
        // A scraper logged in as one account, walking the catalogue far faster than a person clicks.
        var victim = PickVictim(ref rng, static u => u.Registered);
        var ip = AttackerIp(ref rng, null);
        var ua = rng.Pick(Catalog.ScraperAgents);
        var sid = NextSessionId();
        b.Add(0, Event(0, EventType.LoginSuccess, victim, sid, ip, ua, Props("authMethod", "password")));
        var perMinute = rng.Between(150, 400);
        var total = perMinute * rng.Between(2, 5);
        var gap = (double)Minute / perMinute;
        var product = rng.Between(10000, 80000);
        var t = (double)Second;
        for (var i = 0; i < total; i++)
        {
            t += gap * rng.Between(0.7, 1.3);
            if (rng.Chance(0.75))
            {
                b.Add((long)t, Event(0, EventType.PageView, victim, sid, ip, ua,
                    Props("path", string.Create(CultureInfo.InvariantCulture, $"/product/{product++}"))));
            }
            else
            {
                b.Add((long)t, Event(0, EventType.Search, victim, sid, ip, ua,
                    Props("query", rng.Pick(Catalog.SearchQueries), "page", Int(rng.Between(1, 40)))));
            }
        }
    }

    /// <summary>Logins that make an account established for the behaviour-anomaly campaign (Entra ID's learning minimum).</summary>
    private const int EstablishedLogins = 10;

    private void BehaviorAnomaly(CampaignBuilder b, ref Prng rng, long ts)
    {
        // An account that is never up at night suddenly shopping at 3 a.m. from a device it never used. "Never up at
        // night" is something a detector can only know from history, so the account is an established one: at least
        // EstablishedLogins logins of its own (the learning minimum of behaviour rules); failing that, the night-time
        // account with the most history.
        UserState? victim = null;
        UserState? mostHistory = null;
        var offset = rng.Next(_users.Length);
        for (var i = 0; i < _users.Length && victim is null; i++)
        {
            var u = _users[(offset + i) % _users.Length];
            if (IsNightVictim(u, ts))
            {
                if (u.Logins >= EstablishedLogins)
                {
                    victim = u;
                }
                else if (mostHistory is null || u.Logins > mostHistory.Logins)
                {
                    mostHistory = u;
                }
            }
        }

        victim ??= mostHistory;
        victim ??= PickVictim(ref rng, static u => u.Registered && !u.NightOwl);
        string ua;
        do
        {
            ua = rng.Chance(0.5) ? rng.Pick(Catalog.DesktopAgents) : rng.Pick(Catalog.MobileAgents);
        }
        while (Array.IndexOf(victim.Devices, ua) >= 0);

        var ip = ResidentialIp(ref rng, victim.Home);
        var sid = NextSessionId();
        b.Add(0, Event(0, EventType.LoginSuccess, victim, sid, ip, ua, Props("authMethod", "password")));
        var span = rng.Between(30.0, 70.0) * Minute;
        var searches = rng.Between(40, 100);
        var views = rng.Between(20, 60);
        var purchases = rng.Between(4, 12);
        var total = searches + views + purchases + 1;
        var kinds = new int[total];
        for (var i = 0; i < total; i++)
        {
            kinds[i] = i < searches ? 0 : i < searches + views ? 1 : i < searches + views + purchases ? 2 : 3;
        }

        var order = Permutation(ref rng, total);
        for (var k = 0; k < total; k++)
        {
            var at = (long)(span * (k + 1 + rng.Between(0.0, 0.7)) / (total + 1));
            switch (kinds[order[k]])
            {
                case 0:
                    b.Add(at, Event(0, EventType.Search, victim, sid, ip, ua, Props("query", rng.Pick(Catalog.SearchQueries))));
                    break;
                case 1:
                    b.Add(at, Event(0, EventType.PageView, victim, sid, ip, ua, Props("path", PagePath(ref rng))));
                    break;
                case 2:
                    b.Add(at, Event(0, EventType.Purchase, victim, sid, ip, ua,
                        Props("amount", Amount(Math.Round(rng.Between(150.0, 2500.0), 2)), "currency", "USD", "orderId", NextOrderId())));
                    b.Add(at + (3 * Second), Notification(0, victim, NotificationChannel.Email, "ORDER_CONFIRMATION"));
                    break;
                default:
                    b.Add(at, Event(0, EventType.ProfileUpdated, victim, sid, ip, ua, Props("field", "address")));
                    break;
            }
        }

        b.Add((long)span + Second, Event(0, EventType.Logout, victim, sid, ip, ua, null));
    }

    // ---- campaign helpers ----

    private readonly record struct Target(UserState? User, string Username);

    private Pending FailedLogin(Target target, string ip, string ua) => target.User is { } u
        ? Event(0, EventType.LoginFailed, u, null, ip, ua, Props("reason", "bad_password"))
        : Event(0, EventType.LoginFailed, null, null, ip, ua, Props("reason", "unknown_user"), target.Username);

    /// <summary>Distinct accounts to attack: real ones (a share of them) and names nobody registered.</summary>
    private List<Target> DistinctTargets(ref Prng rng, int count, double knownShare, int minKnown = 0)
    {
        var knownCount = Math.Min(Math.Max((int)Math.Round(count * knownShare), minKnown), _users.Length);
        count = Math.Max(count, knownCount);
        var picked = new HashSet<int>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<Target>(count);
        for (var guard = 0; result.Count < knownCount && guard < 100 * count; guard++)
        {
            var u = _users[rng.Next(_users.Length)];
            if (u.Registered && picked.Add(u.Index))
            {
                result.Add(new Target(u, u.Username));
            }
        }

        while (result.Count < count)
        {
            var name = UnknownUsername(ref rng);
            if (names.Add(name))
            {
                result.Add(new Target(null, name));
            }
        }

        // Interleave real and unknown names as a list sorted by nothing in particular would.
        var order = Permutation(ref rng, result.Count);
        var shuffled = new List<Target>(result.Count);
        foreach (var i in order)
        {
            shuffled.Add(result[i]);
        }

        return shuffled;
    }

    private static string UnknownUsername(ref Prng rng) => rng.Next(3) switch
    {
        // Real user names always carry digits; these never do, so they never hit a real account.
        0 => rng.Pick(Catalog.UnknownAccounts),
        1 => rng.Pick(Catalog.FirstNames) + "_" + rng.Pick(Catalog.LastNames),
        _ => rng.Pick(Catalog.FirstNames) + rng.Pick(Catalog.LastNames),
    };

    private static int[] Permutation(ref Prng rng, int n)
    {
        var a = new int[n];
        for (var i = 0; i < n; i++)
        {
            a[i] = i;
        }

        for (var i = n - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }

        return a;
    }

    private UserState PickVictim(ref Prng rng, Func<UserState, bool> suitable)
    {
        for (var i = 0; i < 200; i++)
        {
            var u = _users[rng.Next(_users.Length)];
            if (suitable(u))
            {
                return u;
            }
        }

        foreach (var u in _users)
        {
            if (suitable(u))
            {
                return u;
            }
        }

        return _users[rng.Next(_users.Length)];
    }

    /// <summary>An address on a hosting or VPN network, outside the given countries when possible.</summary>
    private string AttackerIp(ref Prng rng, string? avoidCc, string? avoidCc2 = null)
    {
        for (var i = 0; i < 50; i++)
        {
            var h = rng.Pick(_geo.Hosting);
            if (h.CountryCode != avoidCc && h.CountryCode != avoidCc2)
            {
                return Ip(h.Prefix, ref rng);
            }
        }

        return Ip(rng.Pick(_geo.Hosting).Prefix, ref rng);
    }

    private static string ResidentialIp(ref Prng rng, City city) => Ip(city.Prefixes[rng.Next(city.Prefixes.Length)], ref rng);

    private City ForeignCity(ref Prng rng, string countryCode)
    {
        for (var i = 0; i < 100; i++)
        {
            var c = _geo.Cities[rng.Next(_geo.Cities.Count)];
            if (c.CountryCode != countryCode)
            {
                return c;
            }
        }

        return _geo.Cities[0];
    }

    private City FarCity(ref Prng rng, City from, double minKm)
    {
        for (var i = 0; i < 200; i++)
        {
            var c = _geo.Cities[rng.Next(_geo.Cities.Count)];
            if (GeoSeed.DistanceKm(from, c) >= minKm)
            {
                return c;
            }
        }

        // Every city in the seed has another at least this far away; fall back to the farthest.
        var best = _geo.Cities[0];
        foreach (var c in _geo.Cities)
        {
            if (GeoSeed.DistanceKm(from, c) > GeoSeed.DistanceKm(from, best))
            {
                best = c;
            }
        }

        return best;
    }

    /// <summary>Collects a campaign's events at offsets from its start and compresses them to fit the room it has.</summary>
    private sealed class CampaignBuilder(CampaignState state, long start)
    {
        /// <summary>When the campaign begins (simulation time, ms).</summary>
        public long Start => start;

        private readonly List<(long Offset, Pending Item)> _items = [];

        public void Add(long offset, Pending p)
        {
            p.Campaign = state;
            if (p.Kind == PendingKind.Event)
            {
                if (p.UserId is { } id)
                {
                    state.AddUser(id);
                }

                if (p.Ip is { } ip)
                {
                    state.AddIp(ip);
                }
            }

            _items.Add((Math.Max(0, offset), p));
        }

        public IEnumerable<Pending> Finish(long deadline)
        {
            // A campaign starts exactly at its wake-up, whatever jitter its first event got.
            long min = long.MaxValue;
            foreach (var (offset, _) in _items)
            {
                min = Math.Min(min, offset);
            }

            long max = 0;
            for (var i = 0; i < _items.Count; i++)
            {
                var shifted = _items[i].Offset - min;
                _items[i] = (shifted, _items[i].Item);
                max = Math.Max(max, shifted);
            }

            // Squeezing a campaign only tightens it: every rule threshold it meets stays met.
            var scale = max > 0 && start + max > deadline ? (double)(deadline - start) / max : 1.0;
            var events = 0;
            foreach (var (offset, p) in _items)
            {
                p.Ts = start + (long)(offset * scale);
                if (p.Kind == PendingKind.Event)
                {
                    events++;
                }
            }

            state.Remaining = events;
            foreach (var (_, p) in _items)
            {
                yield return p;
            }
        }
    }
}
