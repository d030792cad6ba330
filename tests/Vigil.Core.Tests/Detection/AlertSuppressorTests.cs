using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Detection;

public sealed class AlertSuppressorTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    private static Alert Raised(string id, double minutes, Severity severity = Severity.Medium, string entity = "user:u-1") => new()
    {
        AlertId = id,
        Rule = RuleNames.BruteForce,
        Severity = severity,
        UserId = "u-1",
        IpAddress = "203.0.113.7",
        EventTime = s_t0.AddMinutes(minutes),
        DetectedAt = s_t0.AddMinutes(minutes),
        Summary = $"alert {id}",
        Evidence = new Dictionary<string, object?> { [Evidence.EventIds] = new List<string> { "e-" + id }, [Evidence.Entity] = entity },
    };

    private static (AlertSuppressor Suppressor, ListOutput<Alert> Output) New(TimeSpan? window = null)
    {
        var output = new ListOutput<Alert>();
        return (new AlertSuppressor(new SuppressionOptions { Window = window ?? TimeSpan.FromHours(1) }) { Downstream = output }, output);
    }

    [Fact]
    public void Emit_RepeatWithinTheWindow_UpdatesTheOpenAlertUnderItsId()
    {
        var (s, output) = New();

        s.Emit(Raised("a", 0));
        s.Emit(Raised("b", 10));
        s.Emit(Raised("c", 20));

        Assert.Equal(["a", "a", "a"], output.Items.Select(a => a.AlertId));
        var last = output.Items[^1];
        Assert.Equal(3, last.Evidence[Evidence.Occurrences]);
        Assert.Equal("2026-01-05T09:20:00.000Z", last.Evidence[Evidence.LastSeen]);
        Assert.Equal("2026-01-05T09:00:00.000Z", last.Evidence[Evidence.FirstSeen]);
        Assert.Equal(new List<string> { "e-c" }, last.Evidence[Evidence.LastEventIds]);
        Assert.Contains("seen 3 times", last.Summary, StringComparison.Ordinal);
        Assert.Equal(2, s.Suppressed);
    }

    [Fact]
    public void Emit_FirstAlert_CarriesOneOccurrence()
    {
        var (s, output) = New();

        s.Emit(Raised("a", 0));

        Assert.Equal(1, Assert.Single(output.Items).Evidence[Evidence.Occurrences]);
    }

    [Fact]
    public void Emit_RepeatAfterTheWindow_IsANewAlert()
    {
        var (s, output) = New();

        s.Emit(Raised("a", 0));
        s.Emit(Raised("b", 60));

        Assert.Equal(["a", "b"], output.Items.Select(a => a.AlertId));
        Assert.Equal(1, output.Items[1].Evidence[Evidence.Occurrences]);
    }

    [Fact]
    public void Emit_OtherEntity_IsNotSuppressed()
    {
        var (s, output) = New();

        s.Emit(Raised("a", 0));
        s.Emit(Raised("b", 1, entity: "user:u-2"));

        Assert.Equal(["a", "b"], output.Items.Select(a => a.AlertId));
    }

    [Fact]
    public void Emit_HigherSeverity_IsAnEscalationAndPasses()
    {
        var (s, output) = New();

        s.Emit(Raised("a", 0));
        s.Emit(Raised("b", 5, Severity.High));
        s.Emit(Raised("c", 6));

        Assert.Equal(["a", "b", "b"], output.Items.Select(a => a.AlertId));
    }

    [Fact]
    public void Restore_OpenAlert_UpdatesItByteForByteAsWithoutTheRestart()
    {
        var (straight, straightOut) = New();
        straight.Emit(Raised("a", 0));
        straight.Emit(Raised("b", 10));

        var (first, _) = New();
        first.Emit(Raised("a", 0));
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            first.Snapshot(writer);
        }
        buffer.Position = 0;
        var (second, secondOut) = New();
        using (var reader = new BinaryReader(buffer))
        {
            second.Restore(reader);
        }
        second.Emit(Raised("b", 10));

        Assert.Equal(AlertJson.ToUtf8Bytes(straightOut.Items[^1]), AlertJson.ToUtf8Bytes(Assert.Single(secondOut.Items)));
    }

    [Fact]
    public void Disabled_PassesEveryAlert()
    {
        var output = new ListOutput<Alert>();
        var s = new AlertSuppressor(new SuppressionOptions { Enabled = false }) { Downstream = output };

        s.Emit(Raised("a", 0));
        s.Emit(Raised("b", 1));

        Assert.Equal(["a", "b"], output.Items.Select(a => a.AlertId));
    }
}

public sealed class UserAgentsTests
{
    [Theory]
    [InlineData("python-requests/2.31.0", true)]
    [InlineData("curl/8.4.0", true)]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36", true)]
    [InlineData("VigilShop/5.12.1 (Android 13; SM-G991B; okhttp/4.12.0)", false)]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", false)]
    [InlineData(null, false)]
    public void IsAutomation_KnownAgents_Classified(string? agent, bool expected) => Assert.Equal(expected, UserAgents.IsAutomation(agent));

    [Fact]
    public void IsAutomationAndDeviceHash_ManyAgentsAndCopies_SameAsComputedFresh()
    {
        // Far more agents than the memo has slots, each asked for many times through distinct string instances, in an
        // order that makes agents differing in one digit alternate: every answer must still be the agent's own.
        var agents = new List<string>();
        for (var i = 0; i < 3000; i++)
        {
            agents.Add(i % 3 == 0
                ? $"curl/{i}.0"
                : $"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/1{i:D3}.0.0.0 Safari/537.36");
        }
        var expectedDevice = agents.Select(a =>
        {
            var h = Vigil.Core.Features.StableHash.Hash64(a, 5);
            var folded = (uint)(h ^ (h >> 32));
            return folded == 0 ? 1u : folded;
        }).ToArray();
        var rng = new Random(5);
        for (var n = 0; n < 30_000; n++)
        {
            var i = n % 2 == 0 ? rng.Next(agents.Count) : (n / 2) % 40;
            var copy = n % 3 == 0 ? new string(agents[i].AsSpan()) : agents[i];
            Assert.Equal(i % 3 == 0, UserAgents.IsAutomation(copy));
            Assert.Equal(expectedDevice[i], UserAgents.DeviceHash(copy));
            Assert.Equal(Vigil.Core.Features.StableHash.Hash64(agents[i], 3), UserAgents.FeatureDeviceHash(copy));
        }
    }
}
