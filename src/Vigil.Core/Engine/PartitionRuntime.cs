using System.Diagnostics.CodeAnalysis;

namespace Vigil.Core.Engine;

/// <summary>The settings of a <see cref="PartitionRuntime{TIn, TOut}"/>.</summary>
public sealed record PartitionRuntimeOptions
{
    public WatermarkOptions Watermarks { get; init; } = new();

    /// <summary>Inputs feeding the runtime, each with its own offsets and watermark (usually one source partition).</summary>
    public int Inputs { get; init; } = 1;
}

/// <summary>An event found late, as sent to the side output.</summary>
public readonly record struct LateEvent<TIn>(TIn Event, long TimestampMs, int Input, long Offset, long WatermarkMs);

/// <summary>What a runtime has done, for metrics.</summary>
public readonly record struct PartitionRuntimeMetrics(
    long Events,
    long LateEvents,
    long AlreadyProcessed,
    long WatermarkMs,
    int EventTimeTimers,
    int ProcessingTimeTimers,
    long LastCheckpointId,
    int LastCheckpointBytes,
    TimeSpan LastCheckpointDuration,
    TimeSpan LastRestoreDuration);

/// <summary>
/// Hosts the operators of ONE partition: feeds them each on-time event, keeps event time and timers, and snapshots
/// and restores all of it as one checkpoint.
/// </summary>
/// <remarks>
/// <para>Determinism: outputs depend only on the sequence of (input, event, timestamp, offset) fed, never on how the
/// sequence was cut into calls, when checkpoints were taken, or whether the runtime was restored from a checkpoint
/// and fed the events after its offsets again — as long as the wall clock plays no part (idleness off or a still
/// clock, no processing-time timers). A restarted job restores the latest checkpoint, seeks each input to
/// <see cref="ResumeOffset"/> and re-feeds; events at or before a restored offset are skipped, so re-feeding a
/// little too much is harmless. Outputs emitted after the checkpoint and before a crash are emitted again on
/// replay, identically, which is why alert ids are deterministic and sinks de-duplicate.</para>
/// <para>Single-threaded: one runtime per partition, driven by one thread.</para>
/// </remarks>
public sealed class PartitionRuntime<TIn, TOut>
{
    private readonly IOperator<TIn, TOut>[] _operators;
    // The same operators as Operator<TIn, TOut> (wrapped when they only implement the interface): the per-event calls
    // go through the method table rather than interface dispatch.
    private readonly Operator<TIn, TOut>[] _dispatch;
    private readonly WatermarkTracker _watermarks;
    private readonly TimerService _timers = new();
    private readonly Dictionary<string, KeyTable> _keyTables = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private readonly IOutput<LateEvent<TIn>>? _lateOutput;
    private readonly long[] _lastOffsets;
    private long _firedWatermark = long.MinValue;
    private long _events;
    private long _alreadyProcessed;
    private long _lastCheckpointId;
    private int _lastCheckpointBytes;
    private TimeSpan _lastCheckpointDuration;
    private TimeSpan _lastRestoreDuration;

    /// <param name="operators">The operators, each with a unique <see cref="ICheckpointable.Name"/>; they see
    /// every event in this order.</param>
    /// <param name="options">Event-time settings and the number of inputs.</param>
    /// <param name="clock">The wall clock (idleness, processing-time timers, checkpoint duration).</param>
    /// <param name="lateOutput">Receives late events; without it they are still counted and reported by
    /// <see cref="Process(in TIn, long, long, IOutput{TOut})"/>'s status.</param>
    public PartitionRuntime(IReadOnlyList<IOperator<TIn, TOut>> operators, PartitionRuntimeOptions? options = null,
        TimeProvider? clock = null, IOutput<LateEvent<TIn>>? lateOutput = null)
    {
        ArgumentNullException.ThrowIfNull(operators);
        options ??= new PartitionRuntimeOptions();
        _clock = clock ?? TimeProvider.System;
        _lateOutput = lateOutput;
        _watermarks = new WatermarkTracker(options.Watermarks, _clock, options.Inputs);
        _lastOffsets = new long[options.Inputs];
        Array.Fill(_lastOffsets, -1);
        _operators = new IOperator<TIn, TOut>[operators.Count];
        _dispatch = new Operator<TIn, TOut>[operators.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < operators.Count; i++)
        {
            var op = operators[i] ?? throw new ArgumentException("An operator is null.", nameof(operators));
            if (!names.Add(op.Name))
            {
                throw new ArgumentException($"Two operators are named '{op.Name}'.", nameof(operators));
            }
            _operators[i] = op;
            _dispatch[i] = Operator<TIn, TOut>.Of(op);
            op.Open(new OperatorContext(op.Name, i, _timers, _watermarks, _clock, _keyTables));
        }
    }

