using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Core.Alerts;
using Vigil.Server.Hosting;
using Vigil.Server.Pipeline;

namespace Vigil.Server.Api;

public sealed record QueueStatus(string Name, int Depth, int Capacity);

public sealed record PipelineReport(
    string ConsumerGroup, string Bootstrap, bool EmbeddedBroker, string CheckpointInterval, long Checkpoints, long CheckpointFailures,
    string? LastCheckpointAt, double? LastCheckpointMs, long LastCheckpointBytes, IReadOnlyList<QueueStatus> Queues,
    IReadOnlyList<PartitionStatus> Partitions);

/// <summary>GET /api/pipeline: partitions, offsets, lag, watermarks, checkpoints and back-pressure.</summary>
public static class PipelineApi
{
    public static IEndpointRouteBuilder MapPipelineApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/pipeline", Get).WithTags("Status").WithName("Pipeline")
            .WithSummary("Owned partitions with offsets, lag, watermarks and state; checkpoint times; queue depths (back-pressure).")
            .RequireAuthorization(Security.Policies.Read);
        return app;
    }

    internal static Ok<PipelineReport> Get(PipelineMetrics metrics, PipelineChannels channels, VigilOptions options) =>
        TypedResults.Ok(new PipelineReport(
            options.ConsumerGroup,
            options.KafkaBootstrapServers ?? "",
            options.UsesEmbeddedBroker,
            options.CheckpointInterval.ToString(),
            metrics.Checkpoints,
            metrics.CheckpointFailures,
            metrics.LastCheckpointAt is { } at ? AlertJson.Format(at) : null,
            double.IsNaN(metrics.LastCheckpointMs) ? null : Math.Round(metrics.LastCheckpointMs, 2),
            metrics.LastCheckpointBytes,
            [
                new QueueStatus("consumer → pipeline (batches)", metrics.InputQueueDepth?.Invoke() ?? 0, IngestService.InputBatches),
                new QueueStatus("pipeline → alert sink", channels.Alerts.Reader.Count, 10_000),
                new QueueStatus("pipeline → dead-letter sink", channels.DeadLetters.Reader.Count, 10_000),
            ],
            metrics.Partitions));
}
