using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Events;

namespace Vigil.Storage.Tests;

/// <summary>The contract every <see cref="IVigilStore"/> meets; run against both real databases.</summary>
public abstract class VigilStoreTests : IAsyncLifetime
{
    internal static readonly DateTimeOffset s_t0 = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    protected IVigilStore Store { get; private set; } = null!;

    protected abstract Task<IVigilStore> CreateStoreAsync();

    public async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        await Store.MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await Store.DisposeAsync();

    internal static Alert MakeAlert(string trigger, Severity severity = Severity.Medium, string user = "u-1",
        string rule = "BRUTE_FORCE", int minute = 0, string? ip = "203.0.113.7") => new()
    {
        AlertId = Alert.MakeId(rule, user, trigger),
        Rule = rule,
        Severity = severity,
        UserId = user,
        IpAddress = ip,
        EventTime = s_t0.AddMinutes(minute),
        DetectedAt = s_t0.AddMinutes(minute).AddMilliseconds(40),
        WindowStart = s_t0.AddMinutes(minute).AddSeconds(-90),
        WindowEnd = s_t0.AddMinutes(minute),
        Score = 0.75,
        Summary = "12 failed logins in 90 s from 3 IPs",
        Evidence = new Dictionary<string, object?>
        {
            ["eventIds"] = new List<string> { "e-1", "e-2" },
            ["failures"] = 12,
        },
    };

