using System.Text.Json;
using Vigil.Core.Events;
using Vigil.Simulator.Internal;

namespace Vigil.Simulator.Tests;

public sealed class TrafficTests
{
    [Fact]
    public void Messages_AnyRun_OrderedByTimestamp()
    {
        var messages = Run.Hour.Messages;
        for (var i = 1; i < messages.Count; i++)
        {
            Assert.True(messages[i - 1].TimestampMs <= messages[i].TimestampMs, $"message {i} goes back in time");
        }
    }

    [Fact]
    public void Messages_UserEvents_ValidContractJson()
    {
        var known = EventTypes.WireNames.ToHashSet(StringComparer.Ordinal);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in Run.Hour.Messages)
        {
            using var doc = JsonDocument.Parse(m.Value);
            var r = doc.RootElement;
            if (m.Topic == SimulatedMessage.NotificationsTopic)
            {
                Assert.StartsWith("n-", r.GetProperty("notificationId").GetString(), StringComparison.Ordinal);
                Assert.Equal(m.Key, r.GetProperty("userId").GetString());
                Assert.Contains(r.GetProperty("channel").GetString(), new[] { "EMAIL", "SMS", "PUSH" });
                Assert.False(string.IsNullOrEmpty(r.GetProperty("kind").GetString()));
                continue;
            }

            Assert.Equal(SimulatedMessage.UserEventsTopic, m.Topic);
            var id = r.GetProperty("eventId").GetString()!;
            Assert.True(id.Length is > 0 and <= 128);
            Assert.True(ids.Add(id), $"duplicate event id {id}");
            var type = r.GetProperty("eventType").GetString()!;
            Assert.Contains(type, known);
            var ts = r.GetProperty("timestamp").GetString()!;
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", ts);
            Assert.Equal(m.TimestampMs, DateTimeOffset.Parse(ts, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
            var hasUser = r.TryGetProperty("userId", out var userId);
            if (hasUser)
            {
                Assert.Matches(@"^u-\d{6}$", userId.GetString()!);
                Assert.Equal(m.Key, userId.GetString());
            }
            else
            {
                Assert.Equal("LOGIN_FAILED", type);
                Assert.Equal(m.Key, r.GetProperty("username").GetString());
            }

            Assert.True(System.Net.IPAddress.TryParse(r.GetProperty("ipAddress").GetString(), out _));
            Assert.False(string.IsNullOrEmpty(r.GetProperty("userAgent").GetString()));
            if (r.TryGetProperty("properties", out var props))
            {
                foreach (var p in props.EnumerateObject())
                {
                    Assert.Equal(JsonValueKind.String, p.Value.ValueKind);
                }
            }

            switch (type)
            {
                case "SEARCH":
                    Assert.False(string.IsNullOrEmpty(props.GetProperty("query").GetString()));
                    break;
                case "PURCHASE":
                    Assert.True(decimal.TryParse(props.GetProperty("amount").GetString(), System.Globalization.NumberStyles.Number,
                        System.Globalization.CultureInfo.InvariantCulture, out var amount) && amount > 0);
                    break;
                case "LOGIN_FAILED":
                    Assert.False(string.IsNullOrEmpty(props.GetProperty("reason").GetString()));
                    break;
            }
        }
    }

    [Fact]
    public void Messages_AllAttacksOneHour_EveryKindLabelled()
    {
        var kinds = Run.Hour.Labels.Select(l => l.Kind).ToHashSet(StringComparer.Ordinal);
        foreach (var kind in AttackKindNames.Singles)
        {
            Assert.Contains(kind.ToWireName(), kinds);
        }

        var emitted = Run.Hour.Events.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var label in Run.Hour.Labels)
        {
            Assert.NotEmpty(label.EventIds);
            Assert.NotEmpty(label.Ips);
            Assert.All(label.EventIds, id => Assert.Contains(id, emitted));
            Assert.True(label.Start <= label.End);
        }
    }

    [Fact]
    public void Messages_NoAttacks_NoLabels()
    {
        var run = Run.Of(new SimulatorOptions { Users = 200, Start = Run.Start, Duration = TimeSpan.FromMinutes(30), Attacks = AttackKinds.None });
        Assert.Empty(run.Labels);
        Assert.NotEmpty(run.Events);
    }

    [Fact]
    public void Messages_EveryAddress_InsideCommittedPrefixes()
    {
        foreach (var e in Run.Hour.Events)
        {
            Run.Locate(e.Ip!);
        }
    }

