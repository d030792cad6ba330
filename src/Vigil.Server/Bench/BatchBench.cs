using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DuckDB.NET.Data;
using Vigil.Core.Events;
using Vigil.Core.Features;
using Vigil.Simulator;

namespace Vigil.Server.Bench;

/// <summary>Settings of <c>bench batch</c>.</summary>
internal sealed record BatchBenchOptions
{
    public int Events { get; init; } = 10_000_000;

    public int Users { get; init; } = 100_000;

    public int Seed { get; init; } = 1;

    /// <summary>Measured rounds of each side; the figure is the median.</summary>
    public int Runs { get; init; } = 5;

    /// <summary>DuckDB's worker threads; 0 keeps its default (one per core).</summary>
    public int DuckDbThreads { get; init; }
}

/// <summary>
/// <c>bench batch</c>: per-user feature aggregation (the 15 features of <see cref="UserFeature"/> the ML trains on) over
/// simulator events, by Vigil's <see cref="UserFeatureAggregator"/> and by DuckDB running the equivalent SQL, in one
/// process, on the same events held in memory by each (Vigil: decoded <see cref="UserEvent"/>s; DuckDB: a table loaded
/// with its appender), with the results cross-checked user by user.
/// </summary>
internal static class BatchBench
{
    private const long DayMs = 86_400_000;

    /// <summary>One user's features as both sides produce them.</summary>
    internal readonly record struct Row(string UserId, float[] Features);

    public static JsonObject Run(BatchBenchOptions options, TextWriter progress, CancellationToken ct)
    {
        var load = Stopwatch.StartNew();
        var events = Generate(options);
        progress.WriteLine($"bench batch: {events.Length:N0} events of {options.Users:N0} users generated and decoded in {load.Elapsed.TotalSeconds:F1} s");

        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        if (options.DuckDbThreads > 0)
        {
            Execute(connection, $"SET threads = {options.DuckDbThreads}");
        }
        load.Restart();
        LoadTable(connection, events);
        progress.WriteLine($"bench batch: DuckDB table loaded in {load.Elapsed.TotalSeconds:F1} s");
        var duckThreads = Scalar(connection, "SELECT current_setting('threads')");

        var timeout = (long)new UserFeatureOptions().SessionTimeout.TotalMilliseconds;
        var sql = Sql(timeout);
        var vigilSeconds = new List<double>();
        var duckSeconds = new List<double>();
        Row[] vigilRows = [];
        Row[] duckRows = [];
        // One untimed round each first (JIT on ours; DuckDB's first query plans and warms its caches), then the rounds
        // alternate which side goes first.
        for (var round = -1; round < options.Runs; round++)
        {
            ct.ThrowIfCancellationRequested();
            for (var k = 0; k < 2; k++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var start = Stopwatch.GetTimestamp();
                if ((round + k) % 2 == 0)
                {
                    vigilRows = RunVigil(events);
                    if (round >= 0)
                    {
                        vigilSeconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                    }
                }
                else
                {
                    duckRows = RunDuckDb(connection, sql);
                    if (round >= 0)
                    {
                        duckSeconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                    }
                }
            }
            if (round >= 0)
            {
                progress.WriteLine($"bench batch: round {round + 1}/{options.Runs}: vigil {events.Length / vigilSeconds[^1] / 1e6:F2}M rows/s, duckdb {events.Length / duckSeconds[^1] / 1e6:F2}M rows/s");
            }
        }

        var check = CrossCheck(vigilRows, duckRows);
        var vigilRps = events.Length / BenchStats.Median(vigilSeconds);
        var duckRps = events.Length / BenchStats.Median(duckSeconds);
        return new JsonObject
        {
            ["bench"] = "batch",
            ["machine"] = BenchStats.Machine(),
            ["workload"] = new JsonObject
            {
                ["events"] = events.Length,
                ["users"] = vigilRows.Length,
                ["seed"] = options.Seed,
                ["runs"] = options.Runs,
                ["features"] = UserFeatures.Count,
                ["data"] = "simulator user events with a user id, sorted by event time; Vigil holds decoded UserEvents, DuckDB an appender-loaded table (seq, user_id, ts, type, session_id, ip, user_agent); loading is not timed",
            },
            ["vigil"] = Side(vigilRps, vigilSeconds, "UserFeatureAggregator.Add per event, then WriteTo per user (sorted by id); one thread"),
            ["duckdb"] = Side(duckRps, duckSeconds, $"the equivalent SQL (window lag for sessions and gaps, GROUP BY user_id), every row read back; threads = {duckThreads}"),
            ["duckdbVersion"] = Scalar(connection, "SELECT version()"),
            ["ratios"] = new JsonObject
            {
                ["vigilToDuckDb"] = BenchStats.Round(vigilRps / duckRps, 2),
                ["vigilToDuckDbMedianOfRounds"] = BenchStats.Round(MedianRatio(duckSeconds, vigilSeconds), 2),
            },
            ["crossCheck"] = check,
            ["goals"] = new JsonObject
            {
                ["vigilToDuckDb"] = new JsonObject { ["goal"] = 1.0, ["measured"] = BenchStats.Round(vigilRps / duckRps, 2), ["met"] = vigilRps >= duckRps },
            },
        };
    }

