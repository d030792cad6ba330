using System.Globalization;
using System.Text;
using System.Text.Json;
using Vigil.Core.Detection;

namespace Vigil.Server.Cli;

/// <summary>
/// <c>vigil eval --alerts ALERTS --labels LABELS</c>: scores replayed alerts against the simulator's labelled campaigns —
/// per-kind recall and precision, per-rule precision, and false positives on legitimate traffic.
/// </summary>
public static class EvalCommand
{
    private const string Help = """
        Usage: ./vigil eval --alerts ALERTS.jsonl --labels LABELS.jsonl [--events EVENTS.jsonl]
                            [--users N] [--days D] [--slack 5m] [--json]

        Scores alerts (as ./vigil replay --alerts writes them) against the campaigns ./vigil simulate --labels
        wrote. An alert matches a campaign when its rule fits the campaign's kind (the table below) and either
        its user or IP is among the campaign's and its time falls within [start - slack, end + slack], or its
        evidence.eventIds cite one of the campaign's events (an alert raised later by what the campaign did,
        such as the owner's next login after a stolen one). Every version of an alert counts: an update from
        suppression carries the repeat's time (evidence.lastSeen), user, IP and event ids.

          recall (per kind)       campaigns matched by at least one alert / campaigns
          precision (per rule)    alerts matching some campaign / alerts of the rule; a kind's precision is
                                  that of the rule of the same name
          false positives         alerts above LOW matching no campaign, per 10,000 legitimate users per day

          --events FILE   the replayed events: legitimate users (users with an event outside every campaign)
                          and the simulated days (first to last event)
          --users N       legitimate users, instead of counting them in --events
          --days D        simulated days (a number, or a duration such as 24h), instead of --events' span
          --slack D       tolerance around a campaign (default 5m)
          --json          print the figures as one JSON object instead of tables

        Which rules may catch which campaign kind:
        """;

    /// <summary>Campaigns in which the attacker logs in to the victim's account from the attacker's own place: a brute
    /// force that ends in a success, stuffing hits, takeovers, the far login of impossible travel, the scraper's
    /// login. The geo rules see each of those as the account being used from somewhere else.</summary>
    private static readonly string[] s_attackerLogins =
    [
        RuleNames.ImpossibleTravel, RuleNames.AccountTakeover, RuleNames.CredentialStuffing, RuleNames.BruteForce, RuleNames.RapidActivity,
    ];

