using System.Text;
using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Processing;
using Vigil.Core.Rules;
using Vigil.Core.Tests.Engine;

namespace Vigil.Core.Tests.Processing;

/// <summary>
/// The shared stage's promise: its alerts do not depend on how the source partitions' events interleave on the way to
/// it, nor on a hand-over (checkpoint, restore, events sent again) in the middle.
/// </summary>
public sealed class SharedStageTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    // Alerts stamped by a still clock: the stream's own time would differ when the stage sees fewer events (filtered).
    private static readonly ManualTimeProvider s_clock = new();

    private static PipelineOptions Options() => new();

    /// <summary>
    /// Failed logins from a few IPs against many accounts (brute force by IP, spraying, stuffing), with successes and
    /// event times that step back by up to 4 s; split over <paramref name="partitions"/> partitions by user, each in
    /// its offset order.
    /// </summary>
    private static List<(long Offset, UserEvent Event)>[] RandomPartitions(Random random, int partitions, int length)
    {
        var decoder = new EventDecoder(new EventDecoderOptions(), TimeProvider.System);
        var result = new List<(long, UserEvent)>[partitions];
        for (var p = 0; p < partitions; p++)
        {
            result[p] = [];
        }
        var clock = 0L;
        for (var i = 0; i < length; i++)
        {
            clock += random.Next(0, 3) * 500;
            var user = random.Next(40);
            var json = JsonSerializer.SerializeToUtf8Bytes(new
            {
                eventId = $"e-{i}",
                eventType = random.Next(8) switch { 0 => "LOGIN_SUCCESS", < 4 => "SEARCH", _ => "LOGIN_FAILED" },
                timestamp = s_t0.ToUnixTimeMilliseconds() + clock - random.Next(0, 5) * 1000,
                userId = $"u-{user}",
                ipAddress = $"198.51.100.{random.Next(1, random.Next(2) == 0 ? 3 : 9)}",
                userAgent = random.Next(3) == 0 ? "python-requests/2.31.0" : "Mozilla/5.0",
            });
            Assert.True(decoder.TryDecode(json, out var evt, out _));
            var partition = user % partitions;
            result[partition].Add((result[partition].Count, evt));
        }
        return result;
    }

    /// <summary>
    /// Feeds the partitions interleaved at random. <paramref name="filtered"/>: as serve forwards, only the types the
    /// shared rules read, the others as progress (the partition's offset and clock).
    /// </summary>
    private static List<string> Run(List<(long Offset, UserEvent Event)>[] partitions, Random random, bool handOvers, bool filtered = false)
    {
        var options = Options();
        var read = SharedStage.EventTypesRead(options, null)!;
        var stage = new SharedStage(options, s_clock);
        var clocks = new long[partitions.Length];
        Array.Fill(clocks, long.MinValue);
        stage.ExpectPartitions(partitions.Length);
        var alerts = new List<Alert>();
        var next = new int[partitions.Length];
        var left = 0;
        foreach (var p in partitions)
        {
            left += p.Count;
        }
        while (left > 0)
        {
            var p = random.Next(partitions.Length);
            if (next[p] == partitions[p].Count)
            {
                continue;
            }
            var (offset, evt) = partitions[p][next[p]++];
            left--;
            clocks[p] = Math.Max(clocks[p], evt.TimestampMs);
            if (filtered && !read.Contains(evt.Type))
            {
                stage.Advance(p, offset, clocks[p], rebase: false, alerts);
            }
            else
            {
                stage.Add(p, offset, clocks[p], evt, rebase: false, alerts);
            }
            if (handOvers && random.Next(60) == 0)
            {
                // A new owner: restored from the checkpoint; the source partitions' new owners send again what the
                // last one sent after its own checkpoint.
                var snapshot = stage.Snapshot(lastOffset: 0);
                stage = new SharedStage(options, s_clock);
                Assert.Equal(CheckpointReadStatus.Ok, stage.Restore(snapshot));
                for (var q = 0; q < partitions.Length; q++)
                {
                    for (var k = Math.Max(0, next[q] - random.Next(0, 5)); k < next[q]; k++)
                    {
                        Assert.Equal(ReorderStatus.Duplicate, stage.Add(q, partitions[q][k].Offset, partitions[q][k].Event, rebase: false, alerts));
                    }
                }
            }
        }
        stage.Finish(alerts);
        return alerts.ConvertAll(a => Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(a)));
    }

    [Fact]
    public void Add_RandomInterleavingsHandOversAndFiltering_GiveTheAlertsOfTheMergedStream()
    {
        var rules = new HashSet<string>(StringComparer.Ordinal);
        var total = 0;
        for (var seed = 1; seed <= 25; seed++)
        {
            var random = new Random(seed);
            var partitions = RandomPartitions(random, 1 + seed % 8, random.Next(200, 600));

            // The truth: the shared rules over all events merged by (partition clock, partition, offset), in one pipeline.
            var merged = new List<(long Ts, int Partition, long Offset, UserEvent Event)>();
            for (var p = 0; p < partitions.Length; p++)
            {
                // An event's place: its partition's clock (the latest event time the partition had sent up to it).
                var clock = long.MinValue;
                foreach (var (offset, evt) in partitions[p])
                {
                    clock = Math.Max(clock, evt.TimestampMs);
                    merged.Add((clock, p, offset, evt));
                }
            }
            merged.Sort((x, y) => new ReorderKey(x.Ts, x.Partition, x.Offset).CompareTo(new ReorderKey(y.Ts, y.Partition, y.Offset)));
            var reference = new DetectionPipeline(Options() with { Scope = DetectionScope.Shared }, s_clock);
            var expectedAlerts = new List<Alert>();
            for (var i = 0; i < merged.Count; i++)
            {
                reference.ProcessDecoded(0, i, merged[i].Event, expectedAlerts);
            }
            reference.Finish(expectedAlerts);
            var expected = expectedAlerts.ConvertAll(a => Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(a)));
            foreach (var a in expectedAlerts)
            {
                rules.Add(a.Rule);
            }
            total += expected.Count;

            for (var run = 0; run < 3; run++)
            {
                Assert.Equal(expected, Run(partitions, new Random(seed * 10 + run), handOvers: false));
            }
            Assert.Equal(expected, Run(partitions, new Random(seed * 10 + 9), handOvers: true));
            Assert.Equal(expected, Run(partitions, new Random(seed * 10 + 8), handOvers: true, filtered: true));
        }
        // The streams must exercise the shared rules, or the equality above proves nothing.
        Assert.True(total > 50, $"only {total} alerts");
        Assert.Contains("BRUTE_FORCE_IP", rules);
        Assert.Contains("PASSWORD_SPRAY", rules);
    }

    [Fact]
    public void Restore_APipelinesOrACorruptCheckpoint_IsRefusedAndLeavesTheStageEmpty()
    {
        var pipeline = new DetectionPipeline(Options() with { Scope = DetectionScope.Shared }, TimeProvider.System);
        var stage = new SharedStage(Options(), TimeProvider.System);
        Assert.Equal(CheckpointReadStatus.Malformed, stage.Restore(pipeline.Snapshot()));

        var good = new SharedStage(Options(), TimeProvider.System);
        var decoder = new EventDecoder(new EventDecoderOptions(), TimeProvider.System);
        Assert.True(decoder.TryDecode("""{"eventId":"e1","eventType":"LOGIN_FAILED","timestamp":1767571200000,"userId":"u1","ipAddress":"198.51.100.1"}"""u8, out var evt, out _));
        good.ExpectPartitions(2);
        good.Add(0, 0, evt, rebase: false, []);
        var bytes = good.Snapshot(lastOffset: 41);
        Assert.Equal(CheckpointReadStatus.Ok, CheckpointReader.TryRead(bytes, out var header));
        Assert.Equal(41, header!.SourceOffsets[0].Offset);
        bytes[bytes.Length / 2] ^= 0xFF;
        Assert.Equal(CheckpointReadStatus.ChecksumMismatch, stage.Restore(bytes));
        Assert.Equal(0, stage.Buffered);
        Assert.Equal(1, good.Buffered);
    }

    [Fact]
    public void EventTypesRead_BuiltInRulesAndTypedDeclarativeRules_GiveTheirTypes_UntypedGivesAll()
    {
        const string header = "version: 1\nrules:\n";
        const string perUser = """
              - id: searches
                name: MANY_SEARCHES
                type: event_count
                filter: { eventType: SEARCH }
                group-by: [userId]
                timespan: 1m
                condition: { gte: 100 }
                severity: LOW
                summary: "{count}"

            """;
        const string byIp = """
              - id: resets
                name: RESETS_FROM_IP
                type: event_count
                filter: { eventType: PASSWORD_RESET_REQUESTED }
                group-by: [ipAddress]
                timespan: 1m
                condition: { gte: 10 }
                severity: LOW
                summary: "{count}"

            """;
        const string untyped = """
              - id: scripted
                name: SCRIPTED_IP
                type: event_count
                filter: { userAgent|contains: [python, curl] }
                group-by: [ipAddress]
                timespan: 1m
                condition: { gte: 100 }
                severity: LOW
                summary: "{count}"

            """;
        RuleSet Parse(string rules)
        {
            var result = RuleFileParser.Parse(header + rules);
            Assert.True(result.Ok, result.Message());
            return result.Rules!;
        }

        Assert.Equal([EventType.LoginSuccess, EventType.LoginFailed], SharedStage.EventTypesRead(new PipelineOptions(), null)!.Order());
        // A rule grouped by user runs per partition: it adds nothing; one grouped by IP adds what its filter admits.
        Assert.Equal([EventType.LoginSuccess, EventType.LoginFailed, EventType.PasswordResetRequested],
            SharedStage.EventTypesRead(new PipelineOptions(), Parse(perUser + byIp))!.Order());
        Assert.Null(SharedStage.EventTypesRead(new PipelineOptions(), Parse(byIp + untyped)));
        var none = new PipelineOptions
        {
            BruteForceIp = new BruteForceIpOptions { Enabled = false },
            PasswordSpray = new PasswordSprayOptions { Enabled = false },
            CredentialStuffing = new CredentialStuffingOptions { Enabled = false },
        };
        Assert.Empty(SharedStage.EventTypesRead(none, null)!);
    }
}