    /// <summary>Simulator events with a user id, decoded by Vigil's decoder and sorted by event time.</summary>
    internal static UserEvent[] Generate(BatchBenchOptions options)
    {
        var duration = TimeSpan.FromDays(7);
        var simulation = new Simulation(new SimulatorOptions
        {
            Seed = options.Seed,
            Users = options.Users,
            Duration = duration,
            Rate = Math.Max(0.5, options.Events / duration.TotalSeconds * 1.05),
        });
        // The simulated week is in the past of nobody's clock; the future check is not what this measures.
        var decoder = new EventDecoder(new EventDecoderOptions { MaxFutureSkew = TimeSpan.FromDays(365 * 100) }, TimeProvider.System);
        var events = new List<UserEvent>(options.Events);
        foreach (var message in simulation.Messages())
        {
            if (message.Topic != SimulatedMessage.UserEventsTopic || !decoder.TryDecode(message.Value, out var evt, out _)
                || string.IsNullOrEmpty(evt.UserId))
            {
                continue;
            }
            // Ids and properties play no part in the features; dropping them keeps 10M events in about 1 GB.
            events.Add(evt with { EventId = string.Empty, Properties = null });
            if (events.Count == options.Events)
            {
                break;
            }
        }
        var array = events.ToArray();
        var keys = new long[array.Length];
        for (var i = 0; i < array.Length; i++)
        {
            keys[i] = array[i].TimestampMs;
        }
        Array.Sort(keys, array);
        return array;
    }

    internal static void LoadTable(DuckDBConnection connection, UserEvent[] events)
    {
        Execute(connection, "CREATE OR REPLACE TABLE events (seq BIGINT, user_id VARCHAR, ts BIGINT, type SMALLINT, session_id VARCHAR, ip VARCHAR, user_agent VARCHAR)");
        using var appender = connection.CreateAppender("events");
        for (var i = 0; i < events.Length; i++)
        {
            var e = events[i];
            appender.CreateRow()
                .AppendValue((long)i)
                .AppendValue(e.UserId)
                .AppendValue(e.TimestampMs)
                .AppendValue((short)e.Type)
                .AppendValue(e.SessionId)
                .AppendValue(e.IpAddress)
                .AppendValue(e.UserAgent)
                .EndRow();
        }
    }

