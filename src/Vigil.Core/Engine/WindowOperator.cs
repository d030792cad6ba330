using System.Runtime.InteropServices;

namespace Vigil.Core.Engine;

/// <summary>
/// Keyed windows with incremental aggregation: tumbling, sliding or session (<see cref="WindowSpec"/>), one
/// accumulator per (key, window). A window's on-time result is emitted when the watermark passes its end − 1 +
/// allowed lateness, through an event-time timer, and its state is dropped then; early firings
/// (<see cref="EarlyFiring{TAcc}"/>) emit from the event path for low-latency threshold rules.
/// </summary>
/// <remarks>
/// Events whose key selector returns null or empty are ignored by this operator, so the selector doubles as a filter
/// ("LOGIN_FAILED events, keyed by IP"). Open windows of a key live in one small array, sorted by start, which is
/// recycled when the key has none left: a steady stream allocates nothing but accumulators that are reference
/// types. Not thread-safe.
/// </remarks>
public sealed class WindowOperator<TIn, TAcc, TResult, TOut> : Operator<TIn, TOut>
{
    private readonly Func<TIn, string?> _keySelector;
    private readonly IAggregator<TIn, TAcc, TResult> _aggregator;
    private readonly IStateSerializer<TAcc> _serializer;
    private readonly WindowEmitter<TIn, TResult, TOut> _emit;
    private readonly WindowSpec _spec;
    private readonly EarlyFiringMode _earlyMode;
    private readonly Func<TAcc, bool>? _earlyCondition;
    private readonly bool _emitOnTime;
    private readonly Dictionary<string, KeyWindows> _keys = new(StringComparer.Ordinal);
    private readonly Stack<KeyWindows> _spare = new();
    private readonly IRetractingAggregator<TIn, TAcc, TResult>? _panes;
    private readonly Stack<TAcc> _spareAccumulators = new();
    private OperatorContext? _context;
    private long _latenessMs;

    /// <summary>Reset accumulators kept for new panes, at least this many and up to one per active key: when the
    /// watermark crosses a slide boundary every key drops a pane at once, and the next slide needs as many back.</summary>
    private const int MinSpareAccumulators = 1024;

    /// <summary>Marks a pane-sliced checkpoint section (its window kind byte has this bit set).</summary>
    private const byte PaneLayout = 0x80;

    private struct Slot
    {
        public long Start;
        public long End;
        public long TimerAt;
        public TAcc Acc;
        public int EarlyFirings;
        public bool ConditionTrue;
    }

    private sealed class KeyWindows
    {
        public Slot[] Slots = new Slot[2];
        public int Count;

        // Pane-sliced sliding windows only (the slots are then panes, one slide long each):
        /// <summary>The end of the last window emitted; windows ending at or before it are closed.</summary>
        public long FiredEnd = long.MinValue;

        /// <summary>The end of the earliest window with a timer registered, or <see cref="long.MaxValue"/>.</summary>
        public long NextTimerEnd = long.MaxValue;

        /// <summary>The merge of the panes in [window start, <see cref="RunEnd"/>), when <see cref="HasRunning"/>;
        /// a cache, rebuilt from the panes after a restore.</summary>
        public TAcc Running = default!;

        public long RunEnd;

        public bool HasRunning;

        public void ResetPanes()
        {
            FiredEnd = long.MinValue;
            NextTimerEnd = long.MaxValue;
            Running = default!;
            RunEnd = 0;
            HasRunning = false;
        }

        public int IndexOfStart(long start)
        {
            for (var i = 0; i < Count; i++)
            {
                if (Slots[i].Start == start)
                {
                    return i;
                }
            }
            return -1;
        }

        public int Insert(long start, long end, TAcc acc)
        {
            if (Count == Slots.Length)
            {
                Array.Resize(ref Slots, Count * 2);
            }
            var i = Count;
            while (i > 0 && Slots[i - 1].Start > start)
            {
                Slots[i] = Slots[i - 1];
                i--;
            }
            Slots[i] = new Slot { Start = start, End = end, Acc = acc };
            Count++;
            return i;
        }