    /// <summary>The combined watermark (long.MinValue before the first event).</summary>
    public long Watermark => _watermarks.Watermark;

    /// <summary>Event time, for metrics and for idleness of the inputs.</summary>
    public WatermarkTracker Watermarks => _watermarks;

    public IReadOnlyList<IOperator<TIn, TOut>> Operators => _operators;

    /// <summary>The key tables the operators share, by key space (see <see cref="OperatorContext.Keys"/>).</summary>
    public IReadOnlyDictionary<string, KeyTable> KeyTables => _keyTables;

    /// <summary>The last offset processed on <paramref name="input"/>; −1 before any.</summary>
    public long LastOffset(int input = 0) => _lastOffsets[input];

    /// <summary>Where a source should resume <paramref name="input"/>: the offset after the last one processed.</summary>
    public long ResumeOffset(int input = 0) => _lastOffsets[input] + 1;

    /// <summary>
    /// Makes <paramref name="lastOffset"/> the last offset processed on <paramref name="input"/>, even when that is
    /// lower: for a source whose log was replaced (a broker that lost its data), so its new offsets are processed, not
    /// skipped as seen. The state is kept.
    /// </summary>
    public void RebaseOffset(int input, long lastOffset) => _lastOffsets[input] = lastOffset;

    /// <summary>The id of the last checkpoint taken or restored (0 before any).</summary>
    public long LastCheckpointId => _lastCheckpointId;

    /// <summary>Timer sections of operators that are gone, dropped by the last restore.</summary>
    public int TimersDroppedOnRestore { get; private set; }

    /// <summary>Sections in the last restored checkpoint that no operator claimed (operators since removed).</summary>
    public int SectionsSkippedOnRestore { get; private set; }

    /// <summary>Operators the last restored checkpoint had no section for (operators since added); they start empty.</summary>
    public int OperatorsWithoutSectionOnRestore { get; private set; }

    public PartitionRuntimeMetrics Metrics => new(_events, _watermarks.LateEvents, _alreadyProcessed, _watermarks.Watermark,
        _timers.EventTime.Count, _timers.ProcessingTime.Count, _lastCheckpointId, _lastCheckpointBytes,
        _lastCheckpointDuration, _lastRestoreDuration);

    /// <summary>Feeds one event of input 0.</summary>
    public EventTimeStatus Process(in TIn evt, long timestampMs, long offset, IOutput<TOut> output) =>
        Process(0, evt, timestampMs, offset, output);

    /// <summary>
    /// Feeds one event: skips it if its offset was already processed, sends it to the side output if late, else
    /// hands it to every operator and then advances the watermark, firing the event-time timers it passes.
    /// </summary>
    /// <param name="input">Which input it came from.</param>
    /// <param name="evt">The event.</param>
    /// <param name="timestampMs">Its event time.</param>
    /// <param name="offset">Its source offset, increasing per input; negative when the source has none (never skipped).</param>
    /// <param name="output">Receives what the operators emit.</param>
    public EventTimeStatus Process(int input, in TIn evt, long timestampMs, long offset, IOutput<TOut> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (offset >= 0)
        {
            if (offset <= _lastOffsets[input])
            {
                _alreadyProcessed++;
                return EventTimeStatus.AlreadyProcessed;
            }
            _lastOffsets[input] = offset;
        }
        _events++;
        if (_watermarks.OnEvent(input, timestampMs) == EventTimeStatus.Late)
        {
            _lateOutput?.Emit(new LateEvent<TIn>(evt, timestampMs, input, offset, _watermarks.Watermark));
            return EventTimeStatus.Late;
        }
        var operators = _dispatch;
        for (var i = 0; i < operators.Length; i++)
        {
            operators[i].OnEvent(evt, timestampMs, output);
        }
        if (_watermarks.Watermark > _firedWatermark)
        {
            FireWatermark(output);
        }
        return EventTimeStatus.OnTime;
    }

    /// <summary>
    /// The wall-clock step, for the host to call between batches or on a timer: detects idle inputs (which may move
    /// the watermark) and fires processing-time timers that are due. Returns the number of timers fired.
    /// </summary>
    public int Tick(IOutput<TOut> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var fired = 0;
        if (_watermarks.Tick() && _watermarks.Watermark > _firedWatermark)
        {
            fired += FireWatermark(output);
        }
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        while (_timers.ProcessingTime.TryDequeue(now, out var id))
        {
            _dispatch[id.Owner].OnTimer(new TimerFiring(id.Key, id.TimeMs, id.Tag, TimeDomain.ProcessingTime), output);
            fired++;
        }
        return fired;
    }

