using System.Globalization;
using System.Text;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Features;
using Vigil.Core.Geo;
using Vigil.Core.Processing;

namespace Vigil.Benchmarks;

/// <summary>
/// State per idle user for the standard per-user rule set (what <c>vigil serve</c> runs per partition: the user rules
/// and the ML features), measured on the managed heap. Each user logs in, views three pages and logs out; an hour
/// later (event time) the windows of that activity have closed and what is left is the state an idle user costs
/// until its TTL lets it go. Measured for the per-user rule set alone and with the ML features operator.
/// Run: <c>dotnet run -c Release --project bench/Vigil.Benchmarks -- state [users] [geo directory]</c>.
/// </summary>
internal static class StateFootprint
{
    public static void Run(int users, string? geoDirectory)
    {
        IGeoLocator? geo = null;
        if (geoDirectory is not null && Directory.Exists(geoDirectory))
        {
            geo = Vigil.Geo.MmdbGeoLocator.Open(geoDirectory);
        }
        var start = DateTimeOffset.UtcNow.AddHours(-3).ToUnixTimeMilliseconds();
        var stepMs = Math.Max(1, 3_600_000 / users);
        if (geo is not null)
        {
            // The locator's cache is bounded (65,536 results, ~7 MB) and not per-user state: it is filled before the
            // first heap reading, so that it is not counted against the users (every address is looked up once).
            for (var u = 0; u < users; u++)
            {
                geo.TryLookup(IpOf(u), out _);
            }
        }
        // The rule set alone (every per-user detection rule, BEHAVIOR_ANOMALY included), then with the ML features
        // operator as serve adds it (issue 6's feature engineering).
        var half = Pipeline("rules", users / 2, stepMs, start, geo, withFeatures: false);
        var full = Pipeline("rules", users, stepMs, start, geo, withFeatures: false);
        // The heap per user above divides everything the pipeline holds by the users, fixed costs included (the
        // decoder's bounded value cache, 2.6 MB; tables' initial sizes): the slope between half and all the users is
        // what one more idle user costs.
        Console.WriteLine($$"""{"pipeline":"rules","marginalHeapBytesPerIdleUser":{{(full - half) / (double)(users - (users / 2)):F0}},"fixedHeapBytes":{{full - ((full - half) / (double)(users - (users / 2)) * users):F0}},"between":[{{users / 2}},{{users}}]}""");
        Pipeline("rules+features", users, stepMs, start, geo, withFeatures: true);
        Breakdown(users, stepMs, start, geo);
        (geo as IDisposable)?.Dispose();
    }

    private static string IpOf(int u) => $"{81 + (u % 100)}.{(u >> 16) & 255}.{(u >> 8) & 255}.{u & 255}";

    /// <summary>Runs the users through a fresh pipeline and prints its footprint; returns the idle heap bytes.</summary>
    private static long Pipeline(string name, int users, long stepMs, long start, IGeoLocator? geo, bool withFeatures)
    {
        var options = new PipelineOptions
        {
            Scope = DetectionScope.PerUser,
            Geo = geo,
            ExtraPerUserOperators = withFeatures ? () => [new UserFeaturesOperator(geo: geo)] : null,
        };
        var alerts = new List<Alert>();
        // Event bytes are built before the first heap reading so that only the pipeline's state is counted.
        var messages = new byte[5][];
        var before = GC.GetTotalMemory(forceFullCollection: true);
        DetectionPipeline? pipeline = new DetectionPipeline(options, TimeProvider.System);
        long offset = 0;
        string[] types = ["LOGIN_SUCCESS", "PAGE_VIEW", "PAGE_VIEW", "PAGE_VIEW", "LOGOUT"];
        for (var u = 0; u < users; u++)
        {
            var t = start + ((long)u * stepMs);
            var user = "user-" + u.ToString("D7", CultureInfo.InvariantCulture);
            var ip = IpOf(u);
            for (var i = 0; i < types.Length; i++)
            {
                messages[i] = Encoding.UTF8.GetBytes(
                    $$"""{"eventId":"{{user}}-{{i}}","eventType":"{{types[i]}}","timestamp":{{t + (i * 20_000)}},"userId":"{{user}}","sessionId":"s-{{user}}","ipAddress":"{{ip}}","userAgent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}""");
            }
            for (var i = 0; i < messages.Length; i++)
            {
                pipeline.Process("user-events", 0, offset++, user, messages[i], alerts, out _);
            }
            alerts.Clear();
        }
        var active = GC.GetTotalMemory(forceFullCollection: true) - before;
        // One more event an hour after the last user moves event time on: the activity windows close.
        var late = start + ((long)users * stepMs) + 3_600_000;
        pipeline.Process("user-events", 0, offset++, "user-idle-clock",
            Encoding.UTF8.GetBytes($$"""{"eventId":"clock","eventType":"PAGE_VIEW","timestamp":{{late}},"userId":"user-idle-clock"}"""), alerts, out _);
        pipeline.Tick(alerts);
        var idle = GC.GetTotalMemory(forceFullCollection: true) - before;
        var checkpoint = pipeline.Snapshot();
        Console.WriteLine($$"""{"pipeline":"{{name}}","users":{{users}},"geo":{{(geo is not null ? "true" : "false")}},"heapBytesPerActiveUser":{{active / (double)users:F0}},"heapBytesPerIdleUser":{{idle / (double)users:F0}},"checkpointBytesPerIdleUser":{{checkpoint.Length / (double)users:F1}},"keys":{{pipeline.TrackedKeys}},"estimatedStateBytes":{{pipeline.StateBytes}}}""");
        GC.KeepAlive(pipeline);
        return idle;
    }

