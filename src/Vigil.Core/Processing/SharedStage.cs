using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Processing;

/// <summary>
/// The rules not keyed by user (BRUTE_FORCE_IP, PASSWORD_SPRAY, CREDENTIAL_STUFFING, declarative rules not grouped by
/// user) over the events of every source partition, decoded once by the partition pipelines and handed here with
/// their source partition and offset. The events go through a <see cref="ReorderBuffer{T}"/> and reach the rules
/// merged by event time (each partition's clock, then partition, then offset) once every active partition has passed
/// them, so the alerts
/// (their ids included) do not depend on how the partitions' events happened to interleave on the way here: two
/// instances, a hand-over or a restart give the alerts of one undisturbed run.
/// </summary>
/// <remarks>
/// A source partition's events must arrive in its offset order; one sent again (after a hand-over or a crash of its
/// forwarder) is dropped by its offset. The checkpoint holds the rules' state and the held events, so a new owner
/// loses and repeats nothing. Not thread-safe.
/// </remarks>
public sealed class SharedStage
{
    private const string RulesSection = "vigil.shared.rules";
    private const string ReorderSection = "vigil.shared.reorder";

    private readonly DetectionPipeline _pipeline;
    private readonly ReorderBuffer<UserEvent> _buffer;
    private long _nextSequence;

    /// <summary>Creates the stage; <paramref name="options"/>' scope and inputs are overridden (shared, one).</summary>
    public SharedStage(PipelineOptions options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        // The reordered events are one input to the rules, numbered in release order.
        _pipeline = new DetectionPipeline(options with { Scope = DetectionScope.Shared, Inputs = 1 }, clock);
        _buffer = new ReorderBuffer<UserEvent>(options.Watermarks, clock);
    }

    /// <summary>The rules' pipeline (for its counters; feed the stage, not this).</summary>
    public DetectionPipeline Pipeline => _pipeline;

    /// <summary>Events held until the watermark passes them.</summary>
    public int Buffered => _buffer.Count;

    /// <summary>The reorder watermark (see <see cref="ReorderBuffer{T}.Watermark"/>).</summary>
    public long ReorderWatermark => _buffer.Watermark;

    /// <summary>Events that arrived behind what was already released (an idle partition came back): run out of order.</summary>
    public long BehindEvents => _buffer.BehindItems;

    /// <summary>Events dropped as sent twice.</summary>
    public long Duplicates => _buffer.Duplicates;

    /// <summary>The last offset taken from a source partition; -1 before the first.</summary>
    public long LastSourceOffset(int sourcePartition) => _buffer.LastOffset(sourcePartition);

    /// <summary>Waits for source partitions 0 to <paramref name="partitions"/> − 1 (the source topic's partition count).</summary>
    public void ExpectPartitions(int partitions) => _buffer.ExpectInputs(partitions);

    /// <summary>
    /// Takes one event of a source partition and runs the rules over every event the watermark has now passed;
    /// alerts are appended to <paramref name="alerts"/>. <paramref name="sourceClockMs"/>: the latest event time the
    /// source partition had seen up to this event (the events it did not forward included), or the event's own time.
    /// <paramref name="rebase"/>: the source's log was truncated or replaced, so this offset is taken even when lower
    /// than the last.
    /// </summary>
    public ReorderStatus Add(int sourcePartition, long sourceOffset, long sourceClockMs, UserEvent evt, bool rebase, List<Alert> alerts)
    {
        ArgumentNullException.ThrowIfNull(evt);
        ArgumentNullException.ThrowIfNull(alerts);
        if (rebase)
        {
            _buffer.Rebase(sourcePartition, sourceOffset - 1);
        }
        var status = _buffer.Add(sourcePartition, sourceOffset, Math.Max(sourceClockMs, evt.TimestampMs), evt);
        if (status != ReorderStatus.Duplicate)
        {
            Release(alerts);
        }
        return status;
    }

    /// <inheritdoc cref="Add(int, long, long, UserEvent, bool, List{Alert})"/>
    public ReorderStatus Add(int sourcePartition, long sourceOffset, UserEvent evt, bool rebase, List<Alert> alerts) =>
        Add(sourcePartition, sourceOffset, long.MinValue, evt, rebase, alerts);

