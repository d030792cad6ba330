namespace Vigil.Core.Engine;

/// <summary>
/// Something whose whole state can be written into a checkpoint and read back. <see cref="Restore"/> replaces the
/// state entirely (it is called on a fresh or a used instance alike) and must read exactly what
/// <see cref="Snapshot"/> wrote, so the restored instance continues as if it had never stopped.
/// </summary>
public interface ICheckpointable
{
    /// <summary>The section name in a checkpoint; unique within a runtime and stable across versions.</summary>
    string Name { get; }

    void Snapshot(BinaryWriter writer);

    void Restore(BinaryReader reader);
}

/// <summary>Where an operator sends what it produces.</summary>
public interface IOutput<in T>
{
    void Emit(T value);
}

/// <summary>An <see cref="IOutput{T}"/> that collects into a list the caller drains.</summary>
public sealed class ListOutput<T> : IOutput<T>
{
    /// <summary>Everything emitted since the last <see cref="Clear"/>.</summary>
    public List<T> Items { get; } = [];

    public void Emit(T value) => Items.Add(value);

    public void Clear() => Items.Clear();
}

/// <summary>
/// One stage of a partition's dataflow: a rule, a window, a pattern. The <see cref="PartitionRuntime{TIn, TOut}"/>
/// hosting it calls, on one thread and in this order:
/// <list type="number">
/// <item><see cref="Open"/> once, before anything else (and before <see cref="ICheckpointable.Restore"/>);</item>
/// <item><see cref="OnEvent"/> for each on-time event, in input order (late events never reach operators; they
/// go to the runtime's side output);</item>
/// <item>after an event moves the watermark: <see cref="OnTimer"/> for every event-time timer the watermark
/// has passed, in (time, registration) order, then <see cref="OnWatermark"/>;</item>
/// <item><see cref="OnTimer"/> for processing-time timers when the runtime's clock passes them.</item>
/// </list>
/// An operator must be deterministic: the same calls give the same outputs and the same snapshot. It must not read
/// the wall clock (use processing-time timers through <see cref="OperatorContext"/>) and must not depend on the
/// enumeration order of hash tables for what it emits.
/// </summary>
/// <typeparam name="TIn">The event type.</typeparam>
/// <typeparam name="TOut">What the operator emits (alerts, window results, …).</typeparam>
public interface IOperator<TIn, TOut> : ICheckpointable
{
    /// <summary>Gives the operator its timers and the runtime's view of time.</summary>
    void Open(OperatorContext context);

    void OnEvent(in TIn evt, long timestampMs, IOutput<TOut> output);

    void OnTimer(in TimerFiring timer, IOutput<TOut> output);

    /// <summary>The watermark moved to <paramref name="watermarkMs"/>: a place for amortised clean-up (state TTL).</summary>
    void OnWatermark(long watermarkMs, IOutput<TOut> output);
}

/// <summary>
/// A base for <see cref="IOperator{TIn, TOut}"/> implementations. The runtime calls every operator at one call site, so
/// the site sees many types; through an interface it goes by the runtime's resolve stub (a hashed lookup per call),
/// through this class by the method table. Built-in operators derive from it; an operator that only implements the
/// interface still runs (<see cref="Of"/> wraps it). <see cref="Open"/>, <see cref="OnTimer"/> and
/// <see cref="OnWatermark"/> do nothing unless overridden.
/// </summary>
public abstract class Operator<TIn, TOut> : IOperator<TIn, TOut>
{
    public abstract string Name { get; }

    public virtual void Open(OperatorContext context)
    {
    }

    public abstract void OnEvent(in TIn evt, long timestampMs, IOutput<TOut> output);

    public virtual void OnTimer(in TimerFiring timer, IOutput<TOut> output)
    {
    }

    public virtual void OnWatermark(long watermarkMs, IOutput<TOut> output)
    {
    }

    public abstract void Snapshot(BinaryWriter writer);

    public abstract void Restore(BinaryReader reader);