    /// <summary>The campaign kinds each rule's alerts may legitimately be about.</summary>
    /// <remarks>A rule fits more than its namesake kind when the campaign shows that rule's pattern too: a single-IP
    /// brute force is also many failures from one IP; an account takeover starts with a burst of failures; a scraper
    /// session is also anomalous behaviour.</remarks>
    internal static readonly IReadOnlyDictionary<string, string[]> Fits = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        [RuleNames.BruteForce] = [RuleNames.BruteForce, RuleNames.BruteForceIp, RuleNames.AccountTakeover],
        [RuleNames.BruteForceIp] = [RuleNames.BruteForceIp, RuleNames.BruteForce, RuleNames.PasswordSpray, RuleNames.CredentialStuffing],
        [RuleNames.PasswordSpray] = [RuleNames.PasswordSpray, RuleNames.CredentialStuffing],
        // One IP guessing on many accounts feeds the tenant-wide count too (and the BRUTE_FORCE_IP rule fits stuffing).
        [RuleNames.CredentialStuffing] = [RuleNames.CredentialStuffing, RuleNames.PasswordSpray, RuleNames.BruteForceIp],
        [RuleNames.AccountTakeover] = [RuleNames.AccountTakeover],
        [RuleNames.ImpossibleTravel] = s_attackerLogins,
        [RuleNames.NewCountry] = s_attackerLogins,
        [RuleNames.RapidActivity] = [RuleNames.RapidActivity, RuleNames.BehaviorAnomaly],
        [RuleNames.BehaviorAnomaly] = [RuleNames.BehaviorAnomaly, RuleNames.RapidActivity, RuleNames.AccountTakeover],
        [RuleNames.ResetBombing] = [],
        // The shipped rules file's sequence rule (rules/default.yaml): the LOW cousin of a takeover.
        ["RECOVERY_AFTER_FAILURES"] = [RuleNames.AccountTakeover],
    };

    /// <summary>The targets of issue 4: recall and precision per kind, false positives per 10,000 users per day.</summary>
    internal const double RecallTarget = 0.98;

    internal const double PrecisionTarget = 0.95;

    internal const double FalsePositiveTarget = 1.0;

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var cli = CliArgs.Parse(args, ["alerts", "labels", "events", "users", "days", "slack"], ["json", "help"]);
        if (cli.Flag("help"))
        {
            await Console.Out.WriteLineAsync(Help + FitTable());
            return 0;
        }
        if (cli.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{cli.Positionals[0]}'; give files with --alerts and --labels.");
        }
        var alertsPath = cli.Get("alerts") ?? throw new UsageException("--alerts FILE is required (the output of ./vigil replay --alerts).");
        var labelsPath = cli.Get("labels") ?? throw new UsageException("--labels FILE is required (the output of ./vigil simulate --labels).");
        var slack = TimeSpan.FromMinutes(5);
        if (cli.Get("slack") is { } slackText && (!Core.Durations.TryParse(slackText, out slack) || slack < TimeSpan.Zero))
        {
            throw new UsageException($"--slack must be a duration such as 5m, not '{slackText}'.");
        }
        var campaigns = await ReadLabelsAsync(Existing(labelsPath, "labels"), ct);
        var alerts = await ReadAlertsAsync(Existing(alertsPath, "alerts"), ct);

        long? users = cli.Has("users") ? cli.GetInt("users", 0, 1, int.MaxValue) : null;
        double? days = null;
        if (cli.Get("days") is { } daysText)
        {
            if (double.TryParse(daysText, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0)
            {
                days = d;
            }
            else if (Core.Durations.TryParse(daysText, out var span) && span > TimeSpan.Zero)
            {
                days = span.TotalDays;
            }
            else
            {
                throw new UsageException($"--days must be a positive number or a duration such as 24h, not '{daysText}'.");
            }
        }
        if (cli.Get("events") is { } eventsPath && (users is null || days is null))
        {
            var (legitUsers, spanDays) = await ReadEventsAsync(Existing(eventsPath, "events"), campaigns, ct);
            users ??= legitUsers;
            days ??= spanDays;
        }

        var report = Evaluate(alerts, campaigns, slack, users, days);
        await Console.Out.WriteLineAsync(cli.Flag("json") ? ToJson(report) : ToTable(report));
        return 0;
    }

    private static string Existing(string path, string what) =>
        File.Exists(path) ? path : throw new UsageException($"the {what} file '{path}' does not exist.");

    private static string FitTable()
    {
        var sb = new StringBuilder();
        foreach (var rule in RuleNames.All)
        {
            var kinds = Fits[rule];
            sb.Append(CultureInfo.InvariantCulture, $"\n          {rule,-20} {(kinds.Length == 0 ? "(no campaign kind; reported, not scored)" : string.Join(", ", kinds))}");
        }
        return sb.ToString();
    }

    // ---- input ----

    internal sealed record Campaign(string Id, string Kind, HashSet<string> Users, HashSet<string> Ips, long StartMs, long EndMs,
        HashSet<string> EventIds);

    /// <summary>One version of an alert: the first emission, or an update from suppression.</summary>
    internal sealed record AlertVersion(string AlertId, string Rule, string Severity, string? UserId, string? Ip, long TimeMs,
        IReadOnlyList<string> EventIds);

    private static async Task<List<Campaign>> ReadLabelsAsync(string path, CancellationToken ct)
    {
        var result = new List<Campaign>();
        var lineNumber = 0;
        foreach (var line in await File.ReadAllLinesAsync(path, ct))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var e = doc.RootElement;
                result.Add(new Campaign(
                    e.GetProperty("campaignId").GetString() ?? "",
                    e.GetProperty("kind").GetString() ?? "",
                    Strings(e, "userIds"),
                    Strings(e, "ips"),
                    ParseTime(e.GetProperty("start")),
                    ParseTime(e.GetProperty("end")),
                    Strings(e, "eventIds")));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new UsageException($"{path}:{lineNumber} is not a campaign label ({ex.Message}).");
            }
        }
        return result;
    }

    private static async Task<List<AlertVersion>> ReadAlertsAsync(string path, CancellationToken ct)
    {
        var result = new List<AlertVersion>();
        var lineNumber = 0;
        foreach (var line in await File.ReadAllLinesAsync(path, ct))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var e = doc.RootElement;
                var id = e.GetProperty("alertId").GetString() ?? "";
                var rule = e.GetProperty("rule").GetString() ?? "";
                var severity = e.GetProperty("severity").GetString() ?? "";
                var user = OptionalString(e, "userId");
                var ip = OptionalString(e, "ipAddress");
                var time = ParseTime(e.GetProperty("eventTime"));
                var hasEvidence = e.TryGetProperty("evidence", out var ev) && ev.ValueKind == JsonValueKind.Object;
                var eventIds = hasEvidence ? Strings(ev, Evidence.EventIds) : [];
                if (hasEvidence && ev.TryGetProperty(Evidence.Occurrences, out var n) && n.TryGetInt32(out var occurrences) && occurrences > 1)
                {
                    // An update: the repeat's own time, user, IP and events.
                    time = ev.TryGetProperty(Evidence.LastSeen, out var last) ? ParseTime(last) : time;
                    user = OptionalString(ev, "lastUserId");
                    ip = OptionalString(ev, "lastIpAddress");
                    eventIds = Strings(ev, Evidence.LastEventIds);
                }
                result.Add(new AlertVersion(id, rule, severity, user, ip, time, [.. eventIds]));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new UsageException($"{path}:{lineNumber} is not an alert ({ex.Message}).");
            }
        }
        return result;
    }

    /// <summary>Legitimate users (with an event outside every campaign) and the span of the events in days.</summary>
    private static async Task<(long Users, double Days)> ReadEventsAsync(string path, List<Campaign> campaigns, CancellationToken ct)
    {
        var campaignEvents = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in campaigns)
        {
            campaignEvents.UnionWith(c.EventIds);
        }
        var users = new HashSet<string>(StringComparer.Ordinal);
        long min = long.MaxValue, max = long.MinValue;
        using var reader = new StreamReader(path, Encoding.UTF8);
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var e = doc.RootElement;
                if (e.TryGetProperty("timestamp", out var ts))
                {
                    var t = ParseTime(ts);
                    min = Math.Min(min, t);
                    max = Math.Max(max, t);
                }
                if (OptionalString(e, "userId") is { } user && !(OptionalString(e, "eventId") is { } id && campaignEvents.Contains(id)))
                {
                    users.Add(user);
                }
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
            {
                // A line the pipeline would dead-letter says nothing about users or time.
            }
        }
        var days = max > min ? (max - min) / 86_400_000.0 : 0;
        return (users.Count, days);
    }

    private static HashSet<string> Strings(JsonElement e, string name)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (e.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in array.EnumerateArray())
            {
                if (item.GetString() is { } s)
                {
                    set.Add(s);
                }
            }
        }
        return set;
    }

    private static string? OptionalString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long ParseTime(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Number)
        {
            var n = e.GetInt64();
            return n < 100_000_000_000 ? n * 1000 : n;
        }
        var text = e.GetString() ?? throw new FormatException("a time is null");
        return DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds();
    }

    // ---- scoring ----

    internal sealed record KindFigures(string Kind, int Campaigns, int Detected, double? Recall, double? Precision,
        SortedDictionary<string, int> CaughtBy, List<string> Missed);

    internal sealed record RuleFigures(string Rule, int Alerts, int Matched, double? Precision, int UnmatchedAboveLow,
        SortedDictionary<string, int> BySeverity, int AttackDriven = 0);

    internal sealed record Report(List<KindFigures> Kinds, List<RuleFigures> Rules, int FalsePositives, long? LegitimateUsers,
        double? Days, double? FalsePositivesPer10kUsersPerDay, TimeSpan Slack, int Alerts, int AlertVersions, bool MeetsTargets,
        int AttackDriven = 0);

    internal static Report Evaluate(List<AlertVersion> versions, List<Campaign> campaigns, TimeSpan slack, long? users, double? days)
    {
        var slackMs = (long)slack.TotalMilliseconds;
        var matchedAlerts = new HashSet<string>(StringComparer.Ordinal);
        var detected = new Dictionary<string, SortedDictionary<string, int>>(StringComparer.Ordinal);
        // Campaigns indexed by user and IP, so each alert looks at a handful of campaigns, not all of them.
        var byEntity = new Dictionary<string, List<Campaign>>(StringComparer.Ordinal);
        foreach (var c in campaigns)
        {
            foreach (var u in c.Users)
            {
                Index(byEntity, "u:" + u, c);
            }
            foreach (var ip in c.Ips)
            {
                Index(byEntity, "i:" + ip, c);
            }
        }
        var byEvent = new Dictionary<string, List<Campaign>>(StringComparer.Ordinal);
        foreach (var c in campaigns)
        {
            foreach (var id in c.EventIds)
            {
                Index(byEvent, id, c);
            }
        }
        var seen = new HashSet<Campaign>();
        var attackDriven = new HashSet<string>(StringComparer.Ordinal);
        void Match(AlertVersion v, Campaign c)
        {
            matchedAlerts.Add(v.AlertId);
            if (!detected.TryGetValue(c.Id, out var rules))
            {
                detected[c.Id] = rules = new SortedDictionary<string, int>(StringComparer.Ordinal);
            }
            rules[v.Rule] = rules.GetValueOrDefault(v.Rule) + 1;
        }
        foreach (var v in versions)
        {
            if (!Fits.TryGetValue(v.Rule, out var kinds))
            {
                kinds = [v.Rule];
            }
            seen.Clear();
            foreach (var key in new[] { v.UserId is null ? null : "u:" + v.UserId, v.Ip is null ? null : "i:" + v.Ip })
            {
                if (key is null || !byEntity.TryGetValue(key, out var candidates))
                {
                    continue;
                }
                foreach (var c in candidates)
                {
                    if (Array.IndexOf(kinds, c.Kind) >= 0 && v.TimeMs >= c.StartMs - slackMs && v.TimeMs <= c.EndMs + slackMs && seen.Add(c))
                    {
                        Match(v, c);
                    }
                }
            }
            // An alert most of whose triggering events belong to campaigns was raised by attack traffic, even when no
            // campaign's kind fits its rule (two attacks overlapping look like a third): not a false positive on
            // legitimate users, though not a detection either.
            var campaignEvents = 0;
            foreach (var id in v.EventIds)
            {
                if (byEvent.ContainsKey(id))
                {
                    campaignEvents++;
                }
            }
            if (v.EventIds.Count > 0 && campaignEvents * 2 >= v.EventIds.Count)
            {
                attackDriven.Add(v.AlertId);
            }
            foreach (var id in v.EventIds)
            {
                if (!byEvent.TryGetValue(id, out var candidates))
                {
                    continue;
                }
                foreach (var c in candidates)
                {
                    if (Array.IndexOf(kinds, c.Kind) >= 0 && seen.Add(c))
                    {
                        Match(v, c);
                    }
                }
            }
        }

        // Per rule: distinct alert ids (an alert and its updates are one alert).
        var ruleAlerts = new SortedDictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var rule in RuleNames.All)
        {
            ruleAlerts[rule] = new Dictionary<string, string>(StringComparer.Ordinal);
        }
        foreach (var v in versions)
        {
            if (!ruleAlerts.TryGetValue(v.Rule, out var ids))
            {
                ruleAlerts[v.Rule] = ids = new Dictionary<string, string>(StringComparer.Ordinal);
            }
            ids.TryAdd(v.AlertId, v.Severity);
        }
        var rulesOut = new List<RuleFigures>();
        var falsePositives = 0;
        var attackDrivenTotal = 0;
        var total = 0;
        foreach (var (rule, ids) in ruleAlerts)
        {
            var matched = 0;
            var unmatchedAboveLow = 0;
            var unmatchedAttackDriven = 0;
            var bySeverity = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var (id, severity) in ids)
            {
                bySeverity[severity] = bySeverity.GetValueOrDefault(severity) + 1;
                if (matchedAlerts.Contains(id))
                {
                    matched++;
                }
                else if (!string.Equals(severity, "LOW", StringComparison.OrdinalIgnoreCase))
                {
                    if (attackDriven.Contains(id))
                    {
                        unmatchedAttackDriven++;
                    }
                    else
                    {
                        unmatchedAboveLow++;
                    }
                }
            }
            total += ids.Count;
            falsePositives += unmatchedAboveLow;
            attackDrivenTotal += unmatchedAttackDriven;
            rulesOut.Add(new RuleFigures(rule, ids.Count, matched, ids.Count == 0 ? null : (double)matched / ids.Count, unmatchedAboveLow, bySeverity,
                unmatchedAttackDriven));
        }

        var kindsOut = new List<KindFigures>();
        var kindNames = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var c in campaigns)
        {
            kindNames.Add(c.Kind);
        }
        var meets = true;
        foreach (var kind in kindNames)
        {
            int count = 0, hit = 0;
            var caughtBy = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var missed = new List<string>();
            foreach (var c in campaigns)
            {
                if (!string.Equals(c.Kind, kind, StringComparison.Ordinal))
                {
                    continue;
                }
                count++;
                if (detected.TryGetValue(c.Id, out var rules))
                {
                    hit++;
                    foreach (var rule in rules.Keys)
                    {
                        caughtBy[rule] = caughtBy.GetValueOrDefault(rule) + 1;
                    }
                }
                else
                {
                    missed.Add(c.Id);
                }
            }
            double? precision = null;
            foreach (var r in rulesOut)
            {
                if (string.Equals(r.Rule, kind, StringComparison.Ordinal))
                {
                    precision = r.Precision;
                }
            }
            var recall = count == 0 ? (double?)null : (double)hit / count;
            meets &= recall is null or >= RecallTarget && precision is null or >= PrecisionTarget;
            kindsOut.Add(new KindFigures(kind, count, hit, recall, precision, caughtBy, missed));
        }
        double? rate = users is > 0 && days is > 0 ? falsePositives / (users.Value / 10_000.0) / days.Value : null;
        meets &= rate is null or <= FalsePositiveTarget;
        return new Report(kindsOut, rulesOut, falsePositives, users, days, rate, slack, total, versions.Count, meets, attackDrivenTotal);
    }

    private static void Index(Dictionary<string, List<Campaign>> index, string key, Campaign c)
    {
        if (!index.TryGetValue(key, out var list))
        {
            index[key] = list = [];
        }
        list.Add(c);
    }

    // ---- output ----

    private static string Ratio(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    internal static string ToTable(Report report)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"KIND",-20} {"CAMPAIGNS",9} {"DETECTED",8} {"RECALL",7} {"PRECISION",9}  CAUGHT BY");
        foreach (var k in report.Kinds)
        {
            var caught = new List<string>();
            foreach (var (rule, n) in k.CaughtBy)
            {
                caught.Add(string.Create(CultureInfo.InvariantCulture, $"{rule} {n}"));
            }
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{k.Kind,-20} {k.Campaigns,9} {k.Detected,8} {Ratio(k.Recall),7} {Ratio(k.Precision),9}  {string.Join(", ", caught)}{(k.Missed.Count > 0 ? "; missed " + string.Join(", ", k.Missed) : "")}");
        }
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"RULE",-24} {"ALERTS",5} {"MATCHED",8} {"PRECISION",9} {"FP>LOW",7}  SEVERITIES");
        foreach (var r in report.Rules)
        {
            var severities = new List<string>();
            foreach (var (s, n) in r.BySeverity)
            {
                severities.Add(string.Create(CultureInfo.InvariantCulture, $"{s} {n}"));
            }
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{r.Rule,-24} {r.Alerts,5} {r.Matched,8} {Ratio(r.Precision),9} {r.UnmatchedAboveLow,7}  {string.Join(", ", severities)}");
        }
        sb.AppendLine();
        sb.Append(CultureInfo.InvariantCulture, $"false positives above LOW: {report.FalsePositives}");
        if (report.FalsePositivesPer10kUsersPerDay is { } rate)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $" = {rate:0.00} per 10,000 legitimate users per day ({report.LegitimateUsers} users, {report.Days:0.00} days)");
        }
        else
        {
            sb.Append(" (give --events, or --users and --days, for the rate)");
        }
        sb.AppendLine();
        if (report.AttackDriven > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"not counted above: {report.AttackDriven} unmatched alert(s) above LOW raised mostly by campaign events of a kind their rule does not fit");
        }
        sb.Append(CultureInfo.InvariantCulture,
            $"slack {(long)report.Slack.TotalSeconds} s; {report.Alerts} alerts ({report.AlertVersions} lines); targets (recall >= {RecallTarget}, precision >= {PrecisionTarget}, FP <= {FalsePositiveTarget}): {(report.MeetsTargets ? "met" : "NOT met")}");
        return sb.ToString();
    }

    internal static string ToJson(Report report)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartObject("kinds");
            foreach (var k in report.Kinds)
            {
                w.WriteStartObject(k.Kind);
                w.WriteNumber("campaigns", k.Campaigns);
                w.WriteNumber("detected", k.Detected);
                WriteRatio(w, "recall", k.Recall);
                WriteRatio(w, "precision", k.Precision);
                w.WriteStartObject("caughtBy");
                foreach (var (rule, n) in k.CaughtBy)
                {
                    w.WriteNumber(rule, n);
                }
                w.WriteEndObject();
                w.WriteStartArray("missed");
                foreach (var id in k.Missed)
                {
                    w.WriteStringValue(id);
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartObject("rules");
            foreach (var r in report.Rules)
            {
                w.WriteStartObject(r.Rule);
                w.WriteNumber("alerts", r.Alerts);
                w.WriteNumber("matched", r.Matched);
                WriteRatio(w, "precision", r.Precision);
                w.WriteNumber("unmatchedAboveLow", r.UnmatchedAboveLow);
                w.WriteStartObject("bySeverity");
                foreach (var (s, n) in r.BySeverity)
                {
                    w.WriteNumber(s, n);
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteNumber("falsePositivesAboveLow", report.FalsePositives);
            w.WriteNumber("unmatchedAttackDrivenAboveLow", report.AttackDriven);
            if (report.LegitimateUsers is { } users)
            {
                w.WriteNumber("legitimateUsers", users);
            }
            else
            {
                w.WriteNull("legitimateUsers");
            }
            WriteRatio(w, "days", report.Days);
            WriteRatio(w, "falsePositivesPer10kUsersPerDay", report.FalsePositivesPer10kUsersPerDay);
            w.WriteNumber("slackSeconds", (long)report.Slack.TotalSeconds);
            w.WriteNumber("alerts", report.Alerts);
            w.WriteNumber("alertLines", report.AlertVersions);
            w.WriteBoolean("meetsTargets", report.MeetsTargets);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteRatio(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, Math.Round(v, 4));
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
