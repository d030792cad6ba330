using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Events;

namespace Vigil.Core.Processing;

/// <summary>What became of one input message.</summary>
public enum ProcessOutcome : byte
{
    /// <summary>A user event, decoded and run through the rules.</summary>
    Event,

    /// <summary>A notification, decoded and counted.</summary>
    Notification,

    /// <summary>Could not be decoded or failed validation; see the dead letter.</summary>
    DeadLetter,
}

/// <summary>The settings of the detection pipeline.</summary>
public sealed record PipelineOptions
{
    public EventDecoderOptions Decoder { get; init; } = new();

    public BruteForceOptions BruteForce { get; init; } = new();

    /// <summary>The name of the notifications topic; everything else is decoded as user events.</summary>
    public string NotificationsTopic { get; init; } = "notifications";
}

/// <summary>
/// Decode → validate → rules, for one partition's messages in order. The same class runs behind the Kafka
/// consumer, HTTP ingest and file replay, so each source gets the same verdict on the same bytes.
/// </summary>
/// <remarks>Not thread-safe: one instance per partition (or per single-threaded consumer).</remarks>
public sealed class DetectionPipeline
{
    private readonly EventDecoder _decoder;
    private readonly NotificationDecoder _notificationDecoder;
    private readonly BruteForceDetector _bruteForce;
    private readonly TimeProvider _clock;
    private readonly string _notificationsTopic;
    private long _maxEventTimeMs;

    public DetectionPipeline(PipelineOptions options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
        _decoder = new EventDecoder(options.Decoder, clock);
        _notificationDecoder = new NotificationDecoder(options.Decoder, clock);
        _bruteForce = new BruteForceDetector(options.BruteForce, clock);
        _notificationsTopic = options.NotificationsTopic;
    }

    /// <summary>User events decoded.</summary>
    public long Events { get; private set; }

    /// <summary>Notifications decoded.</summary>
    public long Notifications { get; private set; }

    /// <summary>Messages dead-lettered.</summary>
    public long DeadLetters { get; private set; }

    /// <summary>User events of a type Vigil does not know, kept as OTHER.</summary>
    public long UnknownTypes => _decoder.UnknownTypeCount;

    /// <summary>The latest event time seen, Unix milliseconds (0 before the first event).</summary>
    public long MaxEventTimeMs => _maxEventTimeMs;

    /// <summary>Users the rules hold state for.</summary>
    public int TrackedKeys => _bruteForce.TrackedUsers;

    /// <summary>
    /// Processes one message. Alerts are appended to <paramref name="alerts"/>; a message that is rejected
    /// comes back as <paramref name="deadLetter"/> with the reason and where it came from.
    /// </summary>
    public ProcessOutcome Process(string topic, int partition, long offset, string? key, ReadOnlySpan<byte> value,
        List<Alert> alerts, out DeadLetter? deadLetter)
    {
        ArgumentNullException.ThrowIfNull(topic);
        deadLetter = null;
        if (string.Equals(topic, _notificationsTopic, StringComparison.Ordinal))
        {
            if (_notificationDecoder.TryDecode(value, out _, out var nError))
            {
                Notifications++;
                return ProcessOutcome.Notification;
            }
            deadLetter = Reject(topic, partition, offset, key, value, nError);
            return ProcessOutcome.DeadLetter;
        }

        if (!_decoder.TryDecode(value, out var evt, out var error))
        {
            deadLetter = Reject(topic, partition, offset, key, value, error);
            return ProcessOutcome.DeadLetter;
        }
        Events++;
        if (evt.TimestampMs > _maxEventTimeMs)
        {
            _maxEventTimeMs = evt.TimestampMs;
        }
        _bruteForce.Process(evt, alerts);
        return ProcessOutcome.Event;
    }

    /// <summary>Drops rule state no window can use any more; returns how many keys went.</summary>
    public int EvictIdle() => _bruteForce.EvictIdle(_maxEventTimeMs);

    private DeadLetter Reject(string topic, int partition, long offset, string? key, ReadOnlySpan<byte> value, DecodeError error)
    {
        DeadLetters++;
        return DeadLetter.Create(topic, partition, offset, key, value, error.Reason.ToCode(), error.Detail, _clock.GetUtcNow());
    }
}