    /// <summary>The same traffic through each per-user operator alone (events decoded beforehand, so key strings are
    /// not counted here), to see which rule's state dominates.</summary>
    private static void Breakdown(int users, long stepMs, long start, IGeoLocator? geo)
    {
        var decoder = new Vigil.Core.Events.EventDecoder(new Vigil.Core.Events.EventDecoderOptions(), TimeProvider.System);
        string[] types = ["LOGIN_SUCCESS", "PAGE_VIEW", "PAGE_VIEW", "PAGE_VIEW", "LOGOUT"];
        var events = new Vigil.Core.Events.UserEvent[(users * types.Length) + 1];
        var n = 0;
        for (var u = 0; u < users; u++)
        {
            var t = start + ((long)u * stepMs);
            var user = "user-" + u.ToString("D7", CultureInfo.InvariantCulture);
            var ip = IpOf(u);
            for (var i = 0; i < types.Length; i++)
            {
                decoder.TryDecode(Encoding.UTF8.GetBytes(
                    $$"""{"eventId":"{{user}}-{{i}}","eventType":"{{types[i]}}","timestamp":{{t + (i * 20_000)}},"userId":"{{user}}","sessionId":"s-{{user}}","ipAddress":"{{ip}}","userAgent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}"""),
                    out var evt, out _);
                events[n++] = evt!;
            }
        }
        decoder.TryDecode(Encoding.UTF8.GetBytes(
            $$"""{"eventId":"clock","eventType":"PAGE_VIEW","timestamp":{{start + ((long)users * stepMs) + 3_600_000}},"userId":"user-idle-clock"}"""),
            out var clock, out _);
        events[n++] = clock!;
        var clockTime = TimeProvider.System;
        (string Name, Func<IOperator<Vigil.Core.Events.UserEvent, Alert>> Create)[] operators =
        [
            ("BRUTE_FORCE", () => new BruteForceOperator(new BruteForceOptions(), clockTime)),
            ("ACCOUNT_TAKEOVER", () => new AccountTakeoverOperator(new AccountTakeoverOptions(), geo, clockTime)),
            ("GEO_LOGIN", () => geo is null ? new RapidActivityOperator(new RapidActivityOptions { Enabled = false }, clockTime) : new GeoLoginOperator(new GeoLoginOptions(), geo, clockTime)),
            ("RAPID_ACTIVITY", () => new RapidActivityOperator(new RapidActivityOptions(), clockTime)),
            ("USER_FEATURES", () => new UserFeaturesOperator(geo: geo)),
            ("BEHAVIOR_ANOMALY", () => new BehaviorAnomalyOperator(new BehaviorAnomalyOptions(), geo, clockTime)),
            ("RESET_BOMBING", () => new ResetBombingOperator(new ResetBombingOptions(), clockTime)),
        ];
        var sink = new ListOutput<Alert>();
        foreach (var (name, create) in operators)
        {
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var runtime = new PartitionRuntime<Vigil.Core.Events.UserEvent, Alert>([create()], new PartitionRuntimeOptions
            {
                Watermarks = new PipelineOptions().Watermarks,
            });
            for (var i = 0; i < n; i++)
            {
                runtime.Process(events[i], events[i].TimestampMs, i, sink);
                sink.Items.Clear();
            }
            runtime.Tick(sink);
            var state = runtime.Operators[0].GetType().GetProperty("State")?.GetValue(runtime.Operators[0]);
            var keys = state?.GetType().GetProperty("Count")?.GetValue(state) is int c ? c : -1;
            var after = GC.GetTotalMemory(forceFullCollection: true);
            Console.WriteLine($$"""{"operator":"{{name}}","keys":{{keys}},"heapBytesPerIdleUser":{{(after - before) / (double)users:F0}},"checkpointBytesPerIdleUser":{{runtime.Snapshot().Length / (double)users:F1}}}""");
            GC.KeepAlive(runtime);
        }
    }

