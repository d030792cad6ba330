using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
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

    /// <summary>Older than the watermark allows; kept as a dead letter with reason LATE_EVENT.</summary>
    Late,

    /// <summary>At or before the offset a restored checkpoint already covers; skipped.</summary>
    AlreadyProcessed,
}

/// <summary>The settings of the detection pipeline.</summary>
public sealed record PipelineOptions
{
    public EventDecoderOptions Decoder { get; init; } = new();

    public BruteForceOptions BruteForce { get; init; } = new();

    /// <summary>The name of the notifications topic; everything else is decoded as user events.</summary>
    public string NotificationsTopic { get; init; } = "notifications";

    /// <summary>
    /// Event time: 5 s of out-of-orderness, and 10 minutes of allowed lateness so that a client that sends its events
    /// a little late (a phone coming back online) is still judged by the rules; later than that is a dead letter.
    /// </summary>
    public WatermarkOptions Watermarks { get; init; } = new()
    {
        OutOfOrderness = TimeSpan.FromSeconds(5),
        AllowedLateness = TimeSpan.FromMinutes(10),
    };

    /// <summary>
    /// Stamp alerts' <c>detectedAt</c> with the stream's own time (the latest event time) instead of the wall clock,
    /// so that a replay gives byte-identical alerts however it is stopped and resumed.
    /// </summary>
    public bool DetectedAtFromEventTime { get; init; }
}

/// <summary>
/// Decode → validate → rules on the event-time engine, for ONE partition's messages in order. The same class runs
/// behind the Kafka consumer, HTTP ingest and file replay, so each source gets the same verdict on the same bytes;
/// given the same input it produces the same alerts whatever the batch sizes, checkpoint timing or restarts.
/// </summary>
/// <remarks>Not thread-safe: one instance per partition, driven by one thread.</remarks>
public sealed class DetectionPipeline
{
    /// <summary>The reason code of events older than the watermark allows.</summary>
    public const string LateEventReason = "LATE_EVENT";

    private readonly EventDecoder _decoder;
    private readonly NotificationDecoder _notificationDecoder;
    private readonly PartitionRuntime<UserEvent, Alert> _runtime;
    private readonly BruteForceOperator _bruteForce;
    private readonly ListOutput<Alert> _output = new();
    private readonly TimeProvider _clock;
    private readonly StreamClock _streamClock = new();
    private readonly string _notificationsTopic;

    public DetectionPipeline(PipelineOptions options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
        _decoder = new EventDecoder(options.Decoder, clock);
        _notificationDecoder = new NotificationDecoder(options.Decoder, clock);
        var alertClock = options.DetectedAtFromEventTime ? _streamClock : clock;
        _bruteForce = new BruteForceOperator(options.BruteForce, alertClock);
        // The stream clock goes first, so an alert raised by an event is stamped with that event's time.
        _runtime = new PartitionRuntime<UserEvent, Alert>([_streamClock, _bruteForce],
            new PartitionRuntimeOptions { Watermarks = options.Watermarks }, clock);
        _notificationsTopic = options.NotificationsTopic;
    }

    /// <summary>User events decoded.</summary>
    public long Events { get; private set; }

    /// <summary>Notifications decoded.</summary>
    public long Notifications { get; private set; }

    /// <summary>Messages dead-lettered, late events included.</summary>
    public long DeadLetters { get; private set; }

    /// <summary>Events older than the watermark allows.</summary>
    public long LateEvents => _runtime.Metrics.LateEvents;

    /// <summary>User events of a type Vigil does not know, kept as OTHER.</summary>
    public long UnknownTypes => _decoder.UnknownTypeCount;

    /// <summary>The latest event time seen, Unix milliseconds (0 before the first event).</summary>
    public long MaxEventTimeMs => _streamClock.MaxEventTimeMs;

    /// <summary>The event-time watermark (long.MinValue before the first event).</summary>
    public long Watermark => _runtime.Watermark;

    /// <summary>Keys the rules hold state for.</summary>
    public int TrackedKeys => _bruteForce.State.Count;

    /// <summary>Approximate bytes of rule state.</summary>
    public long StateBytes => _bruteForce.State.ApproximateBytes;

    /// <summary>The engine's counters: checkpoint size and duration among them.</summary>
    public PartitionRuntimeMetrics RuntimeMetrics => _runtime.Metrics;

