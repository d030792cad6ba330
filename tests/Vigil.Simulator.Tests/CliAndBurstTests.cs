namespace Vigil.Simulator.Tests;

public sealed class CliAndBurstTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vigil-sim-" + Guid.NewGuid().ToString("N"));

    public CliAndBurstTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Out, string Err)> Cli(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SimulatorCli.RunAsync(args, stdout, stderr, null, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task RunAsync_SameArgsTwice_IdenticalFiles()
    {
        var files = new List<byte[]>();
        for (var i = 0; i < 2; i++)
        {
            var ev = Path.Combine(_dir, $"ev{i}.jsonl");
            var labels = Path.Combine(_dir, $"labels{i}.jsonl");
            var notes = Path.Combine(_dir, $"n{i}.jsonl");
            var (code, output, _) = await Cli("--seed", "9", "--users", "300", "--duration", "45m", "--out", ev, "--labels", labels,
                "--notifications", notes);
            Assert.Equal(0, code);
            Assert.Contains("\"events\":", output, StringComparison.Ordinal);
            files.Add(File.ReadAllBytes(ev));
            files.Add(File.ReadAllBytes(labels));
            files.Add(File.ReadAllBytes(notes));
        }

        Assert.NotEmpty(files[0]);
        Assert.NotEmpty(files[1]);
        Assert.Equal(files[0], files[3]);
        Assert.Equal(files[1], files[4]);
        Assert.Equal(files[2], files[5]);
        foreach (var line in File.ReadAllLines(Path.Combine(_dir, "labels0.jsonl")))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            foreach (var field in new[] { "campaignId", "kind", "userIds", "ips", "start", "end", "eventIds" })
            {
                Assert.True(doc.RootElement.TryGetProperty(field, out _), field);
            }
        }
    }

    [Fact]
    public async Task RunAsync_NoOut_WritesEventsToStdoutAndSummaryToStderr()
    {
        var (code, output, error) = await Cli("--users", "50", "--duration", "10m", "--attacks", "brute_force");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.StartsWith("{\"eventId\":", l, StringComparison.Ordinal));
        Assert.Matches("\"BRUTE_FORCE\":[1-9]", error);
        Assert.Contains("\"PASSWORD_SPRAY\":0", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_To_ProducesBothTopics()
    {
        var topics = new List<string>();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SimulatorCli.RunAsync(["--users", "200", "--duration", "30m", "--to", "localhost:9092"], stdout, stderr,
            (topic, key, value, ct) =>
            {
                topics.Add(topic);
                return ValueTask.CompletedTask;
            }, CancellationToken.None);
        Assert.Equal(0, code);
        Assert.Contains(SimulatedMessage.UserEventsTopic, topics);
        Assert.Contains(SimulatedMessage.NotificationsTopic, topics);
        Assert.Equal("", stdout.ToString());
    }

    [Theory]
    [InlineData("--users", "abc")]
    [InlineData("--duration", "5x")]
    [InlineData("--rate", "-1")]
    [InlineData("--attacks", "BRUTE_FORCE,NOPE")]
    [InlineData("--start", "yesterday")]
    [InlineData("--bogus", "1")]
    public async Task RunAsync_BadFlag_ExitCode2NamingFlag(string flag, string value)
    {
        var (code, _, error) = await Cli(flag, value);
        Assert.Equal(2, code);
        Assert.Contains(flag, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingValue_ExitCode2()
    {
        var (code, _, error) = await Cli("--users", "10", "--duration");
        Assert.Equal(2, code);
        Assert.Contains("--duration", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Help_PrintsUsage()
    {
        var (code, output, _) = await Cli("--help");
        Assert.Equal(0, code);
        Assert.Contains("--notifications", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("1h30m", 5400)]
    [InlineData("00:05:00", 300)]
    public void TryParseDuration_Valid_Parsed(string text, int seconds)
    {
        Assert.True(SimulatorCli.TryParseDuration(text, out var d));
        Assert.Equal(TimeSpan.FromSeconds(seconds), d);
    }

    [Theory]
    [InlineData("")]
    [InlineData("h")]
    [InlineData("5x")]
    [InlineData("0s")]
    public void TryParseDuration_Invalid_False(string text) => Assert.False(SimulatorCli.TryParseDuration(text, out _));

    [Theory]
    [InlineData("all", AttackKinds.All)]
    [InlineData("none", AttackKinds.None)]
    [InlineData("BRUTE_FORCE,password_spray", AttackKinds.BruteForce | AttackKinds.PasswordSpray)]
    [InlineData("brute-force-ip", AttackKinds.BruteForceIp)]
    [InlineData("BehaviorAnomaly", AttackKinds.BehaviorAnomaly)]
    public void TryParse_Kinds_Parsed(string text, AttackKinds expected)
    {
        Assert.True(AttackKindNames.TryParse(text, out var kinds));
        Assert.Equal(expected, kinds);
    }

    public static TheoryData<AttackKinds> SingleKinds()
    {
        var data = new TheoryData<AttackKinds>();
        foreach (var k in AttackKindNames.Singles)
        {
            data.Add(k);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SingleKinds))]
    public void Burst_SingleKind_ReturnsCampaignOfThatKind(AttackKinds kind)
    {
        var start = new DateTimeOffset(2026, 3, 1, 20, 0, 0, TimeSpan.Zero);
        var messages = Simulation.Burst(5, start, kind, 200, out var label);
        Assert.Equal(kind.ToWireName(), label.Kind);
        Assert.Equal(start, label.Start);
        Assert.True(label.End - label.Start <= TimeSpan.FromMinutes(5));
        var events = messages.Where(m => m.Topic == SimulatedMessage.UserEventsTopic).Select(m => Run.Decode(m.Value)).ToList();
        var ids = events.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        Assert.All(label.EventIds, id => Assert.Contains(id, ids));
        Assert.True(events.Count - label.EventIds.Count >= 200);
        for (var i = 1; i < messages.Count; i++)
        {
            Assert.True(messages[i - 1].TimestampMs <= messages[i].TimestampMs);
        }
    }

    [Fact]
    public void Burst_SeveralKinds_Throws() =>
        Assert.Throws<ArgumentException>(() => Simulation.Burst(1, Run.Start, AttackKinds.BruteForce | AttackKinds.PasswordSpray, 10, out _));
}
