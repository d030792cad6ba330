using System.Globalization;
using System.Text;
using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Processing;

namespace Vigil.Core.Tests.Processing;

/// <summary>
/// BEHAVIOR_ANOMALY's forest is learnt from the stream, so a replay resumed from a checkpoint must resume the model
/// too: the same sample, the same refits, the same scores and alerts as a run that never stopped.
/// </summary>
public sealed class BehaviorModelCheckpointTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    private static PipelineOptions Options() => new()
    {
        DetectedAtFromEventTime = true,
        Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan },
        BehaviorAnomaly = new BehaviorAnomalyOptions
        {
            ExpertScore = false,
            Model = new BehaviorModelOptions { MinTrainingUsers = 20, TrainingMinLogins = 3, MinLogins = 3, SampleUsers = 25, Trees = 50 },
        },
    };

    private static byte[] Event(int id, string type, long ms, string user, string session, string agent) =>
        JsonSerializer.SerializeToUtf8Bytes(new
        {
            eventId = $"e-{id}",
            eventType = type,
            timestamp = ms.ToString(CultureInfo.InvariantCulture),
            userId = user,
            sessionId = session,
            ipAddress = "198.51.100.7",
            userAgent = agent,
        });

    /// <summary>40 users with daytime habits for six days (a login and a few searches from the laptop around their
    /// own hour), then three accounts on a night-time search spree from a phone none of them used.</summary>
    private static List<byte[]> Stream()
    {
        var random = new Random(7);
        var events = new List<(long Ms, byte[] Value)>();
        var id = 0;
        for (var day = 0; day < 6; day++)
        {
            for (var u = 0; u < 40; u++)
            {
                var user = $"user-{u}";
                var start = s_t0.ToUnixTimeMilliseconds() + (day * 86_400_000L) + ((8 + (u % 6)) * 3_600_000L) + random.Next(0, 600_000);
                var session = $"{user}-d{day}";
                events.Add((start, Event(id++, "LOGIN_SUCCESS", start, user, session, "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")));
                for (var s = 0; s < 1 + random.Next(3); s++)
                {
                    events.Add((start + 30_000 + (s * 45_000), Event(id++, "SEARCH", start + 30_000 + (s * 45_000), user, session, "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")));
                }
            }
        }
        for (var victim = 0; victim < 3; victim++)
        {
            var user = $"user-{victim * 7}";
            var start = s_t0.ToUnixTimeMilliseconds() + (6 * 86_400_000L) + (2 * 3_600_000L) + (victim * 1_800_000L);
            events.Add((start, Event(id++, "LOGIN_SUCCESS", start, user, user + "-x", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6)")));
            for (var s = 0; s < 40; s++)
            {
                events.Add((start + 10_000 + (s * 15_000), Event(id++, "SEARCH", start + 10_000 + (s * 15_000), user, user + "-x", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6)")));
            }
        }
        events.Sort((a, b) => a.Ms.CompareTo(b.Ms));
        return events.ConvertAll(e => e.Value);
    }

    private static List<string> Run(List<byte[]> messages, int cut)
    {
        var alerts = new List<Alert>();
        var pipeline = new DetectionPipeline(Options(), TimeProvider.System);
        for (var i = 0; i < messages.Count; i++)
        {
            if (i == cut)
            {
                var checkpoint = pipeline.Snapshot();
                pipeline = new DetectionPipeline(Options(), TimeProvider.System);
                Assert.Equal(Vigil.Core.Engine.CheckpointReadStatus.Ok, pipeline.Restore(checkpoint));
            }
            pipeline.Process("user-events", 0, i, null, messages[i], alerts, out _);
        }
        pipeline.Finish(alerts);
        return alerts.ConvertAll(a => Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(a)));
    }

    [Fact]
    public void Restore_MidStream_ModelResumesWithTheUninterruptedAlerts()
    {
        var messages = Stream();
        var expected = Run(messages, cut: -1);

        // The forest must be what raised them, and a refit after the cut points must have been made.
        var anomalies = expected.Where(a => a.Contains("\"BEHAVIOR_ANOMALY\"", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(anomalies);
        using (var doc = JsonDocument.Parse(anomalies[0]))
        {
            var evidence = doc.RootElement.GetProperty("evidence");
            Assert.Equal("isolation-forest", evidence.GetProperty("scorer").GetString());
            Assert.True(evidence.GetProperty("modelVersion").GetInt32() >= 3);
        }

        foreach (var cut in new[] { 100, messages.Count / 3, messages.Count / 2, messages.Count - 60 })
        {
            Assert.Equal(expected, Run(messages, cut));
        }
    }

    [Fact]
    public void ReadState_OfWriteState_SamplesRefitsAndScoresAsTheOriginal()
    {
        var options = new BehaviorModelOptions { MinTrainingUsers = 10, TrainingMinLogins = 1, SampleUsers = 12, Trees = 20, RetrainInterval = TimeSpan.FromMinutes(1) };
        var original = new BehaviorModel(options, 0.8);
        var random = new Random(3);
        var row = new float[BehaviorModel.FeatureCount];
        void Feed(BehaviorModel model, Random r, int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                for (var f = 0; f < row.Length; f++)
                {
                    row[f] = (float)r.NextDouble();
                }
                model.Observe($"u{r.Next(30)}", row, i * 20_000L, logins: 5);
            }
        }
        Feed(original, random, 0, 40);
        Assert.True(original.Version >= 1);

        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            original.WriteState(writer);
        }
        var copy = new BehaviorModel(options, 0.8);
        buffer.Position = 0;
        using (var reader = new BinaryReader(buffer, Encoding.UTF8, leaveOpen: true))
        {
            copy.ReadState(reader);
        }
        Assert.Equal(buffer.Length, buffer.Position);
        Assert.Equal(original.Version, copy.Version);
        Assert.Equal(original.SampleCount, copy.SampleCount);

        // Both go on with the same rows: the replacement choices and the refits must agree.
        Feed(original, new Random(9), 40, 200);
        Feed(copy, new Random(9), 40, 200);
        Assert.True(original.Version > 3);
        Assert.Equal(original.Version, copy.Version);
        var attribution = new double[BehaviorModel.FeatureCount];
        for (var probe = 0; probe < 20; probe++)
        {
            for (var f = 0; f < row.Length; f++)
            {
                row[f] = probe * 0.07f * (f + 1);
            }
            Assert.Equal(original.Score(row, attribution, out _, out _), copy.Score(row, attribution, out _, out _));
        }
    }

    [Fact]
    public void ReadState_UnknownFormat_ThrowsInvalidData()
    {
        var model = new BehaviorModel(new BehaviorModelOptions(), 0.8);
        using var reader = new BinaryReader(new MemoryStream([9, 0, 0, 0]));

        var error = Assert.Throws<InvalidDataException>(() => model.ReadState(reader));

        Assert.Contains("format 9", error.Message, StringComparison.Ordinal);
    }
}
