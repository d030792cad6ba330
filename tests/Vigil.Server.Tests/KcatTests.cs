using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Vigil.Server.Tests;

/// <summary>A Fact that is skipped, saying why, when Debian's kcat is not installed (the test command installs it).</summary>
public sealed class KcatFactAttribute : FactAttribute
{
    public KcatFactAttribute()
    {
        if (!File.Exists("/usr/bin/kcat"))
        {
            Skip = "kcat is not installed (apt-get install kcat; ./scripts/test.sh does this).";
        }
    }
}

/// <summary>
/// The broker as its own process, <c>vigil serve</c> pointed at it, and a foreign Kafka client (kcat) producing an
/// attack and reading the alert back: the Kafka-protocol contract with nothing of ours on the client side.
/// </summary>
public sealed class KcatTests
{
    [KcatFact]
    public async Task Serve_PointedAtBrokerProcess_KcatAttackYieldsAlertOnSecurityAlerts()
    {
        var directory = Directory.CreateTempSubdirectory("vigil-kcat-").FullName;
        try
        {
            await using var broker = VigilProcess.Start(directory, null, "broker");
            var bootstrap = (await broker.WaitForOutputLineAsync(l => l.Contains(':', StringComparison.Ordinal), TimeSpan.FromSeconds(30))).Trim();

            var port = VigilProcess.FreePort();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            // The broker process is librdkafka's mock, which holds every rebalance after a group's first for the session
            // timeout minus 1 s (EmbeddedBroker). serve's three consumers join one group, and when their joins fall into
            // separate rounds (a loaded machine) the client default of 45 s held the assignment past this test's wait.
            await using var serve = VigilProcess.Start(directory, new Dictionary<string, string>
            {
                ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap,
                ["Vigil__Kafka__Client__session.timeout.ms"] = "6000",
                ["Vigil__Kafka__Client__heartbeat.interval.ms"] = "1000",
            }, "serve", "--urls", $"http://127.0.0.1:{port}");
            await serve.WaitForHttpAsync(http, "/api/health", TimeSpan.FromSeconds(60));

            var now = DateTimeOffset.UtcNow.AddMinutes(-1);
            var lines = new StringBuilder();
            for (var i = 0; i < 6; i++)
            {
                lines.Append("kcat-user|").Append(JsonSerializer.Serialize(new
                {
                    eventId = $"kcat-{i}",
                    eventType = "LOGIN_FAILED",
                    timestamp = now.AddSeconds(i * 5).ToString("O"),
                    userId = "kcat-user",
                    ipAddress = "203.0.113.50",
                })).Append('\n');
            }
            var (produceCode, _, produceErr) = await RunKcatAsync(lines.ToString(), TimeSpan.FromSeconds(30),
                "-P", "-b", bootstrap, "-t", "user-events", "-K", "|");
            Assert.True(produceCode == 0, produceErr);

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
            string consumed = "";
            while (DateTime.UtcNow < deadline)
            {
                (_, consumed, _) = await RunKcatAsync("", TimeSpan.FromSeconds(20),
                    "-C", "-b", bootstrap, "-t", "security-alerts", "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n");
                if (consumed.Contains("kcat-user", StringComparison.Ordinal))
                {
                    break;
                }
                await Task.Delay(500);
            }

            var line = consumed.Split('\n').First(l => l.StartsWith("kcat-user\t", StringComparison.Ordinal));
            using var alert = JsonDocument.Parse(line["kcat-user\t".Length..]);
            Assert.Equal("BRUTE_FORCE", alert.RootElement.GetProperty("rule").GetString());
            Assert.Equal("MEDIUM", alert.RootElement.GetProperty("severity").GetString());
            Assert.Equal("kcat-user", alert.RootElement.GetProperty("userId").GetString());
            Assert.Equal(5, alert.RootElement.GetProperty("evidence").GetProperty("eventIds").GetArrayLength());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunKcatAsync(string input, TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("/usr/bin/kcat")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
        return (process.HasExited ? process.ExitCode : -1, await stdout, await stderr);
    }
}
