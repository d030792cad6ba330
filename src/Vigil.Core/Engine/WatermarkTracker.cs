namespace Vigil.Core.Engine;

/// <summary>The settings of event time.</summary>
public sealed record WatermarkOptions
{
    /// <summary>How far out of order events may arrive: the watermark trails the latest event time by this much.</summary>
    public TimeSpan OutOfOrderness { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How far behind the watermark an event may still be accepted; older events are late.</summary>
    public TimeSpan AllowedLateness { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// An input with no events for this long (wall clock) is idle: it no longer holds the combined watermark back.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns idleness off, which is what a replay wants.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// When every input is idle, let event time follow the wall clock from the last event seen, so windows and
    /// patterns still close when traffic stops (Kafka Streams stalls there). Off, the watermark waits for input.
    /// </summary>
    public bool AdvanceWhenAllIdle { get; init; } = true;

    internal void Validate()
    {
        if (OutOfOrderness < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(OutOfOrderness), OutOfOrderness, "The out-of-orderness bound cannot be negative.");
        }
        if (AllowedLateness < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(AllowedLateness), AllowedLateness, "The allowed lateness cannot be negative.");
        }
        if (IdleTimeout <= TimeSpan.Zero && IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "The idle timeout must be positive or infinite.");
        }
    }
}

/// <summary>How an event stands against the watermark.</summary>
public enum EventTimeStatus : byte
{
    /// <summary>Within the out-of-orderness bound and allowed lateness: processed.</summary>
    OnTime,

    /// <summary>Older than watermark − allowed lateness: counted and sent to the side output, never processed.</summary>
    Late,

    /// <summary>At or before the last offset already processed (a re-fed event after a restore): skipped.</summary>
    AlreadyProcessed,
}

/// <summary>
/// Event time for one or more inputs (say, the source partitions feeding one runtime) with bounded out-of-orderness.
/// </summary>
/// <remarks>
/// <para>Semantics: a watermark W promises that every event with a timestamp below W has arrived. An input's
/// watermark is its latest event time minus <see cref="WatermarkOptions.OutOfOrderness"/>; the combined watermark is
/// the minimum over active inputs and never goes back. An event older than W − allowed lateness is late.</para>
/// <para>Idleness is the one wall-clock input: <see cref="Tick"/> (called by the host between batches or on a timer)
/// marks an input idle when it saw no event for <see cref="WatermarkOptions.IdleTimeout"/>; its next event makes it
/// active again. Reading the clock per event would cost more than the event, so activity is noticed by counting.
/// Results that depend on idleness depend on the clock, so replays turn it off or use a still clock.</para>
/// Not thread-safe.
/// </remarks>
public sealed class WatermarkTracker : ICheckpointable
{
    private readonly TimeProvider _clock;
    private readonly long _boundMs;
    private readonly long _idleTimeoutMs;
    private readonly bool _advanceWhenAllIdle;
    private readonly Input[] _inputs;
    private long _watermark = long.MinValue;
    private long _lastTickActivityMs;

    private struct Input
    {
        public long MaxTimestampMs;
        public long Events;
        public long EventsAtLastTick;
        public long LastActiveWallMs;
        public bool Idle;
    }