    [Fact]
    public async Task SyncAsync_AfterWrites_CompletesAndKeepsThem()
    {
        await Store.InsertAlertsAsync([MakeAlert("d-1")], CancellationToken.None);
        await Store.InsertDeadLettersAsync([DeadLetter.Create("user-events", 0, 7, "u-1", "{\"a\":"u8.ToArray(), "TRUNCATED_JSON", "ends mid-value", s_t0)],
            CancellationToken.None);

        await Store.SyncAsync(CancellationToken.None);

        Assert.NotNull(await Store.GetAlertAsync(MakeAlert("d-1").AlertId, CancellationToken.None));
        Assert.Equal(1, await Store.CountDeadLettersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task MigrateAsync_RunTwice_IsIdempotent()
    {
        await Store.MigrateAsync(CancellationToken.None);
        Assert.True(await Store.PingAsync(CancellationToken.None));
    }

    [Fact]
    public async Task InsertAlertsAsync_RoundTrip_KeepsEveryField()
    {
        var alert = MakeAlert("e-42");
        Assert.Equal(1, await Store.InsertAlertsAsync([alert], CancellationToken.None));

        var read = await Store.GetAlertAsync(alert.AlertId, CancellationToken.None);

        Assert.NotNull(read);
        Assert.Equal(alert.AlertId, read.AlertId);
        Assert.Equal(alert.Rule, read.Rule);
        Assert.Equal(alert.Severity, read.Severity);
        Assert.Equal(alert.UserId, read.UserId);
        Assert.Equal(alert.IpAddress, read.IpAddress);
        Assert.Equal(alert.EventTime, read.EventTime);
        Assert.Equal(alert.DetectedAt, read.DetectedAt);
        Assert.Equal(alert.WindowStart, read.WindowStart);
        Assert.Equal(alert.WindowEnd, read.WindowEnd);
        Assert.Equal(alert.Score, read.Score);
        Assert.Equal(alert.Summary, read.Summary);
        Assert.Equal(AlertStatus.Open, read.Status);
        var ids = Assert.IsType<JsonElement>(read.Evidence["eventIds"]);
        Assert.Equal(["e-1", "e-2"], ids.EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(12, Assert.IsType<JsonElement>(read.Evidence["failures"]).GetInt32());
    }

    [Fact]
    public async Task InsertAlertsAsync_SameIdTwice_StoresOnce()
    {
        var alert = MakeAlert("e-1");
        Assert.Equal(1, await Store.InsertAlertsAsync([alert], CancellationToken.None));
        Assert.Equal(0, await Store.InsertAlertsAsync([alert, alert with { Summary = "changed" }], CancellationToken.None));

        var all = await Store.QueryAlertsAsync(new AlertQuery(), CancellationToken.None);

        var only = Assert.Single(all);
        Assert.Equal("12 failed logins in 90 s from 3 IPs", only.Summary);
    }

    [Fact]
    public async Task InsertAlertsAsync_SuppressionUpdate_AppliesOnlyAHigherOccurrenceCount()
    {
        var first = MakeAlert("s1") with { Evidence = new Dictionary<string, object?> { ["occurrences"] = 1, ["eventIds"] = new List<string> { "e-1" } } };
        await Store.InsertAlertsAsync([first], CancellationToken.None);
        await Store.ChangeAlertStatusAsync(first.AlertId, AlertStatus.Acknowledged, "ana", null, s_t0, CancellationToken.None);
        var third = first with
        {
            Summary = "seen 3 times",
            WindowEnd = s_t0.AddHours(1),
            Evidence = new Dictionary<string, object?> { ["occurrences"] = 3, ["eventIds"] = new List<string> { "e-3" } },
        };
        var second = first with { Summary = "seen 2 times", Evidence = new Dictionary<string, object?> { ["occurrences"] = 2 } };

        Assert.InRange(await Store.InsertAlertsAsync([second, third], CancellationToken.None), 1, 2);
        Assert.Equal(0, await Store.InsertAlertsAsync([second], CancellationToken.None));
        var stored = await Store.GetAlertAsync(first.AlertId, CancellationToken.None);

        Assert.NotNull(stored);
        Assert.Equal("seen 3 times", stored.Summary);
        Assert.Equal(s_t0.AddHours(1), stored.WindowEnd);
        Assert.Equal(3, ((JsonElement)stored.Evidence["occurrences"]!).GetInt32());
        Assert.Equal(AlertStatus.Acknowledged, stored.Status);
    }

    [Fact]
    public async Task InsertAlertsAsync_NullOptionalFields_RoundTrip()
    {
        var alert = MakeAlert("e-9", ip: null) with { WindowStart = null, WindowEnd = null };
        await Store.InsertAlertsAsync([alert], CancellationToken.None);

        var read = await Store.GetAlertAsync(alert.AlertId, CancellationToken.None);

        Assert.NotNull(read);
        Assert.Null(read.IpAddress);
        Assert.Null(read.WindowStart);
        Assert.Null(read.WindowEnd);
    }

    [Fact]
    public async Task QueryAlertsAsync_Filters_ReturnOnlyMatches()
    {
        await Store.InsertAlertsAsync(
        [
            MakeAlert("a", Severity.Medium, "u-1", "BRUTE_FORCE", 0),
            MakeAlert("b", Severity.High, "u-1", "BRUTE_FORCE", 1),
            MakeAlert("c", Severity.Critical, "u-2", "ACCOUNT_TAKEOVER", 2, "198.51.100.1"),
            MakeAlert("d", Severity.Low, "u-3", "IMPOSSIBLE_TRAVEL", 3),
        ], CancellationToken.None);

        var high = await Store.QueryAlertsAsync(new AlertQuery { Severity = Severity.High }, CancellationToken.None);
        var byUser = await Store.QueryAlertsAsync(new AlertQuery { UserId = "u-1" }, CancellationToken.None);
        var byRule = await Store.QueryAlertsAsync(new AlertQuery { Rule = "ACCOUNT_TAKEOVER" }, CancellationToken.None);
        var byIp = await Store.QueryAlertsAsync(new AlertQuery { IpAddress = "198.51.100.1" }, CancellationToken.None);
        var byTime = await Store.QueryAlertsAsync(new AlertQuery { From = s_t0.AddMinutes(1), To = s_t0.AddMinutes(3) }, CancellationToken.None);
        var open = await Store.QueryAlertsAsync(new AlertQuery { Status = AlertStatus.Open }, CancellationToken.None);
        var resolved = await Store.QueryAlertsAsync(new AlertQuery { Status = AlertStatus.Resolved }, CancellationToken.None);

        Assert.Equal(Severity.High, Assert.Single(high).Severity);
        Assert.Equal(2, byUser.Count);
        Assert.Equal("u-2", Assert.Single(byRule).UserId);
        Assert.Equal("u-2", Assert.Single(byIp).UserId);
        Assert.Equal([Severity.Critical, Severity.High], byTime.Select(a => a.Severity));
        Assert.Equal(4, open.Count);
        Assert.Empty(resolved);
    }

    [Fact]
    public async Task QueryAlertsAsync_PagingAndOrder_AreStable()
    {
        var alerts = Enumerable.Range(0, 25).Select(i => MakeAlert($"t{i}", minute: i)).ToList();
        await Store.InsertAlertsAsync(alerts, CancellationToken.None);

        var page1 = await Store.QueryAlertsAsync(new AlertQuery { Limit = 10 }, CancellationToken.None);
        var page3 = await Store.QueryAlertsAsync(new AlertQuery { Limit = 10, Offset = 20 }, CancellationToken.None);
        var oldest = await Store.QueryAlertsAsync(new AlertQuery { Limit = 1, Descending = false }, CancellationToken.None);

        Assert.Equal(10, page1.Count);
        Assert.Equal(s_t0.AddMinutes(24), page1[0].EventTime);
        Assert.Equal(5, page3.Count);
        Assert.Equal(s_t0, page3[^1].EventTime);
        Assert.Equal(s_t0, Assert.Single(oldest).EventTime);
    }

    [Fact]
    public async Task QueryAlertsAsync_InjectionInFilterValue_IsTreatedAsData()
    {
        await Store.InsertAlertsAsync([MakeAlert("x")], CancellationToken.None);

        var result = await Store.QueryAlertsAsync(new AlertQuery { UserId = "u-1' OR '1'='1" }, CancellationToken.None);

        Assert.Empty(result);
        Assert.Single(await Store.QueryAlertsAsync(new AlertQuery(), CancellationToken.None));
    }

    [Fact]
    public async Task CountAlertsBySeverityAsync_CountsEachSeverity()
    {
        await Store.InsertAlertsAsync(
        [
            MakeAlert("1", Severity.Medium), MakeAlert("2", Severity.Medium), MakeAlert("3", Severity.High),
            MakeAlert("4", Severity.Critical),
        ], CancellationToken.None);

        var counts = await Store.CountAlertsBySeverityAsync(CancellationToken.None);

        Assert.Equal(new SeverityCounts(0, 2, 1, 1), counts);
        Assert.Equal(4, counts.Total);
    }

    [Fact]
    public async Task InsertDeadLettersAsync_SameSourceOffsetTwice_StoresOnce()
    {
        var raw = "{\"eventId\":"u8.ToArray();
        var letter = DeadLetter.Create("user-events", 3, 1234, "u-1", raw, "TRUNCATED_JSON", "ends mid-value", s_t0);
        var fromHttp = DeadLetter.Create("http", -1, -1, null, raw, "TRUNCATED_JSON", "ends mid-value", s_t0.AddSeconds(1));

        Assert.Equal(1, await Store.InsertDeadLettersAsync([letter], CancellationToken.None));
        Assert.Equal(0, await Store.InsertDeadLettersAsync([letter], CancellationToken.None));
        // Sources without offsets cannot be de-duplicated, so each one is kept.
        Assert.Equal(2, await Store.InsertDeadLettersAsync([fromHttp, fromHttp], CancellationToken.None));

        Assert.Equal(3, await Store.CountDeadLettersAsync(CancellationToken.None));
        var recent = await Store.RecentDeadLettersAsync(10, CancellationToken.None);
        Assert.Equal(3, recent.Count);
        var stored = recent.Single(d => d.SourceTopic == "user-events");
        Assert.Equal(3, stored.Partition);
        Assert.Equal(1234, stored.Offset);
        Assert.Equal("TRUNCATED_JSON", stored.Reason);
        Assert.Equal("u-1", stored.Key);
        Assert.Equal(raw, stored.Raw.ToArray());
        Assert.Equal(s_t0, stored.ReceivedAt);
    }

    [Fact]
    public async Task InsertDeadLettersAsync_LargeMessage_StoresTruncatedBytesAndOriginalLength()
    {
        var raw = new byte[200_000];
        raw.AsSpan().Fill((byte)'x');
        var letter = DeadLetter.Create("user-events", 0, 1, null, raw, "MESSAGE_TOO_LARGE", "200000 bytes", s_t0);

        await Store.InsertDeadLettersAsync([letter], CancellationToken.None);

        var stored = Assert.Single(await Store.RecentDeadLettersAsync(1, CancellationToken.None));
        Assert.Equal(DeadLetter.MaxRawBytes, stored.Raw.Length);
        Assert.Equal(200_000, stored.RawLength);
    }

    [Fact]
    public async Task ChangeAlertStatusAsync_Workflow_RecordsWhoWhenAndWhy()
    {
        var alert = MakeAlert("w1");
        await Store.InsertAlertsAsync([alert], CancellationToken.None);

        var (ack, acked) = await Store.ChangeAlertStatusAsync(alert.AlertId, AlertStatus.Acknowledged, "ana", "looking", s_t0.AddHours(1), CancellationToken.None);
        var (resolve, resolved) = await Store.ChangeAlertStatusAsync(alert.AlertId, AlertStatus.Resolved, "bob", null, s_t0.AddHours(2), CancellationToken.None);
        var stored = await Store.GetAlertAsync(alert.AlertId, CancellationToken.None);

        Assert.Equal(StatusChangeOutcome.Changed, ack);
        Assert.Equal(AlertStatus.Acknowledged, acked!.Status);
        Assert.Equal(StatusChangeOutcome.Changed, resolve);
        Assert.Equal("bob", resolved!.StatusBy);
        Assert.NotNull(stored);
        Assert.Equal(AlertStatus.Resolved, stored.Status);
        Assert.Equal("bob", stored.StatusBy);
        Assert.Equal(s_t0.AddHours(2), stored.StatusAt);
        Assert.Null(stored.StatusNote);
        Assert.Single(await Store.QueryAlertsAsync(new AlertQuery { Status = AlertStatus.Resolved }, CancellationToken.None));
    }

    [Fact]
    public async Task ChangeAlertStatusAsync_MoveNotInWorkflow_IsRefusedAndChangesNothing()
    {
        var alert = MakeAlert("w2");
        await Store.InsertAlertsAsync([alert], CancellationToken.None);
        await Store.ChangeAlertStatusAsync(alert.AlertId, AlertStatus.FalsePositive, "ana", "test traffic", s_t0, CancellationToken.None);

        var (outcome, current) = await Store.ChangeAlertStatusAsync(alert.AlertId, AlertStatus.Acknowledged, "bob", null, s_t0.AddMinutes(1), CancellationToken.None);

        Assert.Equal(StatusChangeOutcome.NotAllowed, outcome);
        Assert.Equal(AlertStatus.FalsePositive, current!.Status);
        Assert.Equal("test traffic", current.StatusNote);
    }

    [Fact]
    public async Task ChangeAlertStatusAsync_UnknownAlert_IsNotFound()
    {
        var (outcome, alert) = await Store.ChangeAlertStatusAsync("nope", AlertStatus.Acknowledged, "ana", null, s_t0, CancellationToken.None);

        Assert.Equal(StatusChangeOutcome.NotFound, outcome);
        Assert.Null(alert);
    }

    [Fact]
    public async Task DeleteExpiredAsync_KeepsOpenAlertsAndRecentRows()
    {
        var old = MakeAlert("old", minute: 0);
        var oldResolved = MakeAlert("old-resolved", minute: 1);
        var recent = MakeAlert("recent", minute: 600);
        await Store.InsertAlertsAsync([old, oldResolved, recent], CancellationToken.None);
        await Store.ChangeAlertStatusAsync(oldResolved.AlertId, AlertStatus.Resolved, "ana", null, s_t0, CancellationToken.None);
        await Store.InsertDeadLettersAsync([DeadLetter.Create("http", -1, -1, null, "x"u8, "MALFORMED_JSON", "d", s_t0)], CancellationToken.None);
        await Store.AppendAuditAsync(new AuditEntry(s_t0, "a", "admin", "LOGIN", null, null), CancellationToken.None);

        var deleted = await Store.DeleteExpiredAsync(s_t0.AddHours(1), includeOpen: false, s_t0.AddHours(1), s_t0.AddHours(1), CancellationToken.None);

        Assert.Equal(3, deleted);
        var left = (await Store.QueryAlertsAsync(new AlertQuery(), CancellationToken.None)).Select(a => a.AlertId).ToHashSet();
        Assert.Equal(new HashSet<string> { old.AlertId, recent.AlertId }, left);
        Assert.Equal(0, await Store.CountDeadLettersAsync(CancellationToken.None));
        Assert.Empty(await Store.RecentAuditAsync(10, CancellationToken.None));
        Assert.Equal(1, await Store.DeleteExpiredAsync(s_t0.AddHours(1), includeOpen: true, s_t0, s_t0, CancellationToken.None));
    }

    [Fact]
    public async Task AppendAuditAsync_Entries_ComeBackNewestFirst()
    {
        await Store.AppendAuditAsync(new AuditEntry(s_t0, "root", "admin", "RETRAIN", null, null), CancellationToken.None);
        await Store.AppendAuditAsync(new AuditEntry(s_t0.AddSeconds(5), "ana", "analyst", "ACKNOWLEDGE", "a-1", "note"), CancellationToken.None);

        var entries = await Store.RecentAuditAsync(10, CancellationToken.None);

        Assert.Equal(2, entries.Count);
        Assert.Equal(new AuditEntry(s_t0.AddSeconds(5), "ana", "analyst", "ACKNOWLEDGE", "a-1", "note"), entries[0]);
        Assert.Null(entries[1].Target);
    }

    internal static UserBehaviorPattern Pattern(string user, string segment, int second, double? score = null) =>
        new(user, segment, 2, 7, new Dictionary<string, double> { ["events"] = 12, ["nightShare"] = 0.25 }, score, s_t0.AddSeconds(second));

    // Batches of a sink's size; PostgresCopyVigilStoreTests sends them (and every batch of two rows or more) through COPY.
    private const int BulkRows = 300;

    private static Alert Counted(string trigger, int occurrences, string summary) => MakeAlert(trigger) with
    {
        Summary = summary,
        Evidence = new Dictionary<string, object?> { ["occurrences"] = occurrences, ["eventIds"] = new List<string> { trigger } },
    };

    [Fact]
    public async Task InsertAlertsAsync_LargeBatches_DeduplicateAndOnlyAHigherOccurrenceCountWins()
    {
        var first = Enumerable.Range(0, BulkRows).Select(i => Counted($"b{i}", 2, "first")).ToList();
        // Again every id: a third with a higher count, a third with the same, a third with a lower one; and one id twice
        // within the batch, the later copy carrying the higher count.
        var second = Enumerable.Range(0, BulkRows).Select(i => Counted($"b{i}", (i % 3) switch { 0 => 5, 1 => 2, _ => 1 }, "second")).ToList();
        second.Add(Counted("b1", 9, "second, last"));

        Assert.Equal(BulkRows, await Store.InsertAlertsAsync(first, CancellationToken.None));
        Assert.Equal(BulkRows / 3 + 1, await Store.InsertAlertsAsync(second, CancellationToken.None));
        Assert.Equal(0, await Store.InsertAlertsAsync(first, CancellationToken.None));
        var stored = await Store.QueryAlertsAsync(new AlertQuery { Limit = 1000 }, CancellationToken.None);

        Assert.Equal(BulkRows, stored.Count);
        Assert.Equal(BulkRows, stored.Select(a => a.AlertId).Distinct().Count());
        var byId = stored.ToDictionary(a => a.AlertId);
        for (var i = 0; i < BulkRows; i++)
        {
            var alert = byId[Alert.MakeId("BRUTE_FORCE", "u-1", $"b{i}")];
            var (count, summary) = i == 1 ? (9, "second, last") : i % 3 == 0 ? (5, "second") : (2, "first");
            Assert.Equal(count, ((JsonElement)alert.Evidence["occurrences"]!).GetInt32());
            Assert.Equal(summary, alert.Summary);
        }
    }

    [Fact]
    public async Task InsertAlertsAsync_LargeBatch_RoundTripsEveryFieldIncludingNulls()
    {
        var alerts = Enumerable.Range(0, BulkRows)
            .Select(i => i % 2 == 0 ? MakeAlert($"r{i}", Severity.Critical, user: $"u-{i}", minute: i)
                : MakeAlert($"r{i}", Severity.Low, user: $"u-{i}", minute: i, ip: null) with { WindowStart = null, WindowEnd = null })
            .ToList();

        await Store.InsertAlertsAsync(alerts, CancellationToken.None);
        var even = await Store.GetAlertAsync(alerts[10].AlertId, CancellationToken.None);
        var odd = await Store.GetAlertAsync(alerts[11].AlertId, CancellationToken.None);

        Assert.Equal(alerts[10].EventTime, even!.EventTime);
        Assert.Equal(alerts[10].WindowStart, even.WindowStart);
        Assert.Equal("203.0.113.7", even.IpAddress);
        Assert.Equal(Severity.Critical, even.Severity);
        Assert.Equal(0.75, even.Score);
        Assert.Equal(12, ((JsonElement)even.Evidence["failures"]!).GetInt32());
        Assert.Null(odd!.IpAddress);
        Assert.Null(odd.WindowStart);
        Assert.Null(odd.WindowEnd);
        Assert.Equal(AlertStatus.Open, odd.Status);
    }

    [Fact]
    public async Task UpsertUserBehaviorPatternsAsync_LargeBatches_NewerWinsPerUser()
    {
        await Store.UpsertUserBehaviorPatternsAsync(
            Enumerable.Range(0, BulkRows).Select(i => Pattern($"u-{i:D4}", "night owls", 10, 0.5)).ToList(), CancellationToken.None);
        // Even users get a newer row (without a score), odd users an older one.
        await Store.UpsertUserBehaviorPatternsAsync(
            Enumerable.Range(0, BulkRows).Select(i => Pattern($"u-{i:D4}", i % 2 == 0 ? "heavy searchers" : "casual users", i % 2 == 0 ? 20 : 5)).ToList(),
            CancellationToken.None);

        var newer = await Store.GetUserBehaviorPatternAsync("u-0002", CancellationToken.None);
        var older = await Store.GetUserBehaviorPatternAsync("u-0003", CancellationToken.None);
        var segments = await Store.CountUsersBySegmentAsync(CancellationToken.None);

        Assert.Equal("heavy searchers", newer!.Segment);
        Assert.Equal(0.5, newer.AnomalyScore);
        Assert.Equal(12, newer.Features["events"]);
        Assert.Equal("night owls", older!.Segment);
        Assert.Equal(BulkRows, segments.Sum(s => s.Users));
    }

    [Fact]
    public async Task UpsertUserBehaviorPatternsAsync_RoundTrip_KeepsEveryField()
    {
        Assert.Equal(1, await Store.UpsertUserBehaviorPatternsAsync([Pattern("u-1", "night owls", 0, 0.42)], CancellationToken.None));

        var read = await Store.GetUserBehaviorPatternAsync("u-1", CancellationToken.None);

        Assert.NotNull(read);
        Assert.Equal("night owls", read.Segment);
        Assert.Equal(2, read.SegmentIndex);
        Assert.Equal(7, read.ModelVersion);
        Assert.Equal(12, read.Features["events"]);
        Assert.Equal(0.25, read.Features["nightShare"]);
        Assert.Equal(0.42, read.AnomalyScore);
        Assert.Equal(s_t0, read.UpdatedAt);
        Assert.Null(await Store.GetUserBehaviorPatternAsync("u-2", CancellationToken.None));
    }

    [Fact]
    public async Task UpsertUserBehaviorPatternsAsync_NewerReplacesOlderNeverTheReverse()
    {
        await Store.UpsertUserBehaviorPatternsAsync([Pattern("u-1", "night owls", 10, 0.5)], CancellationToken.None);
        await Store.UpsertUserBehaviorPatternsAsync([Pattern("u-1", "heavy searchers", 20)], CancellationToken.None);
        await Store.UpsertUserBehaviorPatternsAsync([Pattern("u-1", "casual users", 5)], CancellationToken.None);

        var read = await Store.GetUserBehaviorPatternAsync("u-1", CancellationToken.None);

        Assert.Equal("heavy searchers", read!.Segment);
        Assert.Equal(s_t0.AddSeconds(20), read.UpdatedAt);
        // An update without a score keeps the score recorded before.
        Assert.Equal(0.5, read.AnomalyScore);
    }

    [Fact]
    public async Task SetAnomalyScoresAsync_ExistingRowsOnly_LatestPerUserAndUpdatedAtKept()
    {
        await Store.UpsertUserBehaviorPatternsAsync([Pattern("u-1", "night owls", 10)], CancellationToken.None);

        var updated = await Store.SetAnomalyScoresAsync(
        [
            new UserAnomalyScore("u-1", 0.91, s_t0.AddSeconds(30)),
            new UserAnomalyScore("u-1", 0.85, s_t0.AddSeconds(20)),
            new UserAnomalyScore("u-9", 0.99, s_t0.AddSeconds(30)), // no segment row yet: skipped
        ], CancellationToken.None);
        await Store.UpsertUserBehaviorPatternsAsync([Pattern("u-1", "heavy searchers", 15)], CancellationToken.None);

        Assert.Equal(1, updated);
        var read = await Store.GetUserBehaviorPatternAsync("u-1", CancellationToken.None);
        Assert.Equal(0.91, read!.AnomalyScore);
        // The score did not move updated_at, so a segment update of event time 15 s still lands.
        Assert.Equal("heavy searchers", read.Segment);
        Assert.Null(await Store.GetUserBehaviorPatternAsync("u-9", CancellationToken.None));
    }

    [Fact]
    public async Task UpsertUserBehaviorPatternsAsync_SameUserTwiceInABatch_KeepsTheNewest()
    {
        await Store.UpsertUserBehaviorPatternsAsync([Pattern("u-1", "heavy searchers", 20), Pattern("u-1", "night owls", 10)], CancellationToken.None);

        Assert.Equal("heavy searchers", (await Store.GetUserBehaviorPatternAsync("u-1", CancellationToken.None))!.Segment);
    }

    [Fact]
    public async Task CountUsersBySegmentAsync_LargestFirstThenByName()
    {
        await Store.UpsertUserBehaviorPatternsAsync(
        [
            Pattern("u-1", "night owls", 0), Pattern("u-2", "night owls", 0), Pattern("u-3", "casual users", 0),
            Pattern("u-4", "heavy searchers", 0), Pattern("u-5", "heavy searchers", 0), Pattern("u-6", "frequent travellers", 0),
        ], CancellationToken.None);

        var counts = await Store.CountUsersBySegmentAsync(CancellationToken.None);

        Assert.Equal(
        [
            new SegmentCount("heavy searchers", 2), new SegmentCount("night owls", 2),
            new SegmentCount("casual users", 1), new SegmentCount("frequent travellers", 1),
        ], counts);
    }

    [Fact]
    public async Task ListUsersInSegmentAsync_PagesInUserIdOrder()
    {
        await Store.UpsertUserBehaviorPatternsAsync(
            [Pattern("u-3", "night owls", 0), Pattern("u-1", "night owls", 0), Pattern("u-2", "casual users", 0), Pattern("u-4", "night owls", 0)],
            CancellationToken.None);

        var page1 = await Store.ListUsersInSegmentAsync("night owls", 2, 0, CancellationToken.None);
        var page2 = await Store.ListUsersInSegmentAsync("night owls", 2, 2, CancellationToken.None);

        Assert.Equal(["u-1", "u-3"], page1.Select(p => p.UserId));
        Assert.Equal(["u-4"], page2.Select(p => p.UserId));
    }

    private static Vigil.Core.Ml.ModelInfo Model(string kind, int version, int second) => new(kind, version, s_t0.AddSeconds(second), 5000, 123.5,
        new Dictionary<string, double> { ["k"] = 5, ["seed"] = 1 },
        new Dictionary<string, double?> { ["inertia"] = 1234.5, ["auc"] = null });

    [Fact]
    public async Task InsertModelMetricsAsync_RoundTripAndIdempotent()
    {
        var model = Model("kmeans", 3, 0);

        Assert.True(await Store.InsertModelMetricsAsync(model, CancellationToken.None));
        Assert.False(await Store.InsertModelMetricsAsync(model, CancellationToken.None));
        var read = Assert.Single(await Store.RecentModelMetricsAsync(null, 10, CancellationToken.None));

        Assert.Equal(model.Kind, read.Kind);
        Assert.Equal(model.Version, read.Version);
        Assert.Equal(model.TrainedAt, read.TrainedAt);
        Assert.Equal(model.SampleCount, read.SampleCount);
        Assert.Equal(model.TrainingMs, read.TrainingMs);
        Assert.Equal(5, read.Parameters["k"]);
        Assert.Equal(1234.5, read.Metrics["inertia"]);
        Assert.Null(read.Metrics["auc"]);
    }

    [Fact]
    public async Task RecentModelMetricsAsync_NewestFirstFilteredByKind()
    {
        await Store.InsertModelMetricsAsync(Model("kmeans", 1, 0), CancellationToken.None);
        await Store.InsertModelMetricsAsync(Model("iforest", 2, 1), CancellationToken.None);
        await Store.InsertModelMetricsAsync(Model("kmeans", 3, 60), CancellationToken.None);

        var all = await Store.RecentModelMetricsAsync(null, 10, CancellationToken.None);
        var kmeans = await Store.RecentModelMetricsAsync("kmeans", 1, CancellationToken.None);

        Assert.Equal([3, 2, 1], all.Select(m => m.Version));
        Assert.Equal(3, Assert.Single(kmeans).Version);
    }
}

public sealed class SqliteVigilStoreTests : VigilStoreTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vigil-sqlite-").FullName;

    protected override Task<IVigilStore> CreateStoreAsync() =>
        Task.FromResult<IVigilStore>(new SqliteVigilStore(Path.Combine(_directory, "nested", "vigil.db")));

    /// <summary>Writers from many tasks at once (alert batches, segment batches of several chunks, scores, audit
    /// entries): SQLite has one writer, and the store queues them itself; every write lands, none fails busy.</summary>
    [Fact]
    public async Task ConcurrentWriters_AlertsSegmentsScoresAndAudit_AllLand()
    {
        var writers = new List<Task>();
        for (var w = 0; w < 8; w++)
        {
            var batch = w;
            writers.Add(Task.Run(async () =>
            {
                for (var round = 0; round < 5; round++)
                {
                    await Store.InsertAlertsAsync(
                        [.. Enumerable.Range(0, 40).Select(i => MakeAlert($"t-{batch}-{round}-{i}", user: $"u-{batch}"))], CancellationToken.None);
                }
            }));
            writers.Add(Task.Run(() => Store.UpsertUserBehaviorPatternsAsync(
                [.. Enumerable.Range(0, 700).Select(i => Pattern($"w{batch}-{i:D4}", "night owls", 1))], CancellationToken.None)));
        }
        await Task.WhenAll(writers);
        var scored = await Store.SetAnomalyScoresAsync(
            [.. Enumerable.Range(0, 700).Select(i => new UserAnomalyScore($"w3-{i:D4}", 0.9, s_t0))], CancellationToken.None);

        var counts = await Store.CountAlertsBySeverityAsync(CancellationToken.None);
        var segments = await Store.CountUsersBySegmentAsync(CancellationToken.None);
        Assert.Equal(8 * 5 * 40, counts.Medium);
        Assert.Equal(8 * 700, segments.Sum(s => s.Users));
        Assert.Equal(700, scored);
        Assert.Equal(0.9, (await Store.GetUserBehaviorPatternAsync("w3-0699", CancellationToken.None))!.AnomalyScore);
        Assert.Null((await Store.GetUserBehaviorPatternAsync("w4-0699", CancellationToken.None))!.AnomalyScore);
    }

    /// <summary>The sinks' batches commit without an fsync each; SyncAsync commits a mark with one, which takes every
    /// earlier frame of the write-ahead log to the disk. Here: the mark is written (and moves on), and the batches
    /// before it are all there.</summary>
    [Fact]
    public async Task SyncAsync_AfterSinkBatches_CommitsItsMark()
    {
        await Store.InsertAlertsAsync([MakeAlert("s-1"), MakeAlert("s-2")], CancellationToken.None);
        await Store.SyncAsync(CancellationToken.None);
        var first = await ReadMarkAsync();
        await Task.Delay(5);
        await Store.InsertAlertsAsync([MakeAlert("s-3")], CancellationToken.None);
        await Store.SyncAsync(CancellationToken.None);
        var second = await ReadMarkAsync();

        Assert.NotNull(first);
        Assert.True(second > first, $"the second sync's mark ({second}) is not after the first's ({first})");
        Assert.Equal(3, (await Store.CountAlertsBySeverityAsync(CancellationToken.None)).Medium);
    }

    private async Task<long?> ReadMarkAsync()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "nested", "vigil.db")};Pooling=False");
        await connection.OpenAsync();
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT at FROM sync_mark WHERE id = 1;";
        return await read.ExecuteScalarAsync() as long?;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresVigilStoreTests(PostgresServer server) : VigilStoreTests
{
    protected override async Task<IVigilStore> CreateStoreAsync() =>
        new PostgresVigilStore(await server.CreateDatabaseAsync());
}

/// <summary>The same contract with every batch of two rows or more through binary COPY and the staging table.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCopyVigilStoreTests(PostgresServer server) : VigilStoreTests
{
    protected override async Task<IVigilStore> CreateStoreAsync() =>
        new PostgresVigilStore(await server.CreateDatabaseAsync(), copyThreshold: 2);
}
