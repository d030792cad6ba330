using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Core.Detection;
using Vigil.Core.Features;
using Vigil.Core.Ml;
using Vigil.Server.Ml;
using Vigil.Server.Security;
using Vigil.Storage;

namespace Vigil.Server.Api;

/// <summary>The models in service and their history.</summary>
/// <param name="KMeans">The segmentation in service, null before the first training.</param>
/// <param name="IsolationForest">The anomaly model in service, null before the first training.</param>
/// <param name="History">Recorded trainings, newest first (ml_model_metrics).</param>
/// <param name="Training">The trainer's state.</param>
/// <param name="Sample">The training sample's fill.</param>
/// <param name="Behavior">BEHAVIOR_ANOMALY's forest, learnt in the stream.</param>
public sealed record MlMetricsReport([property: JsonPropertyName("kmeans")] ModelInfo? KMeans, [property: JsonPropertyName("iforest")] ModelInfo? IsolationForest, IReadOnlyList<ModelInfo> History,
    TrainingStatus Training, SampleStatus Sample, BehaviorModelStatus Behavior);

/// <summary>BEHAVIOR_ANOMALY's forest, learnt in the stream: its version (0 while learning), the users in its sample,
/// how many it needs before the first forest, and the record of its latest refit.</summary>
public sealed record BehaviorModelStatus(int Version, int SampleUsers, int MinTrainingUsers, ModelInfo? Model);

/// <summary>The trainer's state.</summary>
public sealed record TrainingStatus(bool Running, DateTimeOffset? NextRunAt, RetrainOutcome? LastOutcome, double RetrainIntervalSeconds);

/// <summary>How full the training sample is.</summary>
public sealed record SampleStatus(int Users, int Capacity);

/// <summary>One segment: its size and its centroid in original units.</summary>
public sealed record SegmentReport(int Index, string Name, long Users, double Share, IReadOnlyDictionary<string, double> Centroid);

/// <summary>The segmentation in service.</summary>
public sealed record SegmentsReport(int? ModelVersion, DateTimeOffset? TrainedAt, int K, long AssignedUsers, IReadOnlyList<SegmentReport> Segments);

/// <summary>GET /api/ml-metrics (alias /api/spark-metrics), GET /api/segments and POST /api/ml/retrain.</summary>
public static class MlApi
{
    public static IEndpointRouteBuilder MapMlApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/api/ml-metrics", MetricsAsync).WithTags("Machine learning").WithName("MlMetrics").RequireAuthorization(Policies.Read)
            .WithSummary("The k-means and isolation-forest models in service with their parameters and metrics, and past trainings.");
        app.MapGet("/api/spark-metrics", MetricsAsync).WithTags("Machine learning").WithName("SparkMetrics").RequireAuthorization(Policies.Read)
            .WithSummary("Alias of /api/ml-metrics for clients of the original Spark stack.");
        app.MapGet("/api/segments", SegmentsAsync).WithTags("Machine learning").WithName("Segments").RequireAuthorization(Policies.Read)
            .WithSummary("The segments of the model in service: names, sizes and centroids in original units.");
        app.MapPost("/api/ml/retrain", RetrainAsync).WithTags("Machine learning").WithName("Retrain").RequireAuthorization(Policies.Admin)
            .WithSummary("Retrains both models now on the current sample and swaps them in; returns the new models' records.");
        return app;
    }

    internal static async Task<Ok<MlMetricsReport>> MetricsAsync(ModelRegistry registry, ModelTrainerService trainer, FeatureReservoir reservoir,
        MlOptions options, IVigilStore store, BehaviorModel behavior, BehaviorModelHost behaviorHost, CancellationToken ct)
    {
        var current = registry.Current;
        var history = await store.RecentModelMetricsAsync(null, 50, ct);
        return TypedResults.Ok(new MlMetricsReport(current.SegmentsInfo, current.AnomalyInfo, history,
            new TrainingStatus(trainer.Running, trainer.NextRunAt, trainer.LastOutcome, options.RetrainInterval.TotalSeconds),
            new SampleStatus(reservoir.Count, reservoir.Capacity),
            new BehaviorModelStatus(behavior.Version, behavior.SampleCount, behavior.Options.MinTrainingUsers, behaviorHost.Latest)));
    }

    internal static async Task<Ok<SegmentsReport>> SegmentsAsync(ModelRegistry registry, IVigilStore store, CancellationToken ct)
    {
        var current = registry.Current;
        if (current.Segments is not { } model)
        {
            return TypedResults.Ok(new SegmentsReport(null, null, 0, 0, []));
        }
        var counts = await store.CountUsersBySegmentAsync(ct);
        long total = 0;
        foreach (var c in counts)
        {
            total += c.Users;
        }
        var segments = new List<SegmentReport>(model.K);
        for (var s = 0; s < model.K; s++)
        {
            long users = 0;
            foreach (var c in counts)
            {
                if (c.Segment == model.Names[s])
                {
                    users = c.Users;
                }
            }
            var centroid = new Dictionary<string, double>(StringComparer.Ordinal);
            for (var f = 0; f < UserFeatures.Count; f++)
            {
                centroid[UserFeatures.Names[f]] = Math.Round(model.CentroidInOriginalUnits(s, f), 4);
            }
            segments.Add(new SegmentReport(s, model.Names[s], users, total == 0 ? 0 : Math.Round((double)users / total, 4), centroid));
        }
        return TypedResults.Ok(new SegmentsReport(model.Version, current.SegmentsInfo?.TrainedAt, model.K, total, segments));
    }

    internal static async Task<Results<Ok<RetrainOutcome>, ProblemHttpResult>> RetrainAsync(ModelTrainerService trainer, ClaimsPrincipal user,
        IVigilStore store, TimeProvider clock, CancellationToken ct)
    {
        var actor = user.ActorName();
        var outcome = await trainer.RetrainAsync("requested by " + actor, ct);
        await store.AppendAuditAsync(new AuditEntry(clock.GetUtcNow(), actor, user.RoleName(), "ML_RETRAIN",
            outcome.KMeans is { } km ? $"kmeans v{km.Version}, iforest v{outcome.IsolationForest!.Version}" : null, outcome.Reason), ct);
        return outcome.Trained
            ? TypedResults.Ok(outcome)
            : TypedResults.Problem(title: "Nothing to train on yet.", detail: outcome.Reason, statusCode: StatusCodes.Status409Conflict);
    }
}