    /// <summary>The features in SQL, row for row what <see cref="UserFeatureState"/> computes over time-ordered events.</summary>
    internal static string Sql(long sessionTimeoutMs)
    {
        static string Code(EventType type) => ((int)type).ToString(CultureInfo.InvariantCulture);
        return $"""
            WITH e AS (
              SELECT user_id, ts, type, session_id, ip, user_agent,
                     lag(ts) OVER w AS prev_ts, lag(session_id) OVER w AS prev_session
              FROM events
              WINDOW w AS (PARTITION BY user_id ORDER BY ts, seq))
            SELECT user_id,
              count(*) AS events,
              sum(CASE WHEN prev_ts IS NULL THEN 1
                       WHEN session_id IS NOT NULL THEN CAST(prev_session IS DISTINCT FROM session_id AS INTEGER)
                       ELSE CAST(prev_session IS NOT NULL OR ts - prev_ts > {sessionTimeoutMs} AS INTEGER) END) AS sessions,
              sum(cos(2 * pi() * (ts % {DayMs}) / {DayMs}.0)) AS hour_cos,
              sum(sin(2 * pi() * (ts % {DayMs}) / {DayMs}.0)) AS hour_sin,
              count(*) FILTER (WHERE ts % {DayMs} < {6 * 3_600_000}) AS night,
              count(*) FILTER (WHERE type = {Code(EventType.LoginSuccess)}) AS logins,
              count(*) FILTER (WHERE type = {Code(EventType.LoginFailed)}) AS failed,
              count(*) FILTER (WHERE type = {Code(EventType.Search)}) AS searches,
              count(*) FILTER (WHERE type IN ({Code(EventType.PasswordChanged)}, {Code(EventType.PasswordResetRequested)}, {Code(EventType.EmailChanged)}, {Code(EventType.MfaChanged)})) AS changes,
              count(DISTINCT ip) AS ips,
              count(DISTINCT user_agent) AS devices,
              avg((ts - prev_ts) / 1000.0) AS gap_mean,
              stddev_samp((ts - prev_ts) / 1000.0) AS gap_std,
              count(DISTINCT ts // {DayMs}) AS days
            FROM e
            GROUP BY user_id
            ORDER BY user_id
            """;
    }

    internal static Row[] RunVigil(UserEvent[] events)
    {
        var aggregator = new UserFeatureAggregator();
        foreach (var evt in events)
        {
            aggregator.Add(evt);
        }
        var ids = aggregator.UserIds();
        var rows = new Row[ids.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var features = new float[UserFeatures.Count];
            aggregator.TryGetFeatures(ids[i], features);
            rows[i] = new Row(ids[i], features);
        }
        return rows;
    }

    internal static Row[] RunDuckDb(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<Row>();
        while (reader.Read())
        {
            var events = reader.GetInt64(1);
            var sessions = Math.Max(1, reader.GetInt64(2));
            var cos = reader.GetDouble(3);
            var sin = reader.GetDouble(4);
            var logins = reader.GetInt64(6);
            var failed = reader.GetInt64(7);
            var f = new float[UserFeatures.Count];
            f[(int)UserFeature.Events] = events;
            f[(int)UserFeature.Sessions] = reader.GetInt64(2);
            f[(int)UserFeature.EventsPerSession] = (float)((double)events / sessions);
            f[(int)UserFeature.MeanActiveHour] = (float)MeanHour(cos, sin);
            f[(int)UserFeature.NightShare] = (float)((double)reader.GetInt64(5) / events);
            f[(int)UserFeature.FailedLoginRatio] = logins + failed == 0 ? 0 : (float)((double)failed / (logins + failed));
            f[(int)UserFeature.DistinctIps] = reader.GetInt64(10);
            f[(int)UserFeature.DistinctCountries] = 0;
            f[(int)UserFeature.DistinctDevices] = reader.GetInt64(11);
            f[(int)UserFeature.SearchesPerSession] = (float)((double)reader.GetInt64(8) / sessions);
            f[(int)UserFeature.GapMeanSeconds] = reader.IsDBNull(12) ? 0 : (float)reader.GetDouble(12);
            f[(int)UserFeature.GapStdSeconds] = reader.IsDBNull(13) ? 0 : (float)reader.GetDouble(13);
            f[(int)UserFeature.DaysActive] = reader.GetInt64(14);
            f[(int)UserFeature.Logins] = logins;
            f[(int)UserFeature.AccountChanges] = reader.GetInt64(9);
            rows.Add(new Row(reader.GetString(0), f));
        }
        // ORDER BY in SQL sorts by DuckDB's collation; ordinal order makes the two lists line up.
        rows.Sort((a, b) => string.CompareOrdinal(a.UserId, b.UserId));
        return [.. rows];
    }

