namespace Vigil.Core.Engine;

/// <summary>
/// A base for rules with per-key state (Flink's KeyedProcessFunction): one <typeparamref name="TState"/> per key in a
/// <see cref="KeyedState{TState}"/> with TTL, updated in place, and event-time or processing-time timers per key.
/// The base checkpoints the state and evicts idle keys as the watermark moves; a subclass writes the rule.
/// </summary>
/// <remarks>Choose a TTL at least as long as the longest time the rule looks back or forward (window, timer), or a key
/// may be evicted while it still matters.</remarks>
public abstract class KeyedProcessOperator<TIn, TState, TOut> : Operator<TIn, TOut>
{
    private OperatorContext? _context;

    /// <param name="name">The checkpoint section name.</param>
    /// <param name="stateTtl">Event-time idle time after which a key's state is dropped.</param>
    /// <param name="serializer">Writes a key's state into checkpoints.</param>
    protected KeyedProcessOperator(string name, TimeSpan stateTtl, IStateSerializer<TState> serializer)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        State = new KeyedState<TState>(stateTtl, serializer);
    }

    public override string Name { get; }

    /// <summary>The per-key state (key count and bytes are metrics).</summary>
    public KeyedState<TState> State { get; }

    /// <summary>Timers and time, once the runtime has opened the operator.</summary>
    protected OperatorContext Context => _context ?? throw new InvalidOperationException($"Operator '{Name}' was not opened.");

    /// <summary>The key space of <see cref="KeyOf"/>: operators of a runtime with the same space share one
    /// <see cref="KeyTable"/> (one key string and one lookup per event between them); null keeps a table of its own.
    /// <see cref="KeySpaces.User"/> unless overridden.</summary>
    protected virtual string? KeySpace => KeySpaces.User;

    public override void Open(OperatorContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        if (KeySpace is { } space && State.Count == 0)
        {
            State.ShareKeys(context.Keys(space));
        }
    }

    public override void OnEvent(in TIn evt, long timestampMs, IOutput<TOut> output)
    {
        var key = KeyOf(evt);
        if (string.IsNullOrEmpty(key))
        {
            return;
        }
        ref var state = ref State.GetOrAdd(key, timestampMs, out var created);
        Process(key, ref state, created, evt, timestampMs, output);
    }

    /// <summary>Forwards to <see cref="OnKeyTimer"/>.</summary>
    public override void OnTimer(in TimerFiring timer, IOutput<TOut> output) => OnKeyTimer(timer, output);

    /// <summary>Evicts keys idle past the TTL.</summary>
    public override void OnWatermark(long watermarkMs, IOutput<TOut> output) => State.EvictExpired(watermarkMs);

    public override void Snapshot(BinaryWriter writer) => State.Write(writer);

    public override void Restore(BinaryReader reader) => State.Read(reader);

    /// <summary>The key of an event; null or empty skips it (the selector is also the filter).</summary>
    protected abstract string? KeyOf(in TIn evt);

    /// <summary>Handles an event with its key's state, which is default when <paramref name="created"/>. The ref is
    /// valid only during the call; do not add keys to <see cref="State"/> while holding it.</summary>
    protected abstract void Process(string key, ref TState state, bool created, in TIn evt, long timestampMs, IOutput<TOut> output);

    /// <summary>A timer of this operator came due; the key's state may have been evicted
    /// (<see cref="KeyedState{TState}.GetValueRefOrNullRef"/>).</summary>
    protected virtual void OnKeyTimer(in TimerFiring timer, IOutput<TOut> output)
    {
    }
}
