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

        var pipeline = new DetectionPipeline(pipelineOptions, clock);
        var alerts = new List<Alert>();
        var processed = 0L;
        try
        {
            await foreach (var record in records.Reader.ReadAllAsync(stoppingToken))
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
                    case ProcessOutcome.DeadLetter:
                        metrics.CountDeadLetter();
                        await channels.DeadLetters.Writer.WriteAsync(deadLetter!, stoppingToken);
                        break;
                    default:
                        break;
                }
                foreach (var alert in alerts)
                {
                    metrics.CountAlert(alert.Severity);
                    await channels.Alerts.Writer.WriteAsync(alert, stoppingToken);
                }
                alerts.Clear();
                // The offset is stored once the message's outputs are queued; checkpoint-aligned commits come with
                // the engine's checkpoints.
                source.StoreOffset(record.Topic, record.Partition, record.Offset);
                if (record.TimestampMs > 0)
                {
                    metrics.ProcessingLatency.Record(clock.GetUtcNow().ToUnixTimeMilliseconds() - record.TimestampMs);
                }
                if (++processed % 10_000 == 0)
                {
                    pipeline.EvictIdle();
                }
                metrics.UnknownTypes = pipeline.UnknownTypes;
                metrics.SetTrackedKeys(pipeline.TrackedKeys);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
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