    [Fact]
    public void Messages_HomeLogins_InHomeCityPrefixes()
    {
        // A home-Wi-Fi login carries the user's home address, and that address is in a prefix of the home city.
        var geo = GeoSeed.Instance;
        var engine = new Engine(new SimulatorOptions { Users = 500, Start = Run.Start, Duration = TimeSpan.FromHours(1) });
        foreach (var u in engine.Users)
        {
            Assert.Contains(u.HomeIp & 0xFFFFFF00u, u.Home.Prefixes);
            Assert.True(geo.TryLocate(GeoSeed.FormatIPv4(u.HomeIp), out var lat, out var lon, out var cc));
            Assert.Equal(u.Home.CountryCode, cc);
            Assert.Equal(u.Home.Latitude, lat);
            Assert.Equal(u.Home.Longitude, lon);
        }
    }

    [Fact]
    public void Messages_LegitimateTrips_BelowAirlinerSpeed()
    {
        // No attacks: over two days the campaigns would touch most of the population and leave few users to check.
        var run = Run.Of(new SimulatorOptions { Seed = 11, Users = 1000, Start = Run.Start, Duration = TimeSpan.FromDays(2), Attacks = AttackKinds.None });
        var excluded = run.CampaignUsers();
        var labelled = run.LabelledEventIds();
        var trips = 0;
        foreach (var group in run.Events.Where(e => e.Type == "LOGIN_SUCCESS" && e.UserId is not null && !excluded.Contains(e.UserId)
                     && !labelled.Contains(e.Id)).GroupBy(e => e.UserId))
        {
            Ev? previous = null;
            foreach (var e in group.OrderBy(e => e.Ts))
            {
                if (previous is not null)
                {
                    var (lat1, lon1) = Run.Locate(previous.Ip!);
                    var (lat2, lon2) = Run.Locate(e.Ip!);
                    var km = GeoSeed.DistanceKm(lat1, lon1, lat2, lon2);
                    if (km > 300)
                    {
                        trips++;
                        var hours = (e.Ts - previous.Ts) / 3_600_000.0;
                        Assert.True(km / hours < 900, $"{e.UserId}: {km:0} km in {hours:0.00} h");
                    }
                }

                previous = e;
            }
        }

        Assert.True(trips > 50, $"only {trips} trips");
    }

    [Fact]
    public void Messages_LegitimateUsers_NeverFiveFailuresInTwoMinutes()
    {
        var run = Run.Of(new SimulatorOptions { Seed = 2, Users = 2000, Start = Run.Start, Duration = TimeSpan.FromHours(6) });
        var labelled = run.LabelledEventIds();
        var failures = 0;
        foreach (var group in run.Events.Where(e => e.Type == "LOGIN_FAILED" && !labelled.Contains(e.Id)).GroupBy(e => e.Subject))
        {
            var ts = group.Select(e => e.Ts).Order().ToList();
            failures += ts.Count;
            Assert.True(Run.MaxInWindow(ts, 120_000) < 5, $"{group.Key} has 5 failures within 2 minutes");
        }

        Assert.True(failures > 50, "legitimate failures (typos, forgotten passwords) are expected");
        Assert.Contains(run.Events, e => e.Type == "PASSWORD_RESET_REQUESTED");
        Assert.Contains(run.Messages, m => m.Topic == SimulatedMessage.NotificationsTopic
            && System.Text.Encoding.UTF8.GetString(m.Value).Contains("\"PASSWORD_RESET\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Messages_Rate_MeanLegitimateRateNearTarget()
    {
        var run = Run.Of(new SimulatorOptions { Users = 500, Start = Run.Start, Duration = TimeSpan.FromHours(2), Rate = 10, Attacks = AttackKinds.None });
        var rate = run.Events.Count / 7200.0;
        Assert.InRange(rate, 8.0, 12.0);
    }

    [Fact]
    public void Messages_Sessions_LoginBeforeActivity()
    {
        var labelled = Run.Hour.LabelledEventIds();
        var sessions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in Run.Hour.Events.Where(e => !labelled.Contains(e.Id) && e.SessionId is not null))
        {
            if (e.Type is "LOGIN_SUCCESS" or "USER_REGISTERED")
            {
                sessions[e.SessionId!] = e.UserId!;
            }
            else if (e.Type is "PAGE_VIEW" or "SEARCH" or "PURCHASE" or "LOGOUT")
            {
                // Sessions already running when the run starts are not possible: every user starts logged out.
                Assert.True(sessions.TryGetValue(e.SessionId!, out var owner), $"{e.Type} before login in {e.SessionId}");
                Assert.Equal(owner, e.UserId);
            }
        }
    }
}