    /// <summary>
    /// <c>state-active [users]</c>: the workload of <c>vigil bench memory</c> (each user fails a login, logs in, views a
    /// page and searches, within five minutes of event time, from their own address) through each operator of the full
    /// pipeline alone, heap per user while every user is still active: which rule's state dominates that RSS.
    /// </summary>
    public static void RunActive(int users)
    {
        string[] agents =
        [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        ];
        var decoder = new Vigil.Core.Events.EventDecoder(new Vigil.Core.Events.EventDecoderOptions(), TimeProvider.System);
        var start = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        var stepMs = Math.Max(1e-3, 300_000.0 / users);
        var events = new Vigil.Core.Events.UserEvent[users * 4];
        var n = 0;
        for (var u = 0; u < users; u++)
        {
            var t = start + (long)(u * stepMs);
            var user = $"u-{u:D8}";
            var session = $"s-{u:x8}{u * 2654435761L:x8}";
            var ip = $"{10 + (u >> 24 & 0x3F)}.{(u >> 16) & 0xFF}.{(u >> 8) & 0xFF}.{u & 0xFF}";
            for (var k = 0; k < 4; k++)
            {
                var type = k switch { 0 => "LOGIN_FAILED", 1 => "LOGIN_SUCCESS", _ => k % 2 == 0 ? "PAGE_VIEW" : "SEARCH" };
                var sessionField = k == 0 ? "" : $",\"sessionId\":\"{session}\"";
                decoder.TryDecode(Encoding.UTF8.GetBytes(
                    $$"""{"eventId":"e-{{u}}-{{k}}","eventType":"{{type}}","timestamp":{{t + k}},"userId":"{{user}}","username":"name.{{user}}"{{sessionField}},"ipAddress":"{{ip}}","userAgent":"{{agents[u % 3]}}"}"""),
                    out var evt, out _);
                events[n++] = evt!;
            }
        }
        var clock = TimeProvider.System;
        (string Name, Func<IOperator<Vigil.Core.Events.UserEvent, Alert>> Create)[] operators =
        [
            ("BRUTE_FORCE", () => new BruteForceOperator(new BruteForceOptions(), clock)),
            ("ACCOUNT_TAKEOVER", () => new AccountTakeoverOperator(new AccountTakeoverOptions(), null, clock)),
            ("RAPID_ACTIVITY", () => new RapidActivityOperator(new RapidActivityOptions(), clock)),
            ("USER_FEATURES", () => new UserFeaturesOperator()),
            ("BEHAVIOR_ANOMALY", () => new BehaviorAnomalyOperator(new BehaviorAnomalyOptions(), null, clock)),
            ("BRUTE_FORCE_IP", () => new BruteForceIpOperator(new BruteForceIpOptions(), clock)),
            ("PASSWORD_SPRAY", () => new PasswordSprayOperator(new PasswordSprayOptions(), clock)),
            ("CREDENTIAL_STUFFING", () => new CredentialStuffingOperator(new CredentialStuffingOptions(), clock)),
        ];
        var sink = new ListOutput<Alert>();
        foreach (var (name, create) in operators)
        {
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var runtime = new PartitionRuntime<Vigil.Core.Events.UserEvent, Alert>([create()], new PartitionRuntimeOptions
            {
                Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = Timeout.InfiniteTimeSpan },
            });
            for (var i = 0; i < n; i++)
            {
                runtime.Process(events[i], events[i].TimestampMs, i, sink);
                sink.Items.Clear();
            }
            var after = GC.GetTotalMemory(forceFullCollection: true);
            Console.WriteLine($$"""{"operator":"{{name}}","heapBytesPerActiveUser":{{(after - before) / (double)users:F0}}}""");
            GC.KeepAlive(runtime);
        }
        var decodedBefore = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(events);
        events = null;
        var decodedAfter = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($$"""{"decodedEventsBytesPerUser":{{(decodedBefore - decodedAfter) / (double)users:F0}}}""");
    }
}
