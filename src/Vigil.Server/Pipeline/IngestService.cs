using System.Text;
using System.Threading.Channels;
using Vigil.Core.Alerts;
using Vigil.Core.Processing;
using Vigil.Kafka;
using Vigil.Server.Hosting;

namespace Vigil.Server.Pipeline;

/// <summary>
/// Consumes <c>user-events</c> and <c>notifications</c> in the consumer group, runs each message through the
/// detection pipeline, and hands alerts and dead letters to their sinks. The blocking consume loop lives on its
/// own thread inside <see cref="KafkaSource"/>; this service drains its bounded channel.
/// </summary>
public sealed class IngestService(VigilOptions options, PipelineOptions pipelineOptions, PipelineChannels channels,
    PipelineMetrics metrics, TimeProvider clock, ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<IngestService>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var records = Channel.CreateBounded<SourceRecord>(new BoundedChannelOptions(10_000)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var kafka = KafkaOptionsFactory.Create(options);
        await using var source = new KafkaSource(kafka, [options.UserEventsTopic, options.NotificationsTopic],
            records.Writer, loggers.CreateLogger<KafkaSource>());
        source.Start(stoppingToken);
        metrics.LagProvider = () => source.Lag;
        _logger.LogInformation("Consuming {Topics} from {Bootstrap} in group {Group}",
            $"{options.UserEventsTopic}, {options.NotificationsTopic}", kafka.BootstrapServers, kafka.GroupId);

        // One pipeline per partition: a partition's keyed state, event time and offsets are its own, as they will be
        // when partitions move between instances with their checkpoints.
        var pipelines = new Dictionary<(string Topic, int Partition), DetectionPipeline>();
        var alerts = new List<Alert>();
        var reader = records.Reader;
        Task<bool>? waiting = null;
        var lastTick = clock.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                waiting ??= reader.WaitToReadAsync(stoppingToken).AsTask();
                await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken));
                if (waiting.IsCompleted)
                {
                    if (!await waiting)
                    {
                        break;
                    }
                    waiting = null;
                }
                while (reader.TryRead(out var record))
                {
                    if (!pipelines.TryGetValue((record.Topic, record.Partition), out var pipeline))
                    {
                        pipeline = new DetectionPipeline(pipelineOptions, clock);
                        pipelines[(record.Topic, record.Partition)] = pipeline;
                    }
                    await ProcessAsync(pipeline, record, alerts, stoppingToken);
                    source.StoreOffset(record.Topic, record.Partition, record.Offset);
                }
                if (clock.GetElapsedTime(lastTick) >= TimeSpan.FromSeconds(1))
                {
                    lastTick = clock.GetTimestamp();
                    long keys = 0;
                    long unknown = 0;
                    foreach (var pipeline in pipelines.Values)
                    {
                        pipeline.Tick(alerts);
                        await EmitAsync(alerts, stoppingToken);
                        keys += pipeline.TrackedKeys;
                        unknown += pipeline.UnknownTypes;
                    }
                    metrics.SetTrackedKeys(keys);
                    metrics.UnknownTypes = unknown;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ProcessAsync(DetectionPipeline pipeline, SourceRecord record, List<Alert> alerts, CancellationToken ct)
    {
        metrics.CountMessage();
        var key = record.Key is null ? null : Encoding.UTF8.GetString(record.Key);
        var outcome = pipeline.Process(record.Topic, record.Partition, record.Offset, key, record.Value, alerts, out var deadLetter);
        switch (outcome)
        {
            case ProcessOutcome.Event:
                metrics.CountEvent(pipeline.MaxEventTimeMs);
                break;
            case ProcessOutcome.Notification:
                metrics.CountNotification();
                break;
            case ProcessOutcome.DeadLetter or ProcessOutcome.Late:
                metrics.CountDeadLetter();
                await channels.DeadLetters.Writer.WriteAsync(deadLetter!, ct);
                break;
            default:
                break;
        }
        await EmitAsync(alerts, ct);
        if (record.TimestampMs > 0)
        {
            metrics.ProcessingLatency.Record(clock.GetUtcNow().ToUnixTimeMilliseconds() - record.TimestampMs);
        }
    }

    private async Task EmitAsync(List<Alert> alerts, CancellationToken ct)
    {
        foreach (var alert in alerts)
        {
            metrics.CountAlert(alert.Severity);
            await channels.Alerts.Writer.WriteAsync(alert, ct);
        }
        alerts.Clear();
    }
}

/// <summary>Builds the Kafka client options from the service options.</summary>
public static class KafkaOptionsFactory
{
    public static KafkaOptions Create(VigilOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new KafkaOptions
        {
            BootstrapServers = options.KafkaBootstrapServers
                ?? throw new InvalidOperationException("The Kafka bootstrap servers are not known yet."),
            GroupId = options.ConsumerGroup,
            ClientSettings = options.KafkaClientSettings,
        };
    }
}