        public void RemoveAt(int index)
        {
            Count--;
            Array.Copy(Slots, index + 1, Slots, index, Count - index);
            Slots[Count] = default;
        }
    }

    /// <param name="name">The operator's checkpoint section name.</param>
    /// <param name="spec">Which windows.</param>
    /// <param name="keySelector">The key of an event; null or empty skips the event.</param>
    /// <param name="aggregator">Folds events into an accumulator.</param>
    /// <param name="accumulatorSerializer">Writes accumulators into checkpoints.</param>
    /// <param name="emit">Turns results into outputs.</param>
    /// <param name="early">Early firing; none when null.</param>
    /// <param name="slicePanes">
    /// Slice sliding windows into panes when the aggregator can retract (<see cref="IRetractingAggregator{TIn, TAcc, TOut}"/>),
    /// the size is a whole number of slides and there is no early firing (each early-firing window needs its own
    /// accumulator to know when it crosses its threshold). The results are the same either way; false keeps one
    /// accumulator per window, for comparison.
    /// </param>
    public WindowOperator(string name, WindowSpec spec, Func<TIn, string?> keySelector,
        IAggregator<TIn, TAcc, TResult> aggregator, IStateSerializer<TAcc> accumulatorSerializer,
        WindowEmitter<TIn, TResult, TOut> emit, EarlyFiring<TAcc>? early = null, bool slicePanes = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(keySelector);
        ArgumentNullException.ThrowIfNull(aggregator);
        ArgumentNullException.ThrowIfNull(accumulatorSerializer);
        ArgumentNullException.ThrowIfNull(emit);
        if (early is { Mode: EarlyFiringMode.WhenConditionBecomesTrue, Condition: null })
        {
            throw new ArgumentException("Early firing when a condition becomes true needs the condition.", nameof(early));
        }
        Name = name;
        _spec = spec;
        _keySelector = keySelector;
        _aggregator = aggregator;
        _serializer = accumulatorSerializer;
        _emit = emit;
        _earlyMode = early?.Mode ?? EarlyFiringMode.None;
        _earlyCondition = early?.Condition;
        _emitOnTime = early?.EmitOnTime ?? true;
        if (slicePanes && spec.Kind == WindowKind.Sliding && spec.SizeMs % spec.SlideMs == 0
            && _earlyMode == EarlyFiringMode.None && aggregator is IRetractingAggregator<TIn, TAcc, TResult> retracting)
        {
            _panes = retracting;
        }
    }

    /// <summary>Whether sliding windows are sliced into panes (see the constructor).</summary>
    public bool SlicesPanes => _panes is not null;

    public override string Name { get; }

    /// <summary>Keys with at least one open window.</summary>
    public int ActiveKeys => _keys.Count;

    /// <summary>Open windows over all keys (panes, when <see cref="SlicesPanes"/>).</summary>
    public int OpenWindows
    {
        get
        {
            var n = 0;
            foreach (var windows in _keys.Values)
            {
                n += windows.Count;
            }
            return n;
        }
    }

    /// <summary>Events that arrived for a window already closed (only when this operator's lateness is stricter
    /// than the runtime's filter); counted, not processed. Not checkpointed.</summary>
    public long LateWindowEvents { get; private set; }

    public override void Open(OperatorContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        _latenessMs = context.AllowedLatenessMs;
    }