    /// <summary>Where the source should resume after a restore: the offset after the last event processed.</summary>
    public long ResumeOffset => _runtime.ResumeOffset();

    /// <summary>
    /// Processes one message. Alerts are appended to <paramref name="alerts"/>; a message that is rejected (or late)
    /// comes back as <paramref name="deadLetter"/> with the reason and where it came from.
    /// </summary>
    public ProcessOutcome Process(string topic, int partition, long offset, string? key, ReadOnlySpan<byte> value,
        List<Alert> alerts, out DeadLetter? deadLetter)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(alerts);
        deadLetter = null;
        if (string.Equals(topic, _notificationsTopic, StringComparison.Ordinal))
        {
            if (_notificationDecoder.TryDecode(value, out _, out var nError))
            {
                Notifications++;
                return ProcessOutcome.Notification;
            }
            deadLetter = Reject(topic, partition, offset, key, value, nError.Reason.ToCode(), nError.Detail);
            return ProcessOutcome.DeadLetter;
        }

        if (!_decoder.TryDecode(value, out var evt, out var error))
        {
            deadLetter = Reject(topic, partition, offset, key, value, error.Reason.ToCode(), error.Detail);
            return ProcessOutcome.DeadLetter;
        }
        var status = _runtime.Process(evt, evt.TimestampMs, offset, _output);
        Drain(alerts);
        switch (status)
        {
            case EventTimeStatus.AlreadyProcessed:
                return ProcessOutcome.AlreadyProcessed;
            case EventTimeStatus.Late:
                deadLetter = Reject(topic, partition, offset, key, value, LateEventReason,
                    $"event time {AlertJson.Format(evt.Timestamp)} is behind the watermark {AlertJson.Format(DateTimeOffset.FromUnixTimeMilliseconds(_runtime.Watermark))} by more than the allowed lateness");
                return ProcessOutcome.Late;
            default:
                Events++;
                return ProcessOutcome.Event;
        }
    }

    /// <summary>The wall-clock step (idle inputs, processing-time timers); call between batches.</summary>
    public void Tick(List<Alert> alerts)
    {
        _runtime.Tick(_output);
        Drain(alerts);
    }

    /// <summary>At the end of a finite input: moves event time to the end, so every window and timer fires.</summary>
    public void Finish(List<Alert> alerts)
    {
        _runtime.AdvanceWatermark(long.MaxValue, _output);
        Drain(alerts);
    }

    /// <summary>A checkpoint of all rule state, timers, event time and the last offset (the engine's format).</summary>
    public byte[] Snapshot() => _runtime.Snapshot();

    /// <summary>Restores a checkpoint into this fresh pipeline; anything but Ok leaves it unchanged.</summary>
    public CheckpointReadStatus Restore(ReadOnlyMemory<byte> data) => _runtime.Restore(data);

    private void Drain(List<Alert> alerts)
    {
        if (_output.Items.Count > 0)
        {
            alerts.AddRange(_output.Items);
            _output.Clear();
        }
    }

    private DeadLetter Reject(string topic, int partition, long offset, string? key, ReadOnlySpan<byte> value, string reason, string detail)
    {
        DeadLetters++;
        return DeadLetter.Create(topic, partition, offset, key, value, reason, detail, _clock.GetUtcNow());
    }

    /// <summary>
    /// The stream's own time: the latest event time seen, checkpointed with the rules, so that alerts stamped with it
    /// are identical however a run is stopped and resumed.
    /// </summary>
    private sealed class StreamClock : TimeProvider, IOperator<UserEvent, Alert>
    {
        public string Name => "stream-clock";

        public long MaxEventTimeMs { get; private set; }

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(MaxEventTimeMs);

        public void Open(OperatorContext context)
        {
        }

        public void OnEvent(in UserEvent evt, long timestampMs, IOutput<Alert> output)
        {
            if (timestampMs > MaxEventTimeMs)
            {
                MaxEventTimeMs = timestampMs;
            }
        }

        public void OnTimer(in TimerFiring timer, IOutput<Alert> output)
        {
        }

        public void OnWatermark(long watermarkMs, IOutput<Alert> output)
        {
        }

        public void Snapshot(BinaryWriter writer) => writer.Write(MaxEventTimeMs);

        public void Restore(BinaryReader reader) => MaxEventTimeMs = reader.ReadInt64();
    }
}
