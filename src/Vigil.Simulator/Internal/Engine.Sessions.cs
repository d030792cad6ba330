using System.Globalization;
using Vigil.Core.Events;

namespace Vigil.Simulator.Internal;

internal sealed partial class Engine
{
    private const double TripChancePerSession = 0.012;

    // Airliner cruise plus climb and descent; the airport time comes on top, so implied speeds stay well under 900 km/h.
    private const double MinFlightKmh = 700;
    private const double MaxFlightKmh = 850;

    /// <summary>Generates one legitimate session of <paramref name="u"/> starting at (or, after a flight, later than) <paramref name="wake"/>.</summary>
    private void RunSession(UserState u, long wake)
    {
        ref var rng = ref u.Rng;
        var t = wake;
        var pace = Math.Max(1.0, RateScaleAt(wake));

        // Trips (as often per day whatever the pace): the first session abroad cannot come before a flight from wherever the last session was.
        if (u.Vpn is null && u.Registered)
        {
            if (u.Away is null && rng.Chance(TripChancePerSession / pace))
            {
                var dest = _geo.Cities[rng.PickWeighted(_geo.CityCumulativeWeights)];
                if (dest.Id != u.Home.Id)
                {
                    t = Math.Max(t, u.LastSessionEndTs + FlightMs(u.Home, dest, ref rng));
                    u.Away = dest;
                    u.ReturnTs = t + (long)(rng.Between(1.0, 6.0) * Day);
                }
            }
            else if (u.Away is { } away && t >= u.ReturnTs)
            {
                t = Math.Max(t, u.LastSessionEndTs + FlightMs(away, u.Home, ref rng));
                u.Away = null;
            }
        }

        var device = rng.Next(u.Devices.Length);
        var ua = u.Devices[device];
        string ip;
        if (u.Vpn is { } vpn)
        {
            ip = Ip(vpn.Prefix, ref rng);
        }
        else if (u.Away is { } city)
        {
            ip = Ip(city.Prefixes[rng.Next(city.Prefixes.Length)], ref rng);
        }
        else if (u.DeviceIsMobile[device] && rng.Chance(0.4))
        {
            // On the carrier network rather than the home Wi-Fi: another address in the same city.
            ip = Ip(u.Home.Prefixes[rng.Next(u.Home.Prefixes.Length)], ref rng);
        }
        else
        {
            ip = GeoSeed.FormatIPv4(u.HomeIp);
        }

        var sid = NextSessionId();
        var home = u.Away is null;

        if (!u.Registered)
        {
            Enqueue(Event(t, EventType.UserRegistered, u, sid, ip, ua,
                Props("emailDomain", u.EmailDomain, "signupChannel", u.DeviceIsMobile[device] ? "app" : "web")));
            Enqueue(Notification(t + Gap(ref rng, 2, 0.5, 1), u, NotificationChannel.Email, "WELCOME"));
            u.Registered = true;
            t += Gap(ref rng, 40, 0.5, pace);
        }

        // Legitimate login trouble, never more than one flow's worth of failures inside two minutes.
        var failuresAllowed = t - u.LastFailureTs > FailureFlowSpacing;
        var roll = rng.NextDouble();
        if (failuresAllowed && roll < 0.06)
        {
            var n = rng.Chance(0.75) ? 1 : 2;
            for (var i = 0; i < n; i++)
            {
                Enqueue(Event(t, EventType.LoginFailed, u, null, ip, ua, Props("reason", "bad_password")));
                u.LastFailureTs = t;
                t += Gap(ref rng, 8, 0.5, pace);
            }
        }
        else if (failuresAllowed && home && roll < 0.072)
        {
            // Forgotten password: a few tries, then the reset link by e-mail, a new password, and in.
            var n = rng.Between(2, 4);
            for (var i = 0; i < n; i++)
            {
                Enqueue(Event(t, EventType.LoginFailed, u, null, ip, ua, Props("reason", "bad_password")));
                u.LastFailureTs = t;
                t += Gap(ref rng, 10, 0.5, pace);
            }

            Enqueue(Event(t, EventType.PasswordResetRequested, u, null, ip, ua, Props("channel", "EMAIL")));
            Enqueue(Notification(t + Gap(ref rng, 2, 0.5, 1), u, NotificationChannel.Email, "PASSWORD_RESET"));
            t += Gap(ref rng, 90, 0.6, pace);
            Enqueue(Event(t, EventType.PasswordChanged, u, null, ip, ua, Props("via", "reset")));
            Enqueue(Notification(t + Gap(ref rng, 2, 0.5, 1), u, NotificationChannel.Email, "PASSWORD_CHANGED"));
            t += Gap(ref rng, 15, 0.5, pace);
        }

        u.LastLoginMs = Math.Max(u.LastLoginMs, t);
        Enqueue(Event(t, EventType.LoginSuccess, u, sid, ip, ua,
            Props("authMethod", u.DeviceIsMobile[device] && ua.StartsWith("VigilShop", StringComparison.Ordinal) ? "token" : "password")));
        u.Logins++;

        var actions = Math.Clamp((int)Math.Round(rng.LogNormal(8, 0.7)), 1, 80);
        var securityChangeDone = false;
        for (var i = 0; i < actions; i++)
        {
            t += Gap(ref rng, 22, 0.9, pace);
            var r = rng.NextDouble();
            if (r < 0.60)
            {
                Enqueue(Event(t, EventType.PageView, u, sid, ip, ua, Props("path", PagePath(ref rng))));
            }
            else if (r < 0.90)
            {
                Enqueue(Event(t, EventType.Search, u, sid, ip, ua,
                    Props("query", rng.Pick(Catalog.SearchQueries), "results", Int(rng.Between(0, 400)))));
            }
            else if (r < 0.935)
            {
                var amount = Math.Round(rng.LogNormal(45, 0.8), 2);
                Enqueue(Event(t, EventType.Purchase, u, sid, ip, ua,
                    Props("amount", Amount(amount), "currency", rng.Pick(Catalog.Currencies), "orderId", NextOrderId())));
                Enqueue(Notification(t + Gap(ref rng, 3, 0.5, 1), u, NotificationChannel.Email, "ORDER_CONFIRMATION"));
            }
            else if (r < 0.95)
            {
                Enqueue(Event(t, EventType.ProfileUpdated, u, sid, ip, ua, Props("field", rng.Pick(Catalog.ProfileFields))));
            }
            else if (home && !securityChangeDone && r < 0.9535)
            {
                // The real owner changing security settings from home: never paired with a foreign login.
                securityChangeDone = true;
                var which = rng.Next(3);
                var (type, kind) = which switch
                {
                    0 => (EventType.PasswordChanged, "PASSWORD_CHANGED"),
                    1 => (EventType.EmailChanged, "EMAIL_CHANGED"),
                    _ => (EventType.MfaChanged, "MFA_CHANGED"),
                };
                var props = type switch
                {
                    EventType.PasswordChanged => Props("via", "settings"),
                    EventType.EmailChanged => Props("newDomain", rng.Pick(Catalog.EmailDomains)),
                    _ => Props("mfa", rng.Chance(0.8) ? "enabled" : "totp"),
                };
                Enqueue(Event(t, type, u, sid, ip, ua, props));
                Enqueue(Notification(t + Gap(ref rng, 2, 0.5, 1), u,
                    type == EventType.MfaChanged ? NotificationChannel.Sms : NotificationChannel.Email, kind));
            }
            else
            {
                Enqueue(Event(t, EventType.PageView, u, sid, ip, ua, Props("path", PagePath(ref rng))));
            }
        }

        if (rng.Chance(0.7))
        {
            t += Gap(ref rng, 15, 0.6, pace);
            Enqueue(Event(t, EventType.Logout, u, sid, ip, ua, null));
        }

        u.LastSessionEndTs = t;
        ScheduleWake(u, t + (long)Math.Max(Second, 3 * Minute / pace));
    }

    private static long FlightMs(City from, City to, ref Prng rng)
    {
        var km = GeoSeed.DistanceKm(from, to);
        var hours = (km / rng.Between(MinFlightKmh, MaxFlightKmh)) + rng.Between(2.0, 4.0);
        return (long)(hours * Hour);
    }

    /// <summary>A think time: log-normal around <paramref name="medianSeconds"/>, shortened by the pace of --rate.</summary>
    private static long Gap(ref Prng rng, double medianSeconds, double sigma, double pace)
    {
        var seconds = Math.Clamp(rng.LogNormal(medianSeconds, sigma), medianSeconds / 10, medianSeconds * 20) / pace;
        return Math.Max(1, (long)(seconds * Second));
    }

    private static string PagePath(ref Prng rng) => rng.Chance(0.55)
        ? string.Create(CultureInfo.InvariantCulture, $"/product/{rng.Between(10000, 99999)}")
        : rng.Pick(Catalog.Pages);
}