    /// <summary>
    /// A source partition's progress without an event (it processed events the shared rules do not read, up to
    /// <paramref name="sourceOffset"/>, with <paramref name="sourceClockMs"/> its latest event time): the other
    /// partitions' events it was holding back may go.
    /// </summary>
    public void Advance(int sourcePartition, long sourceOffset, long sourceClockMs, bool rebase, List<Alert> alerts)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        if (rebase)
        {
            _buffer.Rebase(sourcePartition, sourceOffset - 1);
        }
        if (_buffer.Advance(sourcePartition, sourceOffset, sourceClockMs))
        {
            Release(alerts);
        }
    }

    /// <summary>
    /// The event types the shared rules read (null: all): the built-in IP and tenant rules' logins and failed logins,
    /// and whatever the declarative rules not grouped by user filter on. The partitions need forward only these.
    /// </summary>
    public static IReadOnlySet<EventType>? EventTypesRead(PipelineOptions options, Rules.RuleSet? rules)
    {
        ArgumentNullException.ThrowIfNull(options);
        var types = new HashSet<EventType>();
        if (options.BruteForceIp.Enabled || options.PasswordSpray.Enabled || options.CredentialStuffing.Enabled)
        {
            types.Add(EventType.LoginFailed);
            types.Add(EventType.LoginSuccess);
        }
        if (rules is null)
        {
            return types;
        }
        foreach (var rule in rules.Rules)
        {
            if (rule.IsPerUser)
            {
                continue;
            }
            if (!AddTypes(types, rule.Filter, rule.Filter is not null || rule.Steps.Count > 0))
            {
                return null;
            }
            foreach (var step in rule.Steps)
            {
                if (!AddTypes(types, step.Filter, true))
                {
                    return null;
                }
            }
            if (rule.FollowedBy is { } followUp && !AddTypes(types, followUp.Filter, true))
            {
                return null;
            }
        }
        return types;
    }

    /// <summary>Adds what a filter admits; false when it admits every type (or there is none where one was expected).</summary>
    private static bool AddTypes(HashSet<EventType> types, Rules.EventFilter? filter, bool present)
    {
        if (filter?.Types is not { } admitted)
        {
            return filter is null && present;
        }
        types.UnionWith(admitted);
        return true;
    }

    /// <summary>The wall-clock step: idle partitions stop holding events back; the rules' own tick. Call between batches.</summary>
    public void Tick(List<Alert> alerts)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        _buffer.Tick();
        Release(alerts);
        _pipeline.Tick(alerts);
    }

    /// <summary>Every event held, in order, then the end of input (a finite run's end, as <see cref="DetectionPipeline.Finish"/>).</summary>
    public void Finish(List<Alert> alerts)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        while (TryReleaseAny(alerts, flush: true))
        {
        }
        _pipeline.Finish(alerts);
    }

    /// <summary>
    /// The stage's checkpoint, in the engine's checkpoint format (so the checkpoint stores verify it as any other):
    /// <paramref name="lastOffset"/> as its one source offset (the input the stage reads: the shared topic), and two
    /// sections, the rules' own checkpoint and the reorder buffer (each source partition's last offset and event time,
    /// the held events in order).
    /// </summary>
    public byte[] Snapshot(long lastOffset)
    {
        var rules = _pipeline.Snapshot();
        using var writer = new CheckpointWriter(_pipeline.RuntimeMetrics.LastCheckpointId, [new SourceOffset(0, lastOffset)],
            rules.Length + 256 + _buffer.Count * 160);
        writer.WriteWatermarks(new Section("watermarks", _ => { }));
        writer.WriteTimers(_ => { });
        writer.WriteOperator(new Section(RulesSection, w => w.Write(rules)));
        writer.WriteOperator(new Section(ReorderSection, w =>
        {
            w.Write(_nextSequence);
            _buffer.Snapshot(w, UserEventSerializer.Instance);
        }));
        return writer.ToArray();
    }

    /// <summary>The checkpoint id the last <see cref="Snapshot"/> used.</summary>
    public long LastCheckpointId => _pipeline.RuntimeMetrics.LastCheckpointId;

    /// <summary>Restores a checkpoint into this fresh stage; anything but Ok leaves it unchanged.</summary>
    public CheckpointReadStatus Restore(ReadOnlyMemory<byte> data)
    {
        var status = CheckpointReader.TryRead(data, out var checkpoint);
        if (status != CheckpointReadStatus.Ok)
        {
            return status;
        }
        if (!checkpoint!.TryGetOperator(RulesSection, out var rules) || !checkpoint.TryGetOperator(ReorderSection, out var reorder))
        {
            // A checkpoint, but not a shared stage's (a partition pipeline's).
            return CheckpointReadStatus.Malformed;
        }
        // The buffer is read into a scratch one first, so a malformed section leaves this stage unchanged.
        var scratch = new ReorderBuffer<UserEvent>(new WatermarkOptions(), TimeProvider.System);
        try
        {
            using var reader = CheckpointReader.OpenSection(reorder);
            reader.ReadInt64();
            scratch.Restore(reader, UserEventSerializer.Instance);
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException or IOException or ArgumentException or FormatException)
        {
            return CheckpointReadStatus.Malformed;
        }
        status = _pipeline.Restore(rules);
        if (status != CheckpointReadStatus.Ok)
        {
            return status;
        }
        using (var reader = CheckpointReader.OpenSection(reorder))
        {
            _nextSequence = reader.ReadInt64();
            _buffer.Restore(reader, UserEventSerializer.Instance);
        }
        return CheckpointReadStatus.Ok;
    }

    private void Release(List<Alert> alerts)
    {
        while (TryReleaseAny(alerts))
        {
        }
    }

    private bool TryReleaseAny(List<Alert> alerts, bool flush = false)
    {
        if (!_buffer.TryRelease(out var evt, out _, flush))
        {
            return false;
        }
        // A late event is counted by the rules' pipeline; its dead letter was the decoding pipeline's to write.
        _pipeline.ProcessDecoded(0, _nextSequence++, evt, alerts);
        return true;
    }

    private sealed class Section(string name, Action<BinaryWriter> write) : ICheckpointable
    {
        public string Name => name;

        public void Snapshot(BinaryWriter writer) => write(writer);

        public void Restore(BinaryReader reader) => throw new NotSupportedException();
    }
}