    /// <summary>
    /// Compares the two result sets user by user. Every feature must agree (floating sums to a relative 1e-4), except
    /// that Vigil's distinct counts are sketches, exact up to <see cref="DistinctSketch.ExactCapacity"/> values: above
    /// that only the sketch's largest relative error is reported.
    /// </summary>
    internal static JsonObject CrossCheck(Row[] vigil, Row[] duck)
    {
        var mismatches = new JsonArray();
        var mismatched = 0;
        var sketched = 0;
        var sketchWorst = 0.0;
        if (vigil.Length != duck.Length)
        {
            mismatches.Add($"user counts differ: vigil {vigil.Length}, duckdb {duck.Length}");
        }
        for (var i = 0; i < Math.Min(vigil.Length, duck.Length); i++)
        {
            var a = vigil[i];
            var b = duck[i];
            if (a.UserId != b.UserId)
            {
                mismatched++;
                if (mismatches.Count < 10)
                {
                    mismatches.Add($"row {i}: user {a.UserId} against {b.UserId}");
                }
                continue;
            }
            var bad = false;
            for (var f = 0; f < UserFeatures.Count; f++)
            {
                var feature = (UserFeature)f;
                double x = a.Features[f], y = b.Features[f];
                bool ok;
                if (feature is UserFeature.DistinctIps or UserFeature.DistinctDevices && y > DistinctSketch.ExactCapacity)
                {
                    // A sketch's error is not a disagreement about the data: reported as its largest relative error.
                    sketched++;
                    sketchWorst = Math.Max(sketchWorst, Math.Abs(x - y) / y);
                    ok = true;
                }
                else if (feature == UserFeature.MeanActiveHour)
                {
                    var d = Math.Abs(x - y);
                    ok = Math.Min(d, 24 - d) <= 1e-3;
                }
                else
                {
                    ok = Math.Abs(x - y) <= 1e-4 * Math.Max(1, Math.Abs(y));
                }
                if (!ok)
                {
                    bad = true;
                    if (mismatches.Count < 10)
                    {
                        mismatches.Add($"{a.UserId} {UserFeatures.Name(feature)}: vigil {x}, duckdb {y}");
                    }
                }
            }
            if (bad)
            {
                mismatched++;
            }
        }
        return new JsonObject
        {
            ["usersCompared"] = Math.Min(vigil.Length, duck.Length),
            ["usersMismatched"] = mismatched,
            ["distinctCountsAboveSketchExactness"] = sketched,
            ["sketchLargestRelativeError"] = BenchStats.Round(sketchWorst, 3),
            ["rule"] = "every feature equal within 1e-4 relative (mean hour within 1e-3 h); distinct IPs and devices compared exactly up to 4 distinct values; above that Vigil's 128-bit per-user sketch estimates them and only its error is reported",
            ["examples"] = mismatches,
        };
    }

    private static double MeanHour(double cos, double sin)
    {
        if (Math.Abs(cos) < 1e-9 && Math.Abs(sin) < 1e-9)
        {
            return 0;
        }
        var hour = Math.Atan2(sin, cos) * 24 / (2 * Math.PI);
        hour = hour < 0 ? hour + 24 : hour;
        return hour >= 24 ? 0 : hour;
    }

    private static JsonObject Side(double rowsPerSecond, List<double> seconds, string how)
    {
        var runs = new JsonArray();
        foreach (var s in seconds)
        {
            runs.Add(BenchStats.Round(s, 3));
        }
        return new JsonObject
        {
            ["rowsPerSecond"] = BenchStats.Round(rowsPerSecond, 0),
            ["medianSeconds"] = BenchStats.Round(BenchStats.Median(seconds), 3),
            ["runsSeconds"] = runs,
            ["how"] = how,
        };
    }

    private static double MedianRatio(List<double> slower, List<double> faster)
    {
        var ratios = new List<double>();
        for (var i = 0; i < Math.Min(slower.Count, faster.Count); i++)
        {
            ratios.Add(slower[i] / faster[i]);
        }
        return BenchStats.Median(ratios);
    }

    private static void Execute(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Scalar(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture) ?? "";
    }
}
