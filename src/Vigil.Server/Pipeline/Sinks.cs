using System.Threading.Channels;
using Vigil.Core.Alerts;
using Vigil.Core.Events;
using Vigil.Kafka;
using Vigil.Storage;

namespace Vigil.Server.Pipeline;

/// <summary>The bounded queues that join the pipeline's stages, so back-pressure is real.</summary>
public sealed class PipelineChannels
{
    public Channel<Alert> Alerts { get; } = Channel.CreateBounded<Alert>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public Channel<DeadLetter> DeadLetters { get; } = Channel.CreateBounded<DeadLetter>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private long _alertsPersisted;
    private long _deadLettersPersisted;

    /// <summary>Alerts written to every sink so far; a checkpoint waits for this to catch up with what was emitted.</summary>
    public long AlertsPersisted => Interlocked.Read(ref _alertsPersisted);

    /// <summary>Dead letters written to every sink so far.</summary>
    public long DeadLettersPersisted => Interlocked.Read(ref _deadLettersPersisted);

    public void MarkAlertsPersisted(int count) => Interlocked.Add(ref _alertsPersisted, count);

    public void MarkDeadLettersPersisted(int count) => Interlocked.Add(ref _deadLettersPersisted, count);
}

/// <summary>
/// Writes alerts in batches to the store and to the <c>security-alerts</c> topic, keyed by entity. The store
/// de-duplicates on the deterministic alert id, so a replayed alert is not stored twice.
/// </summary>
public sealed class AlertSink(PipelineChannels channels, IVigilStore store, IRecordProducer producer,
    Hosting.VigilOptions options, PipelineMetrics metrics, AlertBroadcast broadcast, PublishedAlerts published,
    ILogger<AlertSink> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = channels.Alerts.Reader;
        var batch = new List<Alert>(256);
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < 1000 && reader.TryRead(out var alert))
                {
                    batch.Add(alert);
                }
                await WriteAsync(batch, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WriteAsync(List<Alert> batch, CancellationToken ct)
    {
        // Keep trying the store: an alert is never dropped because the database blinked.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var inserted = await store.InsertAlertsAsync(batch, ct);
                metrics.CountStored(inserted);
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Storing {Count} alerts failed (attempt {Attempt}); retrying", batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * attempt * attempt)), ct);
            }
        }
        foreach (var alert in batch)
        {
            // exactly_once: a replay after a restore re-emits alerts a read_committed consumer has seen already.
            if (!published.TryConsume(alert))
            {
                producer.Produce(options.SecurityAlertsTopic, alert.EntityKey, AlertJson.ToUtf8Bytes(alert));
            }
            broadcast.Publish(alert);
            logger.LogInformation("{Severity} {Rule} {Entity}: {Summary}", alert.Severity.ToWireName(), alert.Rule, alert.EntityKey, alert.Summary);
        }
        channels.MarkAlertsPersisted(batch.Count);
    }
}

/// <summary>Writes dead letters to the store and to <c>&lt;topic&gt;.dlq</c>, with the reason in the headers' place: the value.</summary>
public sealed class DeadLetterSink(PipelineChannels channels, IVigilStore store, IRecordProducer producer,
    ILogger<DeadLetterSink> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = channels.DeadLetters.Reader;
        var batch = new List<DeadLetter>(64);
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < 500 && reader.TryRead(out var letter))
                {
                    batch.Add(letter);
                }
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        await store.InsertDeadLettersAsync(batch, stoppingToken);
                        break;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        logger.LogWarning(ex, "Storing {Count} dead letters failed (attempt {Attempt}); retrying", batch.Count, attempt);
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * attempt * attempt)), stoppingToken);
                    }
                }
                foreach (var letter in batch)
                {
                    if (letter.Partition >= 0)
                    {
                        producer.Produce(VigilTopics.DeadLetter(letter.SourceTopic), letter.Key, DeadLetterJson.ToUtf8Bytes(letter));
                    }
                    logger.LogDebug("Dead letter from {Topic}[{Partition}]@{Offset}: {Reason} {Detail}",
                        letter.SourceTopic, letter.Partition, letter.Offset, letter.Reason, letter.Detail);
                }
                channels.MarkDeadLettersPersisted(batch.Count);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

/// <summary>The JSON of a dead letter on the <c>.dlq</c> topics and in the API.</summary>
public static class DeadLetterJson
{
    public static byte[] ToUtf8Bytes(DeadLetter letter)
    {
        ArgumentNullException.ThrowIfNull(letter);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256 + (letter.Raw.Length * 2));
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            Write(w, letter);
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static void Write(System.Text.Json.Utf8JsonWriter w, DeadLetter letter)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(letter);
        w.WriteStartObject();
        w.WriteString("sourceTopic", letter.SourceTopic);
        w.WriteNumber("partition", letter.Partition);
        w.WriteNumber("offset", letter.Offset);
        w.WriteString("reason", letter.Reason);
        w.WriteString("detail", letter.Detail);
        if (letter.Key is null)
        {
            w.WriteNull("key");
        }
        else
        {
            w.WriteString("key", letter.Key);
        }
        w.WriteString("receivedAt", AlertJson.Format(letter.ReceivedAt));
        w.WriteNumber("rawLength", letter.RawLength);
        w.WriteBase64String("rawBase64", letter.Raw.Span);
        w.WriteEndObject();
    }
}

/// <summary>Fans newly stored alerts out to live listeners (the dashboard's stream), dropping for slow ones.</summary>
public sealed class AlertBroadcast
{
    private readonly Lock _lock = new();
    private readonly List<Channel<Alert>> _listeners = [];

    public void Publish(Alert alert)
    {
        lock (_lock)
        {
            foreach (var listener in _listeners)
            {
                listener.Writer.TryWrite(alert);
            }
        }
    }

    public ChannelReader<Alert> Subscribe(CancellationToken ct)
    {
        var channel = Channel.CreateBounded<Alert>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_lock)
        {
            _listeners.Add(channel);
        }
        ct.Register(() =>
        {
            lock (_lock)
            {
                _listeners.Remove(channel);
            }
            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }
}