    /// <summary><paramref name="op"/> itself when it derives from this class, else a wrapper forwarding to it.</summary>
    public static Operator<TIn, TOut> Of(IOperator<TIn, TOut> op)
    {
        ArgumentNullException.ThrowIfNull(op);
        return op as Operator<TIn, TOut> ?? new InterfaceOnly(op);
    }

    private sealed class InterfaceOnly(IOperator<TIn, TOut> inner) : Operator<TIn, TOut>
    {
        public override string Name => inner.Name;

        public override void Open(OperatorContext context) => inner.Open(context);

        public override void OnEvent(in TIn evt, long timestampMs, IOutput<TOut> output) => inner.OnEvent(evt, timestampMs, output);

        public override void OnTimer(in TimerFiring timer, IOutput<TOut> output) => inner.OnTimer(timer, output);

        public override void OnWatermark(long watermarkMs, IOutput<TOut> output) => inner.OnWatermark(watermarkMs, output);

        public override void Snapshot(BinaryWriter writer) => inner.Snapshot(writer);

        public override void Restore(BinaryReader reader) => inner.Restore(reader);
    }
}

/// <summary>What an operator may use of its host: timers scoped to it, the watermark and the settings of time.</summary>
public sealed class OperatorContext
{
    private readonly TimerService _timers;
    private readonly WatermarkTracker _watermarks;
    private readonly Dictionary<string, KeyTable>? _keyTables;

    internal OperatorContext(string name, int owner, TimerService timers, WatermarkTracker watermarks, TimeProvider clock,
        Dictionary<string, KeyTable>? keyTables = null)
    {
        _keyTables = keyTables;
        Name = name;
        Owner = owner;
        _timers = timers;
        _watermarks = watermarks;
        Clock = clock;
    }

    public string Name { get; }

    /// <summary>The runtime's key table of <paramref name="space"/>, shared by every operator asking for the same
    /// space (see <see cref="KeyedState{TState}.ShareKeys"/>); a new private table when the host keeps none.</summary>
    public KeyTable Keys(string space)
    {
        ArgumentNullException.ThrowIfNull(space);
        if (_keyTables is null)
        {
            return new KeyTable();
        }
        if (!_keyTables.TryGetValue(space, out var table))
        {
            table = new KeyTable();
            _keyTables.Add(space, table);
        }
        return table;
    }

    internal int Owner { get; }

    /// <summary>The current watermark: every event with a timestamp below it has been seen (long.MinValue at start).</summary>
    public long Watermark => _watermarks.Watermark;

    /// <summary>How far behind the watermark an event may be and still count (not late).</summary>
    public long AllowedLatenessMs => _watermarks.AllowedLatenessMs;

    /// <summary>The runtime's clock, for processing-time decisions; never read it to decide event-time results.</summary>
    public TimeProvider Clock { get; }

    /// <summary>Asks for <see cref="IOperator{TIn, TOut}.OnTimer"/> once the watermark passes <paramref name="timeMs"/>
    /// (once every event with a timestamp ≤ it has arrived). Returns false when the same (key, time, tag) is already set.</summary>
    public bool RegisterEventTimeTimer(string key, long timeMs, int tag = 0) =>
        _timers.EventTime.Register(new TimerId(Owner, key, timeMs, tag));

    public bool DeleteEventTimeTimer(string key, long timeMs, int tag = 0) =>
        _timers.EventTime.Delete(new TimerId(Owner, key, timeMs, tag));

    /// <summary>Asks for a callback once the runtime's clock reads at least <paramref name="timeMs"/> (Unix ms).
    /// Processing-time timers are checkpointed but depend on the wall clock, so outputs they drive are not replayable.</summary>
    public bool RegisterProcessingTimeTimer(string key, long timeMs, int tag = 0) =>
        _timers.ProcessingTime.Register(new TimerId(Owner, key, timeMs, tag));

    public bool DeleteProcessingTimeTimer(string key, long timeMs, int tag = 0) =>
        _timers.ProcessingTime.Delete(new TimerId(Owner, key, timeMs, tag));
}