    public override void OnEvent(in TIn evt, long timestampMs, IOutput<TOut> output)
    {
        var key = _keySelector(evt);
        if (string.IsNullOrEmpty(key))
        {
            return;
        }
        ref var windows = ref CollectionsMarshal.GetValueRefOrAddDefault(_keys, key, out var exists);
        if (!exists)
        {
            windows = _spare.Count > 0 ? _spare.Pop() : new KeyWindows();
        }
        var kw = windows!;
        switch (_spec.Kind)
        {
            case WindowKind.Tumbling:
                {
                    var start = FloorDiv(timestampMs, _spec.SizeMs) * _spec.SizeMs;
                    AddTo(kw, key, start, start + _spec.SizeMs, evt, output);
                    break;
                }
            case WindowKind.Sliding when _panes is not null:
                AddToPane(kw, key, timestampMs, evt);
                break;
            case WindowKind.Sliding:
                {
                    var last = FloorDiv(timestampMs, _spec.SlideMs) * _spec.SlideMs;
                    var first = last - ((last - (timestampMs - _spec.SizeMs) - 1) / _spec.SlideMs * _spec.SlideMs);
                    for (var start = first; start <= last; start += _spec.SlideMs)
                    {
                        AddTo(kw, key, start, start + _spec.SizeMs, evt, output);
                    }
                    break;
                }
            default:
                AddToSession(kw, key, timestampMs, evt, output);
                break;
        }
        if (kw.Count == 0)
        {
            Release(key, kw);
        }
    }

    public override void OnTimer(in TimerFiring timer, IOutput<TOut> output)
    {
        if (timer.Domain != TimeDomain.EventTime || !_keys.TryGetValue(timer.Key, out var kw))
        {
            return;
        }
        if (_panes is not null)
        {
            FirePaneWindow(kw, timer.Key, timer.TimeMs + 1 - _latenessMs, output);
            if (kw.Count == 0)
            {
                Release(timer.Key, kw);
            }
            return;
        }
        for (var i = 0; i < kw.Count; i++)
        {
            if (kw.Slots[i].TimerAt != timer.TimeMs)
            {
                continue;
            }
            var due = kw.Slots[i].End - 1 + _latenessMs;
            if (due > timer.TimeMs)
            {
                // A session grew since its timer was set: move the timer now rather than on every extension.
                _context!.RegisterEventTimeTimer(timer.Key, due);
                kw.Slots[i].TimerAt = due;
                return;
            }
            if (_emitOnTime)
            {
                ref var slot = ref kw.Slots[i];
                var firing = new WindowFiring<TIn, TResult>(timer.Key, new Window(slot.Start, slot.End),
                    _aggregator.Result(in slot.Acc), WindowFireKind.OnTime, slot.EarlyFirings, default);
                _emit(in firing, output);
            }
            kw.RemoveAt(i);
            break;
        }
        if (kw.Count == 0)
        {
            Release(timer.Key, kw);
        }
    }

    public override void Snapshot(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write((byte)((byte)_spec.Kind | (_panes is null ? 0 : PaneLayout)));
        writer.Write(_spec.SizeMs);
        writer.Write(_spec.SlideMs);
        writer.Write(_keys.Count);
        if (_panes is not null)
        {
            foreach (var (key, kw) in _keys)
            {
                writer.Write(key);
                writer.Write(kw.FiredEnd);
                writer.Write(kw.NextTimerEnd);
                writer.Write(kw.Count);
                for (var i = 0; i < kw.Count; i++)
                {
                    writer.Write(kw.Slots[i].Start);
                    _serializer.Write(writer, kw.Slots[i].Acc);
                }
            }
            return;
        }
        foreach (var (key, kw) in _keys)
        {
            writer.Write(key);
            writer.Write(kw.Count);
            for (var i = 0; i < kw.Count; i++)
            {
                ref var slot = ref kw.Slots[i];
                writer.Write(slot.Start);
                writer.Write(slot.End);
                writer.Write(slot.TimerAt);
                writer.Write(slot.EarlyFirings);
                writer.Write(slot.ConditionTrue);
                _serializer.Write(writer, slot.Acc);
            }
        }
    }

