using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Vigil.Core.Alerts;
using Vigil.Core.Features;
using Vigil.Core.Processing;

namespace Vigil.Server.Bench;

/// <summary>Settings of <c>bench memory</c>.</summary>
internal sealed record MemoryBenchOptions
{
    public int Users { get; init; } = 1_000_000;

    /// <summary>Events per user: a successful login, then page views and searches, with a failed login among them.</summary>
    public int EventsPerUser { get; init; } = 4;
}

/// <summary>
/// <c>bench memory</c>: the process's resident memory with N users active at once in the full per-user pipeline (every
/// per-user and shared rule, the suppression, and the ML feature operator as serve adds it): each user logs in from
/// their own address and user agent, fails a login and browses, all within a few minutes of event time, so no state has
/// expired when memory is read.
/// </summary>
internal static class MemoryBench
{
    private static readonly string[] s_agents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ];

    public static JsonObject Run(MemoryBenchOptions options, TextWriter progress, CancellationToken ct)
    {
        var rssBefore = Rss();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var pipeline = new DetectionPipeline(new PipelineOptions
        {
            Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan },
            DetectedAtFromEventTime = true,
            ExtraPerUserOperators = () => [new UserFeaturesOperator()],
        }, TimeProvider.System);
        var alerts = new List<Alert>();
        var start = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        // All users inside five minutes of event time: shorter than every rule's idle expiry.
        var stepMs = Math.Max(1e-3, 300_000.0 / options.Users);
        var buffer = new StringBuilder(512);
        var offset = 0L;
        var elapsed = Stopwatch.StartNew();
        for (var u = 0; u < options.Users; u++)
        {
            if ((u & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
            var t = start + (long)(u * stepMs);
            var user = $"u-{u:D8}";
            var session = $"s-{u:x8}{u * 2654435761L:x8}";
            var ip = $"{10 + (u >> 24 & 0x3F)}.{(u >> 16) & 0xFF}.{(u >> 8) & 0xFF}.{u & 0xFF}";
            var agent = s_agents[u % s_agents.Length];
            for (var k = 0; k < options.EventsPerUser; k++)
            {
                var type = k switch { 0 => "LOGIN_FAILED", 1 => "LOGIN_SUCCESS", _ => k % 2 == 0 ? "PAGE_VIEW" : "SEARCH" };
                buffer.Clear();
                buffer.Append("{\"eventId\":\"e-").Append(u).Append('-').Append(k)
                    .Append("\",\"eventType\":\"").Append(type)
                    .Append("\",\"timestamp\":").Append(t + k)
                    .Append(",\"userId\":\"").Append(user)
                    .Append("\",\"username\":\"name.").Append(user)
                    .Append(k == 0 ? "\"" : $"\",\"sessionId\":\"{session}\"")
                    .Append(",\"ipAddress\":\"").Append(ip)
                    .Append("\",\"userAgent\":\"").Append(agent).Append("\"}");
                pipeline.Process("user-events", 0, offset++, user, Encoding.UTF8.GetBytes(buffer.ToString()), alerts, out _);
                alerts.Clear();
            }
            if (u > 0 && u % 250_000 == 0)
            {
                progress.WriteLine($"bench memory: {u:N0} users, RSS {Rss() / 1048576.0:F0} MiB");
            }
        }
        elapsed.Stop();
        var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        var rssAfter = Rss();
        var users = options.Users;
        var result = new JsonObject
        {
            ["bench"] = "memory",
            ["machine"] = BenchStats.Machine(),
            ["users"] = users,
            ["events"] = offset,
            ["seconds"] = BenchStats.Round(elapsed.Elapsed.TotalSeconds, 1),
            ["trackedKeys"] = pipeline.TrackedKeys,
            ["operators"] = new JsonArray([.. pipeline.OperatorNames.Select(n => (JsonNode)n)]),
            ["rssBytes"] = rssAfter,
            ["rssMiB"] = BenchStats.Round(rssAfter / 1048576.0, 0),
            ["rssBeforeMiB"] = BenchStats.Round(rssBefore / 1048576.0, 0),
            ["heapBytesAfterFullGc"] = heapAfter,
            ["heapBytesPerUser"] = BenchStats.Round((heapAfter - heapBefore) / (double)users, 0),
            ["ruleStateBytesEstimate"] = pipeline.StateBytes,
            ["gcServer"] = System.Runtime.GCSettings.IsServerGC,
            ["goals"] = new JsonObject
            {
                ["rssBytes"] = new JsonObject { ["goal"] = 1.5e9, ["measured"] = rssAfter, ["met"] = rssAfter <= 1.5e9 },
            },
        };
        GC.KeepAlive(pipeline);
        return result;
    }

    private static long Rss()
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64;
    }
}
