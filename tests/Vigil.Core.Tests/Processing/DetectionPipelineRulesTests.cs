using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Processing;

namespace Vigil.Core.Tests.Processing;

public sealed class DetectionPipelineRulesTests
{
    private static readonly long s_t0 = new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static PipelineOptions Options(DetectionScope scope = DetectionScope.All, int inputs = 1) => new()
    {
        Scope = scope,
        Inputs = inputs,
        DetectedAtFromEventTime = true,
        Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan },
    };

    private static byte[] Failure(int i, string user, string ip) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        eventId = $"e-{i}", eventType = "LOGIN_FAILED", timestamp = s_t0 + (i * 1000), userId = user, ipAddress = ip,
    });

    [Fact]
    public void Constructor_Scopes_SplitTheRulesBetweenPerUserAndShared()
    {
        var perUser = new DetectionPipeline(Options(DetectionScope.PerUser), TimeProvider.System).OperatorNames;
        var shared = new DetectionPipeline(Options(DetectionScope.Shared), TimeProvider.System).OperatorNames;

        Assert.Contains(RuleNames.BruteForce, perUser);
        Assert.Contains(RuleNames.ResetBombing, perUser);
        Assert.DoesNotContain(RuleNames.PasswordSpray, perUser);
        Assert.Contains(RuleNames.BruteForceIp, shared);
        Assert.Contains(RuleNames.CredentialStuffing, shared);
        Assert.DoesNotContain(RuleNames.BruteForce, shared);
    }

    [Fact]
    public void Process_PasswordResetFlood_OnTheNotificationsTopic_RaisesResetBombing()
    {
        var pipeline = new DetectionPipeline(Options(), TimeProvider.System);
        var alerts = new List<Alert>();
        ProcessOutcome outcome = default;
        for (var i = 0; i < 5; i++)
        {
            var value = JsonSerializer.SerializeToUtf8Bytes(new
            {
                notificationId = $"n-{i}", userId = "u-1", channel = "SMS", kind = "PASSWORD_RESET", timestamp = s_t0 + (i * 30_000),
            });
            outcome = pipeline.Process("notifications", 0, i, "u-1", value, alerts, out _);
        }

        Assert.Equal(ProcessOutcome.Notification, outcome);
        Assert.Equal(5, pipeline.Notifications);
        Assert.Equal(RuleNames.ResetBombing, Assert.Single(alerts).Rule);
    }

    [Fact]
    public void Process_SharedPipelineWithTwoInputs_SeesOneIpAcrossPartitions()
    {
        // Two partitions each see four failures from one IP: neither alone reaches eight; the shared pipeline does.
        var shared = new DetectionPipeline(Options(DetectionScope.Shared, inputs: 2), TimeProvider.System);
        var alerts = new List<Alert>();
        for (var i = 0; i < 8; i++)
        {
            shared.Process("user-events", i % 2, i / 2, null, Failure(i, $"u-{i % 2}", "192.0.2.9"), alerts, out _);
        }

        Assert.Equal(RuleNames.BruteForceIp, Assert.Single(alerts).Rule);
        Assert.Equal(4, shared.ResumeOffsetOf(0));
        Assert.Equal(4, shared.ResumeOffsetOf(1));
    }

    [Fact]
    public void ProcessDecoded_EventsHandedOverByPerPartitionPipelines_GiveTheSameAlertsAsTheBytes()
    {
        // As serve runs it: each partition's pipeline decodes; the shared one takes LastEvent without decoding again.
        var partitions = new[] { new DetectionPipeline(Options(DetectionScope.PerUser), TimeProvider.System),
            new DetectionPipeline(Options(DetectionScope.PerUser), TimeProvider.System) };
        var handedOver = new DetectionPipeline(Options(DetectionScope.Shared, inputs: 2), TimeProvider.System);
        var fromBytes = new DetectionPipeline(Options(DetectionScope.Shared, inputs: 2), TimeProvider.System);
        var viaHandOver = new List<Alert>();
        var viaBytes = new List<Alert>();
        var ignored = new List<Alert>();
        for (var i = 0; i < 8; i++)
        {
            var value = Failure(i, $"u-{i % 2}", "192.0.2.9");
            var partition = partitions[i % 2];
            partition.Process("user-events", i % 2, i / 2, null, value, ignored, out _);
            handedOver.ProcessDecoded(i % 2, i / 2, partition.LastEvent!, viaHandOver);
            fromBytes.Process("user-events", i % 2, i / 2, null, value, viaBytes, out _);
        }
        partitions[0].Process("user-events", 0, 4, null, "not json"u8, ignored, out var deadLetter);

        Assert.NotNull(deadLetter);
        Assert.Null(partitions[0].LastEvent);
        Assert.Equal(RuleNames.BruteForceIp, Assert.Single(viaHandOver).Rule);
        Assert.Equal(viaBytes.Select(a => AlertJson.ToUtf8Bytes(a)), viaHandOver.Select(a => AlertJson.ToUtf8Bytes(a)));
        Assert.Equal(8, handedOver.Events);
    }

    /// <summary>The key given as UTF-8 bytes is made a string only for a dead letter, and is the same one.</summary>
    [Fact]
    public void Process_KeyAsBytes_DeadLetterCarriesItsText_EventsUnchanged()
    {
        var asText = new DetectionPipeline(Options(DetectionScope.PerUser), TimeProvider.System);
        var asBytes = new DetectionPipeline(Options(DetectionScope.PerUser), TimeProvider.System);
        var textAlerts = new List<Alert>();
        var bytesAlerts = new List<Alert>();
        for (var i = 0; i < 8; i++)
        {
            var value = Failure(i, "u-1", "192.0.2.9");
            Assert.Equal(asText.Process("user-events", 0, i, "u-1", value, textAlerts, out var d1),
                asBytes.ProcessWithKeyBytes("user-events", 0, i, "u-1"u8.ToArray(), value, bytesAlerts, out var d2));
            Assert.Null(d1);
            Assert.Null(d2);
        }

        Assert.Equal(ProcessOutcome.DeadLetter, asBytes.ProcessWithKeyBytes("user-events", 0, 8, "ключ-7"u8.ToArray(), "not json"u8, bytesAlerts, out var rejected));
        asBytes.ProcessWithKeyBytes("user-events", 0, 9, null, "{"u8, bytesAlerts, out var keyless);

        Assert.Equal("ключ-7", rejected!.Key);
        Assert.Null(keyless!.Key);
        Assert.Equal(textAlerts.Select(a => AlertJson.ToUtf8Bytes(a)), bytesAlerts.Select(a => AlertJson.ToUtf8Bytes(a)));
        Assert.NotEmpty(bytesAlerts);
    }

    [Fact]
    public void Process_RepeatedBursts_AreFoldedIntoOneOpenAlert()
    {
        var pipeline = new DetectionPipeline(Options(DetectionScope.PerUser), TimeProvider.System);
        var alerts = new List<Alert>();
        // Three bursts of five failures, five minutes apart: three crossings of the BRUTE_FORCE threshold.
        var offset = 0;
        for (var burst = 0; burst < 3; burst++)
        {
            for (var i = 0; i < 5; i++)
            {
                var value = JsonSerializer.SerializeToUtf8Bytes(new
                {
                    eventId = $"e-{burst}-{i}", eventType = "LOGIN_FAILED", timestamp = s_t0 + (burst * 300_000) + (i * 1000), userId = "u-1",
                });
                pipeline.Process("user-events", 0, offset++, null, value, alerts, out _);
            }
        }

        Assert.Equal(3, alerts.Count);
        Assert.Single(alerts.Select(a => a.AlertId).Distinct());
        Assert.Equal(3, alerts[^1].Evidence[Evidence.Occurrences]);
        Assert.Equal(2, pipeline.SuppressedAlerts);
    }
}