    /// <summary>Restores the open windows. A checkpoint of a different window shape is discarded (the rule changed;
    /// its old windows mean nothing now), and the timers it left fire into nothing.</summary>
    public override void Restore(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        foreach (var kw in _keys.Values)
        {
            Array.Clear(kw.Slots, 0, kw.Count);
            kw.Count = 0;
            kw.ResetPanes();
            _spare.Push(kw);
        }
        _keys.Clear();
        var layout = reader.ReadByte();
        var size = reader.ReadInt64();
        var slide = reader.ReadInt64();
        var sliced = (layout & PaneLayout) != 0;
        if ((WindowKind)(layout & ~PaneLayout) != _spec.Kind || size != _spec.SizeMs || slide != _spec.SlideMs
            || sliced != (_panes is not null))
        {
            return;
        }
        var keys = reader.ReadInt32();
        if (keys < 0)
        {
            throw new InvalidDataException($"A checkpoint claims {keys} window keys.");
        }
        _keys.EnsureCapacity(keys);
        if (sliced)
        {
            RestorePanes(reader, keys);
            return;
        }
        for (var k = 0; k < keys; k++)
        {
            var key = reader.ReadString();
            var count = reader.ReadInt32();
            if (count < 0)
            {
                throw new InvalidDataException($"A checkpoint claims {count} windows for a key.");
            }
            var kw = _spare.Count > 0 ? _spare.Pop() : new KeyWindows();
            for (var i = 0; i < count; i++)
            {
                var start = reader.ReadInt64();
                var end = reader.ReadInt64();
                var timerAt = reader.ReadInt64();
                var early = reader.ReadInt32();
                var condition = reader.ReadBoolean();
                var index = kw.Insert(start, end, _serializer.Read(reader));
                kw.Slots[index].TimerAt = timerAt;
                kw.Slots[index].EarlyFirings = early;
                kw.Slots[index].ConditionTrue = condition;
            }
            _keys[key] = kw;
        }
    }

    private void AddTo(KeyWindows kw, string key, long start, long end, in TIn evt, IOutput<TOut> output)
    {
        var index = kw.IndexOfStart(start);
        if (index < 0)
        {
            if (!OpenWindow(key, end))
            {
                return;
            }
            index = kw.Insert(start, end, _aggregator.Create());
            kw.Slots[index].TimerAt = end - 1 + _latenessMs;
        }
        ref var slot = ref kw.Slots[index];
        _aggregator.Add(ref slot.Acc, evt);
        FireEarly(key, ref slot, evt, output);
    }

    private void AddToSession(KeyWindows kw, string key, long timestampMs, in TIn evt, IOutput<TOut> output)
    {
        var start = timestampMs;
        var end = timestampMs + _spec.SizeMs;
        // Open sessions of a key are disjoint and sorted, so the ones this event touches are contiguous.
        var first = -1;
        var last = -1;
        for (var i = 0; i < kw.Count; i++)
        {
            if (kw.Slots[i].Start < end && start < kw.Slots[i].End)
            {
                if (first < 0)
                {
                    first = i;
                }
                last = i;
            }
        }
        if (first < 0)
        {
            if (!OpenWindow(key, end))
            {
                return;
            }
            var index = kw.Insert(start, end, _aggregator.Create());
            ref var fresh = ref kw.Slots[index];
            fresh.TimerAt = end - 1 + _latenessMs;
            _aggregator.Add(ref fresh.Acc, evt);
            FireEarly(key, ref fresh, evt, output);
            return;
        }

        var newStart = Math.Min(start, kw.Slots[first].Start);
        var newEnd = Math.Max(end, kw.Slots[last].End);
        // Fold the later sessions the event bridges into the first, in start order. Timers are left alone: the
        // first session's timer moves itself when it fires early (OnTimer), and the merged ones' find no session.
        for (var i = last; i > first; i--)
        {
            ref var other = ref kw.Slots[i];
            ref var target = ref kw.Slots[first];
            _aggregator.Merge(ref target.Acc, in other.Acc);
            target.EarlyFirings += other.EarlyFirings;
            target.ConditionTrue |= other.ConditionTrue;
            kw.RemoveAt(i);
        }
        ref var slot = ref kw.Slots[first];
        slot.Start = newStart;
        slot.End = newEnd;
        _aggregator.Add(ref slot.Acc, evt);
        FireEarly(key, ref slot, evt, output);
    }

