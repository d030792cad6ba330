using Vigil.Simulator.Internal;

namespace Vigil.Simulator.Tests;

public sealed class CampaignTests
{
    private static readonly Lazy<Run> s_long = new(() => Run.Of(new SimulatorOptions
    {
        Seed = 21, Users = 1000, Start = Run.Start, Duration = TimeSpan.FromHours(6),
    }));

    private static IEnumerable<(Run Run, CampaignLabel Label)> Labels(string kind)
    {
        foreach (var run in new[] { Run.Hour, s_long.Value })
        {
            foreach (var label in run.Labels.Where(l => l.Kind == kind))
            {
                yield return (run, label);
            }
        }
    }

    private static List<(Run, CampaignLabel)> Require(string kind)
    {
        var list = Labels(kind).ToList();
        Assert.True(list.Count >= 2, $"expected several {kind} campaigns");
        return list;
    }

    [Fact]
    public void BruteForce_Label_UserHasFiveFailuresInTwoMinutes()
    {
        foreach (var (run, label) in Require("BRUTE_FORCE"))
        {
            Assert.Single(label.UserIds);
            var failures = run.EventsOf(label).Where(e => e.Type == "LOGIN_FAILED" && e.UserId == label.UserIds[0]).Select(e => e.Ts).ToList();
            Assert.True(failures.Count >= 10, $"{label.CampaignId}: {failures.Count} failures");
            Assert.True(Run.MaxInWindow(failures, 120_000) >= 5, label.CampaignId);
        }
    }

    [Fact]
    public void BruteForceIp_Label_OneIpEightFailuresInTwoMinutes()
    {
        foreach (var (run, label) in Require("BRUTE_FORCE_IP"))
        {
            var ip = Assert.Single(label.Ips);
            var failures = run.EventsOf(label).Where(e => e.Type == "LOGIN_FAILED" && e.Ip == ip).Select(e => e.Ts).ToList();
            Assert.True(Run.MaxInWindow(failures, 120_000) >= 8, label.CampaignId);
        }
    }

    [Fact]
    public void PasswordSpray_Label_FifteenUsersFromOneIpIn30Minutes()
    {
        foreach (var (run, label) in Require("PASSWORD_SPRAY"))
        {
            var ip = Assert.Single(label.Ips);
            var events = run.EventsOf(label);
            Assert.All(events, e => Assert.Equal("LOGIN_FAILED", e.Type));
            Assert.All(events, e => Assert.Equal(ip, e.Ip));
            Assert.True(events[^1].Ts - events[0].Ts <= 30 * 60_000, label.CampaignId);
            Assert.True(events.Select(e => e.Subject).Distinct().Count() >= 15, label.CampaignId);
            Assert.Contains(events, e => e.UserId is null && e.Username is not null);
        }
    }

    [Fact]
    public void CredentialStuffing_Label_ManyUsersFailuresAndIpsIn10Minutes()
    {
        foreach (var (run, label) in Require("CREDENTIAL_STUFFING"))
        {
            var events = run.EventsOf(label);
            var logins = events.Where(e => e.Type is "LOGIN_FAILED" or "LOGIN_SUCCESS").ToList();
            Assert.True(logins[^1].Ts - logins[0].Ts <= 10 * 60_000, label.CampaignId);
            Assert.True(label.UserIds.Count >= 8, label.CampaignId);
            Assert.True(logins.Count(e => e.Type == "LOGIN_FAILED") >= 15, label.CampaignId);
            Assert.True(logins.Select(e => e.Ip).Distinct().Count() >= 5, label.CampaignId);
        }

        Assert.Contains(Labels("CREDENTIAL_STUFFING"), x => x.Run.EventsOf(x.Label).Any(e => e.Type == "LOGIN_SUCCESS"));
    }

    [Fact]
    public void AccountTakeover_Label_FailuresThenForeignSuccessThenChangeWithinHour()
    {
        foreach (var (run, label) in Require("ACCOUNT_TAKEOVER"))
        {
            var events = run.EventsOf(label);
            var success = events.FindIndex(e => e.Type == "LOGIN_SUCCESS");
            Assert.True(success > 0, label.CampaignId);
            Assert.All(events.Take(success), e => Assert.Equal("LOGIN_FAILED", e.Type));
            var change = events.FindIndex(success, e => e.Type is "PASSWORD_CHANGED" or "EMAIL_CHANGED" or "MFA_CHANGED");
            Assert.True(change > success, label.CampaignId);
            Assert.True(events[change].Ts - events[success].Ts <= 3_600_000, label.CampaignId);

            // The attacker's country is one the victim never logs in from at home.
            var home = run.Events.Where(e => e.UserId == label.UserIds[0] && e.Type == "LOGIN_SUCCESS" && e.Ip != events[success].Ip).ToList();
            Assert.True(GeoSeed.Instance.TryLocate(events[success].Ip!, out _, out _, out var attackerCc));
            foreach (var h in home)
            {
                Assert.True(GeoSeed.Instance.TryLocate(h.Ip!, out _, out _, out var cc));
                if (h.Ts < events[0].Ts)
                {
                    Assert.NotEqual(attackerCc, cc);
                }
            }
        }
    }

    [Fact]
    public void ImpossibleTravel_Label_ImpliedSpeedAboveAirliner()
    {
        foreach (var (run, label) in Require("IMPOSSIBLE_TRAVEL"))
        {
            var logins = run.EventsOf(label).Where(e => e.Type == "LOGIN_SUCCESS").ToList();
            Assert.Equal(2, logins.Count);
            var (lat1, lon1) = Run.Locate(logins[0].Ip!);
            var (lat2, lon2) = Run.Locate(logins[1].Ip!);
            var km = GeoSeed.DistanceKm(lat1, lon1, lat2, lon2);
            var hours = (logins[1].Ts - logins[0].Ts) / 3_600_000.0;
            Assert.True(km / hours > 900 * 3, $"{label.CampaignId}: {km:0} km in {hours:0.00} h");
        }
    }

    [Fact]
    public void RapidActivity_Label_Over120EventsPerMinute()
    {
        foreach (var (run, label) in Require("RAPID_ACTIVITY"))
        {
            var ts = run.EventsOf(label).Where(e => e.Type is "PAGE_VIEW" or "SEARCH").Select(e => e.Ts).ToList();
            Assert.True(Run.MaxInWindow(ts, 60_000) > 120, label.CampaignId);
            Assert.Single(label.UserIds);
        }
    }

    [Fact]
    public void BehaviorAnomaly_Label_NightActivityOnNewDevice()
    {
        var engine = new Engine(new SimulatorOptions { Seed = 7, Users = 1000, Start = Run.Start });
        foreach (var label in Run.Hour.Labels.Where(l => l.Kind == "BEHAVIOR_ANOMALY"))
        {
            var events = Run.Hour.EventsOf(label);
            var user = engine.Users.Single(u => u.Id == label.UserIds[0]);
            Assert.False(user.NightOwl);
            var local = label.Start.ToOffset(user.Home.TimeZone.GetUtcOffset(label.Start)).Hour;
            Assert.InRange(local, 1, 4);
            Assert.True(events.Count(e => e.Type == "SEARCH") >= 20);
            Assert.True(events.Count(e => e.Type == "PURCHASE") >= 3);
        }
    }
}