    public WatermarkTracker(WatermarkOptions options, TimeProvider clock, int inputs = 1)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        options.Validate();
        _clock = clock;
        _boundMs = (long)options.OutOfOrderness.TotalMilliseconds;
        AllowedLatenessMs = (long)options.AllowedLateness.TotalMilliseconds;
        _idleTimeoutMs = options.IdleTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue : (long)options.IdleTimeout.TotalMilliseconds;
        _advanceWhenAllIdle = options.AdvanceWhenAllIdle;
        _inputs = new Input[inputs];
        ResetInputs();
    }

    public string Name => "$watermarks";

    /// <summary>The combined watermark; long.MinValue until every active input has seen an event.</summary>
    public long Watermark => _watermark;

    public long AllowedLatenessMs { get; }

    public int Inputs => _inputs.Length;

    /// <summary>Events found late, over the tracker's life (checkpointed).</summary>
    public long LateEvents { get; private set; }

    /// <summary>Inputs not currently idle.</summary>
    public int ActiveInputs
    {
        get
        {
            var n = 0;
            foreach (ref readonly var input in _inputs.AsSpan())
            {
                n += input.Idle ? 0 : 1;
            }
            return n;
        }
    }

    public bool IsIdle(int input) => _inputs[input].Idle;

    /// <summary>One input's own watermark (long.MinValue before its first event).</summary>
    public long InputWatermark(int input) => InputWatermark(in _inputs[input]);

    /// <summary>
    /// Classifies an event and, if on time, lets it move its input's watermark. Check <see cref="Watermark"/> after:
    /// the combined watermark may have advanced.
    /// </summary>
    public EventTimeStatus OnEvent(int input, long timestampMs)
    {
        ref var state = ref _inputs[input];
        state.Events++;
        var wasIdle = state.Idle;
        state.Idle = false;
        if (_watermark != long.MinValue && timestampMs < _watermark - AllowedLatenessMs)
        {
            LateEvents++;
            return EventTimeStatus.Late;
        }
        if (timestampMs > state.MaxTimestampMs || wasIdle)
        {
            if (timestampMs > state.MaxTimestampMs)
            {
                state.MaxTimestampMs = timestampMs;
            }
            Recompute();
        }
        return EventTimeStatus.OnTime;
    }

    /// <summary>
    /// Notes which inputs went quiet since the last call (by the clock) and recomputes the watermark.
    /// Returns true when the watermark advanced.
    /// </summary>
    public bool Tick()
    {
        var nowMs = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var before = _watermark;
        var allIdle = true;
        for (var i = 0; i < _inputs.Length; i++)
        {
            ref var state = ref _inputs[i];
            if (state.Events != state.EventsAtLastTick)
            {
                state.EventsAtLastTick = state.Events;
                state.LastActiveWallMs = nowMs;
                _lastTickActivityMs = nowMs;
            }
            else if (!state.Idle && _idleTimeoutMs != long.MaxValue && nowMs - state.LastActiveWallMs >= _idleTimeoutMs)
            {
                state.Idle = true;
            }
            allIdle &= state.Idle;
        }
        Recompute();
        if (allIdle && _advanceWhenAllIdle)
        {
            var max = long.MinValue;
            foreach (ref readonly var input in _inputs.AsSpan())
            {
                max = Math.Max(max, input.MaxTimestampMs);
            }
            if (max != long.MinValue)
            {
                // Nothing is arriving, so assume event time moves on with the wall clock from the last event.
                var candidate = max - _boundMs + (nowMs - _lastTickActivityMs);
                if (candidate > _watermark)
                {
                    _watermark = candidate;
                }
            }
        }
        return _watermark > before;
    }

    /// <summary>Moves the watermark to at least <paramref name="watermarkMs"/> (end of input: pass long.MaxValue).</summary>
    public bool AdvanceTo(long watermarkMs)
    {
        if (watermarkMs <= _watermark)
        {
            return false;
        }
        _watermark = watermarkMs;
        return true;
    }

    public void Snapshot(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_inputs.Length);
        foreach (ref readonly var input in _inputs.AsSpan())
        {
            writer.Write(input.MaxTimestampMs);
        }
        writer.Write(_watermark);
        writer.Write(LateEvents);
    }

    /// <summary>Restores event time; every input starts active, as the wall-clock history is meaningless after a restart.</summary>
    public void Restore(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var count = reader.ReadInt32();
        if (count != _inputs.Length)
        {
            throw new InvalidDataException($"The checkpoint has watermarks for {count} inputs; this runtime has {_inputs.Length}.");
        }
        ResetInputs();
        for (var i = 0; i < count; i++)
        {
            _inputs[i].MaxTimestampMs = reader.ReadInt64();
        }
        _watermark = reader.ReadInt64();
        LateEvents = reader.ReadInt64();
    }

    private void ResetInputs()
    {
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < _inputs.Length; i++)
        {
            _inputs[i] = new Input { MaxTimestampMs = long.MinValue, LastActiveWallMs = now };
        }
        _lastTickActivityMs = now;
        _watermark = long.MinValue;
        LateEvents = 0;
    }

    private long InputWatermark(in Input input) =>
        input.MaxTimestampMs == long.MinValue ? long.MinValue : input.MaxTimestampMs - _boundMs;

    private void Recompute()
    {
        var min = long.MaxValue;
        var any = false;
        foreach (ref readonly var input in _inputs.AsSpan())
        {
            if (!input.Idle)
            {
                any = true;
                min = Math.Min(min, InputWatermark(in input));
            }
        }
        if (any && min > _watermark)
        {
            _watermark = min;
        }
    }
}