    /// <summary>
    /// Pane-sliced sliding windows: the event goes into the one pane (a slide long) that holds its timestamp, and into
    /// the key's running accumulator if that already covers the pane. One timer per key is kept for the earliest
    /// window still to fire; <see cref="FirePaneWindow"/> chains the next.
    /// </summary>
    private void AddToPane(KeyWindows kw, string key, long timestampMs, in TIn evt)
    {
        var slide = _spec.SlideMs;
        var paneStart = FloorDiv(timestampMs, slide) * slide;
        var closed = Math.Max(kw.FiredEnd, ClosedByWatermark());
        // The last window holding this pane starts with the pane; if even that one has closed, the event is late.
        if (paneStart + _spec.SizeMs <= closed)
        {
            LateWindowEvents++;
            return;
        }
        var index = kw.IndexOfStart(paneStart);
        if (index < 0)
        {
            index = kw.Insert(paneStart, paneStart + slide, NewAccumulator());
        }
        _panes!.Add(ref kw.Slots[index].Acc, evt);
        if (kw.HasRunning && paneStart < kw.RunEnd)
        {
            _panes.Add(ref kw.Running, evt);
        }
        var firstEnd = FirstWindowEnd(paneStart);
        var due = closed == long.MinValue ? firstEnd : Math.Max(firstEnd, closed + slide);
        if (due < kw.NextTimerEnd)
        {
            _context!.RegisterEventTimeTimer(key, due - 1 + _latenessMs);
            kw.NextTimerEnd = due;
        }
    }

    /// <summary>Emits the window ending at <paramref name="end"/> from the running accumulator, slides it, and
    /// registers the timer of the next window that holds a pane.</summary>
    private void FirePaneWindow(KeyWindows kw, string key, long end, IOutput<TOut> output)
    {
        if (end <= kw.FiredEnd)
        {
            // A timer for a window the chain already emitted (an earlier, later-ending registration).
            return;
        }
        var panes = _panes!;
        var start = end - _spec.SizeMs;
        if (!kw.HasRunning)
        {
            kw.Running = NewAccumulator();
            kw.RunEnd = start;
            kw.HasRunning = true;
        }
        // Panes before this window belong to no window still to fire.
        while (kw.Count > 0 && kw.Slots[0].Start < start)
        {
            DropFirstPane(kw);
        }
        var inWindow = false;
        for (var i = 0; i < kw.Count && kw.Slots[i].Start < end; i++)
        {
            inWindow = true;
            if (kw.Slots[i].Start >= kw.RunEnd)
            {
                panes.Merge(ref kw.Running, in kw.Slots[i].Acc);
            }
        }
        kw.RunEnd = end;
        kw.FiredEnd = end;
        if (kw.NextTimerEnd <= end)
        {
            kw.NextTimerEnd = long.MaxValue;
        }
        if (inWindow && _emitOnTime)
        {
            var firing = new WindowFiring<TIn, TResult>(key, new Window(start, end), panes.Result(in kw.Running),
                WindowFireKind.OnTime, 0, default);
            _emit(in firing, output);
        }
        // The oldest slide leaves the window.
        var nextStart = start + _spec.SlideMs;
        while (kw.Count > 0 && kw.Slots[0].Start < nextStart)
        {
            DropFirstPane(kw);
        }
        if (kw.Count == 0)
        {
            RecycleAccumulator(kw.Running);
            kw.ResetPanes();
            return;
        }
        var due = Math.Max(FirstWindowEnd(kw.Slots[0].Start), end + _spec.SlideMs);
        if (due < kw.NextTimerEnd)
        {
            _context!.RegisterEventTimeTimer(key, due - 1 + _latenessMs);
            kw.NextTimerEnd = due;
        }
    }

    private void DropFirstPane(KeyWindows kw)
    {
        ref var pane = ref kw.Slots[0];
        if (kw.HasRunning && pane.Start < kw.RunEnd)
        {
            _panes!.Retract(ref kw.Running, in pane.Acc);
        }
        RecycleAccumulator(pane.Acc);
        kw.RemoveAt(0);
    }

