using System.Diagnostics;
using System.Globalization;
using System.Text;
using Vigil.Server.Pipeline;
using Vigil.Storage;

namespace Vigil.Server.Api;

/// <summary>GET /metrics in the Prometheus text exposition format (version 0.0.4).</summary>
public static class PrometheusApi
{
    public static IEndpointRouteBuilder MapPrometheusApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", ScrapeAsync).WithTags("Status").WithName("PrometheusMetrics")
            .WithSummary("Counters, gauges and the processing-latency histogram for Prometheus.")
            .RequireAuthorization(Security.Policies.Read);
        return app;
    }

    // The stored alerts are counted in the database (a scan of the alerts table): at most once a second, however often
    // /metrics is scraped (bench e2e polls it every 50 ms).
    private static readonly TimeSpan s_storedCountsFor = TimeSpan.FromSeconds(1);
    private static StoredCounts? s_storedCounts;

    private sealed record StoredCounts(IVigilStore Store, long At, SeverityCounts Counts);

    private static async Task<SeverityCounts> StoredCountsAsync(IVigilStore store, CancellationToken ct)
    {
        if (Volatile.Read(ref s_storedCounts) is { } cached && ReferenceEquals(cached.Store, store) && Stopwatch.GetElapsedTime(cached.At) < s_storedCountsFor)
        {
            return cached.Counts;
        }
        var counts = await store.CountAlertsBySeverityAsync(ct);
        Volatile.Write(ref s_storedCounts, new StoredCounts(store, Stopwatch.GetTimestamp(), counts));
        return counts;
    }

    internal static async Task<IResult> ScrapeAsync(PipelineMetrics metrics, IVigilStore store, CancellationToken ct)
    {
        var text = new StringBuilder(4096);
        Counter(text, "vigil_events_total", "User events decoded and processed.", metrics.EventsIn);
        Counter(text, "vigil_notifications_total", "Notifications decoded.", metrics.Notifications);
        Counter(text, "vigil_dead_letters_total", "Messages rejected to the dead-letter topic and table.", metrics.DeadLetters);
        Counter(text, "vigil_unknown_event_types_total", "User events of a type Vigil does not know, kept as OTHER.", metrics.UnknownTypes);
        var raised = metrics.AlertsRaised;
        Header(text, "vigil_alerts_raised_total", "Alerts raised since start, by severity.", "counter");
        Sample(text, "vigil_alerts_raised_total{severity=\"LOW\"}", raised.Low);
        Sample(text, "vigil_alerts_raised_total{severity=\"MEDIUM\"}", raised.Medium);
        Sample(text, "vigil_alerts_raised_total{severity=\"HIGH\"}", raised.High);
        Sample(text, "vigil_alerts_raised_total{severity=\"CRITICAL\"}", raised.Critical);
        var stored = await StoredCountsAsync(store, ct);
        Header(text, "vigil_alerts_stored", "Alerts in the store, by severity.", "gauge");
        Sample(text, "vigil_alerts_stored{severity=\"LOW\"}", stored.Low);
        Sample(text, "vigil_alerts_stored{severity=\"MEDIUM\"}", stored.Medium);
        Sample(text, "vigil_alerts_stored{severity=\"HIGH\"}", stored.High);
        Sample(text, "vigil_alerts_stored{severity=\"CRITICAL\"}", stored.Critical);
        Gauge(text, "vigil_input_messages_per_second", "Input rate over the last seconds.", metrics.MessagesPerSecond);
        Gauge(text, "vigil_tracked_keys", "Keys the rules hold state for.", metrics.TrackedKeys);
        Gauge(text, "vigil_latest_event_time_seconds", "The latest event time seen, Unix seconds.", metrics.MaxEventTimeMs / 1000.0);

        Counter(text, "vigil_checkpoints_total", "Checkpoint rounds completed (one partition's turn each; every partition in exactly_once).", metrics.Checkpoints);
        Counter(text, "vigil_checkpoint_failures_total", "Checkpoint rounds that failed and were retried later.", metrics.CheckpointFailures);
        Counter(text, "vigil_log_truncations_total",
            "Times a partition's offsets went backwards (the broker's log was truncated or replaced) and processing carried on from the broker's log.",
            metrics.LogTruncations);
        Gauge(text, "vigil_shared_buffered_events", "Forwarded events the shared (IP and tenant) stage holds until every partition has passed them.",
            metrics.SharedBuffered);
        Counter(text, "vigil_shared_behind_events_total",
            "Forwarded events that reached the shared stage after it had moved past them (their partition was idle): run out of order.",
            metrics.SharedBehind);
        Gauge(text, "vigil_checkpoint_duration_seconds", "Duration of the last checkpoint round (one partition's turn; every partition in exactly_once), sink barrier included.",
            double.IsNaN(metrics.LastCheckpointMs) ? 0 : metrics.LastCheckpointMs / 1000);
        Gauge(text, "vigil_checkpoint_bytes", "Size of the last checkpoint round.", metrics.LastCheckpointBytes);
        Header(text, "vigil_consumer_lag_messages", "Messages behind the end of each partition.", "gauge");
        foreach (var ((topic, partition), lag) in metrics.Lag)
        {
            Sample(text, $"vigil_consumer_lag_messages{{topic=\"{Escape(topic)}\",partition=\"{partition}\"}}", lag);
        }

        var histogram = metrics.ProcessingLatency;
        Header(text, "vigil_processing_latency_seconds", "From the Kafka record's timestamp to the end of processing.", "histogram");
        var cumulative = histogram.CumulativeCounts();
        for (var i = 0; i < LatencyHistogram.BoundsMs.Length; i++)
        {
            Sample(text, $"vigil_processing_latency_seconds_bucket{{le=\"{(LatencyHistogram.BoundsMs[i] / 1000).ToString(CultureInfo.InvariantCulture)}\"}}", cumulative[i]);
        }
        Sample(text, "vigil_processing_latency_seconds_bucket{le=\"+Inf\"}", cumulative[^1]);
        Sample(text, "vigil_processing_latency_seconds_sum", histogram.SumMs / 1000);
        Sample(text, "vigil_processing_latency_seconds_count", histogram.Count);

        using var process = Process.GetCurrentProcess();
        Gauge(text, "process_resident_memory_bytes", "Resident memory.", process.WorkingSet64);
        Counter(text, "process_cpu_seconds_total", "CPU time used.", process.TotalProcessorTime.TotalSeconds);
        Gauge(text, "dotnet_gc_heap_size_bytes", "Managed heap size.", GC.GetTotalMemory(false));
        Header(text, "dotnet_gc_collections_total", "Garbage collections by generation.", "counter");
        for (var g = 0; g <= GC.MaxGeneration; g++)
        {
            Sample(text, $"dotnet_gc_collections_total{{generation=\"{g}\"}}", GC.CollectionCount(g));
        }
        Counter(text, "dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start.", GC.GetTotalAllocatedBytes(false));
        Gauge(text, "dotnet_gc_pause_time_ratio", "Share of time spent in GC pauses since start.", GC.GetTotalPauseDuration().TotalSeconds / Math.Max(1, metrics.Uptime.TotalSeconds));
        Gauge(text, "vigil_uptime_seconds", "Seconds since start.", metrics.Uptime.TotalSeconds);
        return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
    }

    private static void Counter(StringBuilder text, string name, string help, double value)
    {
        Header(text, name, help, "counter");
        Sample(text, name, value);
    }

    private static void Gauge(StringBuilder text, string name, string help, double value)
    {
        Header(text, name, help, "gauge");
        Sample(text, name, value);
    }

    private static void Header(StringBuilder text, string name, string help, string type) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string series, double value) =>
        text.Append(series).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    private static string Escape(string label) =>
        label.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
