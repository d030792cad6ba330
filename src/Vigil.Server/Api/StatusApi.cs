using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Core.Alerts;
using Vigil.Server.Hosting;
using Vigil.Server.Pipeline;
using Vigil.Storage;

namespace Vigil.Server.Api;

public sealed record ComponentHealth(string Status, string Kind, string? Detail);

public sealed record HealthReport(string Status, string Version, double UptimeSeconds, ComponentHealth Database, ComponentHealth Broker);

public sealed record AlertCounts(long Low, long Medium, long High, long Critical, long Total);

public sealed record MetricsReport(
    long EventsIn, double EventsPerSecond, long Notifications, long DeadLetters, long UnknownEventTypes,
    AlertCounts Alerts, AlertCounts AlertsSinceStart, string? LatestEventTime, long TrackedKeys, double UptimeSeconds,
    double LatencyP50Ms, double LatencyP99Ms, long ConsumerLag, long Checkpoints, double? LastCheckpointMs, long LastCheckpointBytes);

/// <summary>GET /api/health and GET /api/metrics.</summary>
public static class StatusApi
{
    public static IEndpointRouteBuilder MapStatusApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/health", HealthAsync).WithTags("Status").WithName("Health")
            .WithSummary("Overall health with the database and broker checks.");
        app.MapGet("/api/metrics", MetricsAsync).WithTags("Status").WithName("Metrics").RequireAuthorization(Security.Policies.Read)
            .WithSummary("Pipeline counters: events in, events/s, alerts by severity, dead letters.");
        return app;
    }

    internal static async Task<Results<Ok<HealthReport>, JsonHttpResult<HealthReport>>> HealthAsync(
        IVigilStore store, VigilOptions options, PipelineMetrics metrics, CancellationToken ct)
    {
        var dbOk = await store.PingAsync(ct);
        var brokerProblem = await Vigil.Kafka.KafkaAdmin.ProbeAsync(KafkaOptionsFactory.Create(options), TimeSpan.FromSeconds(3), ct);
        var report = new HealthReport(
            dbOk && brokerProblem is null ? "healthy" : "unhealthy",
            typeof(StatusApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            Math.Round(metrics.Uptime.TotalSeconds, 1),
            new ComponentHealth(dbOk ? "healthy" : "unhealthy", store.Kind, dbOk ? null : "The database does not answer."),
            new ComponentHealth(brokerProblem is null ? "healthy" : "unhealthy", options.UsesEmbeddedBroker ? "embedded" : "kafka",
                brokerProblem is null ? options.KafkaBootstrapServers : $"{options.KafkaBootstrapServers}: {brokerProblem}"));
        return dbOk && brokerProblem is null
            ? TypedResults.Ok(report)
            : TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static long TotalLag(PipelineMetrics metrics)
    {
        long total = 0;
        foreach (var lag in metrics.Lag.Values)
        {
            total += Math.Max(0, lag);
        }
        return total;
    }

    internal static async Task<Ok<MetricsReport>> MetricsAsync(IVigilStore store, PipelineMetrics metrics, CancellationToken ct)
    {
        var stored = await store.CountAlertsBySeverityAsync(ct);
        var raised = metrics.AlertsRaised;
        var latest = metrics.MaxEventTimeMs;
        return TypedResults.Ok(new MetricsReport(
            metrics.EventsIn,
            Math.Round(metrics.MessagesPerSecond, 1),
            metrics.Notifications,
            metrics.DeadLetters,
            metrics.UnknownTypes,
            new AlertCounts(stored.Low, stored.Medium, stored.High, stored.Critical, stored.Total),
            new AlertCounts(raised.Low, raised.Medium, raised.High, raised.Critical, raised.Low + raised.Medium + raised.High + raised.Critical),
            latest == 0 ? null : AlertJson.Format(DateTimeOffset.FromUnixTimeMilliseconds(latest)),
            metrics.TrackedKeys,
            Math.Round(metrics.Uptime.TotalSeconds, 1),
            Math.Round(metrics.ProcessingLatency.Quantile(0.5), 1),
            Math.Round(metrics.ProcessingLatency.Quantile(0.99), 1),
            TotalLag(metrics),
            metrics.Checkpoints,
            double.IsNaN(metrics.LastCheckpointMs) ? null : Math.Round(metrics.LastCheckpointMs, 2),
            metrics.LastCheckpointBytes));
    }
}
