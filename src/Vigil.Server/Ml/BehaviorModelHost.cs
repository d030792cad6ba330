using System.Threading.Channels;
using Vigil.Core.Detection;
using Vigil.Core.Ml;
using Vigil.Storage;

namespace Vigil.Server.Ml;

/// <summary>
/// Looks after the <see cref="BehaviorModel"/> that serve's partitions share: reads it back from
/// <c>behavior-model.bin</c> in the model directory before the stream starts (so a restart keeps its sample and
/// forest instead of learning again from nothing), and after each refit writes it there, records it in
/// ml_model_metrics, announces it as a MODEL_TRAINED insight and keeps its record for GET /api/ml-metrics. It is written
/// once more when the host stops.
/// </summary>
/// <remarks>The model is the instance's (its partitions feed it between them), not a partition's, so it is not in the
/// partitions' checkpoints; a replay, which owns its model, checkpoints it with the pipeline instead.</remarks>
public sealed class BehaviorModelHost(BehaviorModel model, MlOptions options, IVigilStore store, IInsightSink insights, TimeProvider clock,
    ILogger<BehaviorModelHost> logger) : BackgroundService
{
    /// <summary>The file in the model directory.</summary>
    public const string FileName = "behavior-model.bin";

    private readonly Channel<BehaviorModelTrained> _trained = Channel.CreateBounded<BehaviorModelTrained>(
        new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private ModelInfo? _latest;

    /// <summary>The record of the forest in service (null before the first refit since the start).</summary>
    public ModelInfo? Latest => Volatile.Read(ref _latest);

    /// <summary>The file's path.</summary>
    public string FilePath { get; } = Path.Combine(options.ModelDirectory, FileName);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        Load();
        if (model.Version > 0)
        {
            // The loaded forest's record, so the API shows it before the next refit.
            try
            {
                foreach (var info in await store.RecentModelMetricsAsync(ModelKinds.Behavior, 5, cancellationToken))
                {
                    if (info.Version == model.Version)
                    {
                        Volatile.Write(ref _latest, info);
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Reading the behaviour model's record from ml_model_metrics failed");
            }
        }
        model.Trained += OnTrained;
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        model.Trained -= OnTrained;
        await base.StopAsync(cancellationToken);
        Save();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var trained in _trained.Reader.ReadAllAsync(stoppingToken))
            {
                var info = ToInfo(trained, clock.GetUtcNow());
                Volatile.Write(ref _latest, info);
                Save();
                try
                {
                    await store.InsertModelMetricsAsync(info, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Recording behaviour model v{Version} in ml_model_metrics failed", info.Version);
                }
                insights.Publish(ModelTrainerService.ModelTrainedInsight(info));
                logger.LogInformation("BEHAVIOR_ANOMALY refitted its forest: v{Version} on {Users} users, p99 score {P99}",
                    info.Version, info.SampleCount, info.Metrics["scoreP99"]);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The registry record of a refit.</summary>
    internal static ModelInfo ToInfo(BehaviorModelTrained trained, DateTimeOffset at)
    {
        var parameters = new Dictionary<string, double>(trained.Parameters, StringComparer.Ordinal)
        {
            ["eventTimeMs"] = trained.EventTimeMs,
        };
        return new ModelInfo(ModelKinds.Behavior, trained.Version, at, trained.SampleCount, trained.TrainingMs, parameters, trained.Metrics);
    }

    // Raised on a partition's thread: hand over and return at once.
    private void OnTrained(BehaviorModelTrained trained) => _trained.Writer.TryWrite(trained);

    private void Load()
    {
        if (!File.Exists(FilePath))
        {
            return;
        }
        try
        {
            using var stream = File.OpenRead(FilePath);
            using var reader = new BinaryReader(stream);
            model.ReadState(reader);
            logger.LogInformation("Loaded the behaviour model from {File}: forest v{Version}, {Users} users in its sample",
                FilePath, model.Version, model.SampleCount);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException or EndOfStreamException)
        {
            logger.LogWarning(ex, "The saved behaviour model {File} cannot be read; it will be learnt again from the stream", FilePath);
        }
    }

    private void Save()
    {
        if (model.Version == 0 && model.SampleCount == 0)
        {
            return;
        }
        var temporary = FilePath + ".tmp";
        try
        {
            Directory.CreateDirectory(options.ModelDirectory);
            using (var stream = File.Create(temporary))
            using (var writer = new BinaryWriter(stream))
            {
                model.WriteState(writer);
            }
            File.Move(temporary, FilePath, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(ex, "Saving the behaviour model to {File} failed; it stays in memory", FilePath);
        }
    }

    public override void Dispose()
    {
        model.Trained -= OnTrained;
        base.Dispose();
    }
}