    /// <summary>Moves the watermark to <paramref name="watermarkMs"/> and fires what it passes; at the end of a
    /// finite input, long.MaxValue closes every window. Returns the number of timers fired.</summary>
    public int AdvanceWatermark(long watermarkMs, IOutput<TOut> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return _watermarks.AdvanceTo(watermarkMs) ? FireWatermark(output) : 0;
    }

    /// <summary>A checkpoint of everything, with the next checkpoint id.</summary>
    public byte[] Snapshot() => Snapshot(_lastCheckpointId + 1);

    /// <summary>A checkpoint of everything: offsets, event time, timers and every operator's state.</summary>
    public byte[] Snapshot(long checkpointId)
    {
        var started = _clock.GetTimestamp();
        var offsets = new SourceOffset[_lastOffsets.Length];
        for (var i = 0; i < offsets.Length; i++)
        {
            offsets[i] = new SourceOffset(i, _lastOffsets[i]);
        }
        byte[] bytes;
        using (var writer = new CheckpointWriter(checkpointId, offsets, _lastCheckpointBytes + (_lastCheckpointBytes / 8)))
        {
            writer.WriteWatermarks(_watermarks);
            writer.WriteTimers(WriteTimers);
            foreach (var op in _operators)
            {
                writer.WriteOperator(op);
            }
            bytes = writer.ToArray();
        }
        _lastCheckpointId = checkpointId;
        _lastCheckpointBytes = bytes.Length;
        _lastCheckpointDuration = _clock.GetElapsedTime(started);
        return bytes;
    }

    /// <summary>
    /// Restores a checkpoint into this runtime, which must not have processed anything yet (build a new one after a
    /// failure). Returns the read status; on anything but Ok the runtime is unchanged.
    /// </summary>
    [SuppressMessage("Reliability", "CA2000", Justification = "Each section reader is disposed at the end of its using.")]
    public CheckpointReadStatus Restore(ReadOnlyMemory<byte> data)
    {
        if (_events != 0 || _alreadyProcessed != 0)
        {
            throw new InvalidOperationException("Restore into a runtime that has not processed any event.");
        }
        var status = CheckpointReader.TryRead(data, out var checkpoint);
        if (status != CheckpointReadStatus.Ok)
        {
            return status;
        }
        var started = _clock.GetTimestamp();
        using (var reader = CheckpointReader.OpenSection(checkpoint!.Watermarks))
        {
            _watermarks.Restore(reader);
        }
        using (var reader = CheckpointReader.OpenSection(checkpoint.Timers))
        {
            ReadTimers(reader);
        }
        var matched = 0;
        OperatorsWithoutSectionOnRestore = 0;
        foreach (var op in _operators)
        {
            if (checkpoint.TryGetOperator(op.Name, out var section))
            {
                using var reader = CheckpointReader.OpenSection(section);
                op.Restore(reader);
                matched++;
            }
            else
            {
                OperatorsWithoutSectionOnRestore++;
            }
        }
        SectionsSkippedOnRestore = checkpoint.Operators.Count - matched;
        foreach (var offset in checkpoint.SourceOffsets)
        {
            if (offset.Input >= 0 && offset.Input < _lastOffsets.Length)
            {
                _lastOffsets[offset.Input] = offset.Offset;
            }
        }
        _firedWatermark = _watermarks.Watermark;
        _lastCheckpointId = checkpoint.Id;
        _lastCheckpointBytes = data.Length;
        _lastRestoreDuration = _clock.GetElapsedTime(started);
        return CheckpointReadStatus.Ok;
    }

    private int FireWatermark(IOutput<TOut> output)
    {
        var watermark = _watermarks.Watermark;
        _firedWatermark = watermark;
        var fired = 0;
        // A timer at t fires once every event with a timestamp ≤ t has arrived, that is once t < watermark.
        while (_timers.EventTime.TryDequeue(watermark - 1, out var id))
        {
            _dispatch[id.Owner].OnTimer(new TimerFiring(id.Key, id.TimeMs, id.Tag, TimeDomain.EventTime), output);
            fired++;
        }
        var operators = _dispatch;
        for (var i = 0; i < operators.Length; i++)
        {
            operators[i].OnWatermark(watermark, output);
        }
        return fired;
    }

    private void WriteTimers(BinaryWriter writer)
    {
        writer.Write(_operators.Length);
        foreach (var op in _operators)
        {
            writer.Write(op.Name);
        }
        _timers.EventTime.Write(writer);
        _timers.ProcessingTime.Write(writer);
    }

    private void ReadTimers(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"A checkpoint claims {count} timer owners.");
        }
        var map = new int[count];
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            map[i] = Array.FindIndex(_operators, op => string.Equals(op.Name, name, StringComparison.Ordinal));
        }
        TimersDroppedOnRestore = _timers.EventTime.Read(reader, map) + _timers.ProcessingTime.Read(reader, map);
    }
}
