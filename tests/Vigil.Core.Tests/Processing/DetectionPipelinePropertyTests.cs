using System.Text;
using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Processing;

namespace Vigil.Core.Tests.Processing;

/// <summary>
/// The pipeline's promise: for the same input, the same alerts, however the run is split into batches, checkpointed,
/// crashed and restored. Random streams with disorder, bursts and bad lines; many seeds.
/// </summary>
public sealed class DetectionPipelinePropertyTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    private static PipelineOptions Options() => new()
    {
        DetectedAtFromEventTime = true,
        Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan, AllowedLateness = TimeSpan.FromSeconds(30) },
    };

    /// <summary>A stream of a few users and IPs with failure bursts, successes, security changes, password-reset
    /// notifications, disorder up to 40 s (so some events are late) and garbage: every rule but the geo ones gets
    /// material.</summary>
    private static List<(string Topic, byte[] Value)> RandomStream(Random random, int length)
    {
        var messages = new List<(string, byte[])>(length);
        var clock = 0L;
        for (var i = 0; i < length; i++)
        {
            clock += random.Next(0, 4000);
            if (random.Next(50) == 0)
            {
                messages.Add(("user-events", Encoding.UTF8.GetBytes(random.Next(2) == 0 ? "{\"eventId\":" : "not json")));
                continue;
            }
            var disorder = random.Next(10) == 0 ? random.Next(0, 40_000) : 0;
            var user = "u-" + random.Next(random.Next(3) == 0 ? 20 : 6);
            var timestamp = (s_t0.ToUnixTimeMilliseconds() + clock - disorder).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (random.Next(12) == 0)
            {
                messages.Add(("notifications", JsonSerializer.SerializeToUtf8Bytes(new
                {
                    notificationId = $"n-{i}",
                    userId = user,
                    channel = "EMAIL",
                    kind = "PASSWORD_RESET",
                    timestamp,
                })));
                continue;
            }
            var type = random.Next(20) switch
            {
                < 11 => "LOGIN_FAILED",
                < 15 => "LOGIN_SUCCESS",
                < 16 => "EMAIL_CHANGED",
                < 17 => "SEARCH",
                _ => "PAGE_VIEW",
            };
            messages.Add(("user-events", JsonSerializer.SerializeToUtf8Bytes(new
            {
                eventId = $"e-{i}",
                eventType = type,
                timestamp,
                userId = user,
                sessionId = "s-" + user,
                ipAddress = $"198.51.100.{random.Next(1, random.Next(2) == 0 ? 4 : 12)}",
                userAgent = random.Next(4) == 0 ? "python-requests/2.31.0" : "Mozilla/5.0",
            })));
        }
        return messages;
    }

    private static List<string> Uninterrupted(List<(string Topic, byte[] Value)> messages)
    {
        var pipeline = new DetectionPipeline(Options(), TimeProvider.System);
        var alerts = new List<Alert>();
        for (var i = 0; i < messages.Count; i++)
        {
            pipeline.Process(messages[i].Topic, 0, i, null, messages[i].Value, alerts, out _);
        }
        pipeline.Finish(alerts);
        return alerts.Select(a => Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(a))).ToList();
    }

    /// <summary>An alert version's identity: the id, and the occurrence count suppression puts on its updates.</summary>
    private static string VersionKey(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        return root.GetProperty("alertId").GetString() + "#" + root.GetProperty("evidence").GetProperty("occurrences").GetInt32();
    }

    [Fact]
    public void Process_RandomCheckpointsCrashesAndTicks_GivesTheUninterruptedAlerts()
    {
        var totalAlerts = 0;
        var updates = 0;
        var rules = new HashSet<string>(StringComparer.Ordinal);
        for (var seed = 1; seed <= 150; seed++)
        {
            var random = new Random(seed);
            var messages = RandomStream(random, random.Next(50, 400));
            var expected = Uninterrupted(messages);
            totalAlerts += expected.Count;

            // At-least-once with an idempotent sink: emitted alert versions are kept by (id, occurrences) — an update from
            // suppression reuses its alert's id with a higher count; after a crash the pipeline is rebuilt from the last
            // checkpoint and the source rewinds to its resume offset.
            var sink = new Dictionary<string, string>(StringComparer.Ordinal);
            var order = new List<string>();
            byte[]? checkpoint = null;
            var pipeline = new DetectionPipeline(Options(), TimeProvider.System);
            var alerts = new List<Alert>();
            var i = 0;
            var crashes = 0;
            while (i < messages.Count)
            {
                pipeline.Process(messages[i].Topic, 0, i, null, messages[i].Value, alerts, out _);
                i++;
                if (random.Next(7) == 0)
                {
                    pipeline.Tick(alerts);
                }
                foreach (var a in alerts)
                {
                    var json = Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(a));
                    var key = VersionKey(json);
                    if (sink.TryAdd(key, json))
                    {
                        order.Add(key);
                    }
                    else
                    {
                        Assert.Equal(sink[key], json);
                    }
                }
                alerts.Clear();
                if (random.Next(15) == 0)
                {
                    checkpoint = pipeline.Snapshot();
                }
                if (random.Next(25) == 0 && crashes < 5)
                {
                    crashes++;
                    pipeline = new DetectionPipeline(Options(), TimeProvider.System);
                    if (checkpoint is not null)
                    {
                        Assert.Equal(CheckpointReadStatus.Ok, pipeline.Restore(checkpoint));
                    }
                    // Rewind to where the checkpoint says; a source rewinding a little too far is harmless.
                    i = Math.Max(0, (int)pipeline.ResumeOffset - random.Next(0, 3));
                }
            }
            pipeline.Finish(alerts);
            foreach (var a in alerts)
            {
                var json = Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(a));
                if (sink.TryAdd(VersionKey(json), json))
                {
                    order.Add(VersionKey(json));
                }
            }

            Assert.Equal(expected.Count, sink.Count);
            Assert.Equal(expected, expected.Select(e => sink[VersionKey(e)]).ToList());
            foreach (var e in expected)
            {
                using var doc = JsonDocument.Parse(e);
                rules.Add(doc.RootElement.GetProperty("rule").GetString()!);
                updates += VersionKey(e).EndsWith("#1", StringComparison.Ordinal) ? 0 : 1;
            }
        }
        // The generator must produce attacks, or the property says nothing.
        Assert.True(totalAlerts > 100, $"only {totalAlerts} alerts over all seeds");
        Assert.True(updates > 20, $"only {updates} suppression updates over all seeds");
        Assert.Superset(new HashSet<string> { "BRUTE_FORCE", "BRUTE_FORCE_IP", "ACCOUNT_TAKEOVER", "RESET_BOMBING" }, rules);
    }

    [Fact]
    public void Process_EventFarBehindTheWatermark_IsDeadLetteredAsLate()
    {
        var pipeline = new DetectionPipeline(Options(), TimeProvider.System);
        var alerts = new List<Alert>();
        byte[] At(long ms, string id) => JsonSerializer.SerializeToUtf8Bytes(new
        {
            eventId = id, eventType = "LOGIN_FAILED", timestamp = s_t0.ToUnixTimeMilliseconds() + ms, userId = "u",
        });

        pipeline.Process("user-events", 0, 0, null, At(600_000, "now"), alerts, out var first);
        var outcome = pipeline.Process("user-events", 0, 1, "u", At(0, "old"), alerts, out var late);

        Assert.Null(first);
        Assert.Equal(ProcessOutcome.Late, outcome);
        Assert.NotNull(late);
        Assert.Equal(DetectionPipeline.LateEventReason, late.Reason);
        Assert.Equal(1, late.Offset);
        Assert.Equal(1, pipeline.LateEvents);
    }

    [Fact]
    public void Restore_CorruptCheckpoint_IsRefusedAndThePipelineStaysUsable()
    {
        var pipeline = new DetectionPipeline(Options(), TimeProvider.System);
        var alerts = new List<Alert>();
        pipeline.Process("user-events", 0, 0, null, "{\"eventId\":\"a\",\"eventType\":\"LOGIN_FAILED\",\"timestamp\":1767571200000,\"userId\":\"u\"}"u8, alerts, out _);
        var checkpoint = pipeline.Snapshot();
        checkpoint[checkpoint.Length / 2] ^= 0xFF;

        var fresh = new DetectionPipeline(Options(), TimeProvider.System);

        Assert.NotEqual(CheckpointReadStatus.Ok, fresh.Restore(checkpoint));
        Assert.Equal(0, fresh.ResumeOffset);
    }
}