    private void RestorePanes(BinaryReader reader, int keys)
    {
        for (var k = 0; k < keys; k++)
        {
            var key = reader.ReadString();
            var kw = _spare.Count > 0 ? _spare.Pop() : new KeyWindows();
            kw.FiredEnd = reader.ReadInt64();
            kw.NextTimerEnd = reader.ReadInt64();
            var count = reader.ReadInt32();
            if (count < 0)
            {
                throw new InvalidDataException($"A checkpoint claims {count} panes for a key.");
            }
            for (var i = 0; i < count; i++)
            {
                var start = reader.ReadInt64();
                kw.Insert(start, start + _spec.SlideMs, _serializer.Read(reader));
            }
            _keys[key] = kw;
        }
    }

    /// <summary>The end of the first window that holds the pane starting at <paramref name="paneStart"/>.</summary>
    private long FirstWindowEnd(long paneStart) =>
        (FloorDiv(paneStart - _spec.SizeMs, _spec.SlideMs) * _spec.SlideMs) + _spec.SlideMs + _spec.SizeMs;

    /// <summary>The end of the last window the watermark has closed (end − 1 + lateness before it), aligned to the
    /// slide; <see cref="long.MinValue"/> before the first watermark.</summary>
    private long ClosedByWatermark()
    {
        var watermark = _context!.Watermark;
        if (watermark == long.MinValue)
        {
            return long.MinValue;
        }
        return FloorDiv(watermark - _latenessMs, _spec.SlideMs) * _spec.SlideMs;
    }

    private TAcc NewAccumulator() => _spareAccumulators.Count > 0 ? _spareAccumulators.Pop() : _aggregator.Create();

    private void RecycleAccumulator(TAcc accumulator)
    {
        if (_spareAccumulators.Count < Math.Max(MinSpareAccumulators, _keys.Count) && _panes!.TryReset(ref accumulator))
        {
            _spareAccumulators.Push(accumulator);
        }
    }

    /// <summary>Registers the closing timer of a new window; false when that window has already closed.</summary>
    private bool OpenWindow(string key, long end)
    {
        var ctx = _context ?? throw new InvalidOperationException($"Operator '{Name}' was not opened.");
        var fireAt = end - 1 + _latenessMs;
        if (fireAt < ctx.Watermark)
        {
            LateWindowEvents++;
            return false;
        }
        ctx.RegisterEventTimeTimer(key, fireAt);
        return true;
    }

    private void FireEarly(string key, ref Slot slot, in TIn evt, IOutput<TOut> output)
    {
        switch (_earlyMode)
        {
            case EarlyFiringMode.None:
                return;
            case EarlyFiringMode.EveryUpdate:
                if (_earlyCondition is null || _earlyCondition(slot.Acc))
                {
                    EmitEarly(key, ref slot, evt, output);
                }
                return;
            default:
                var holds = _earlyCondition!(slot.Acc);
                var rose = holds && !slot.ConditionTrue;
                slot.ConditionTrue = holds;
                if (rose)
                {
                    EmitEarly(key, ref slot, evt, output);
                }
                return;
        }
    }

    private void EmitEarly(string key, ref Slot slot, in TIn evt, IOutput<TOut> output)
    {
        slot.EarlyFirings++;
        var firing = new WindowFiring<TIn, TResult>(key, new Window(slot.Start, slot.End),
            _aggregator.Result(in slot.Acc), WindowFireKind.Early, slot.EarlyFirings, evt);
        _emit(in firing, output);
    }

    private void Release(string key, KeyWindows kw)
    {
        _keys.Remove(key);
        Array.Clear(kw.Slots, 0, kw.Count);
        kw.Count = 0;
        kw.ResetPanes();
        if (kw.Slots.Length <= 16)
        {
            _spare.Push(kw);
        }
    }

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }
}
