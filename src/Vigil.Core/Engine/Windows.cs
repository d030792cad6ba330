namespace Vigil.Core.Engine;

/// <summary>The shape of a window.</summary>
public enum WindowKind : byte
{
    /// <summary>Fixed-size, non-overlapping windows aligned to the epoch.</summary>
    Tumbling,

    /// <summary>Fixed-size windows starting every slide (hopping); an event belongs to size/slide windows.</summary>
    Sliding,

    /// <summary>Per key, events closer than the gap share a window; a quiet gap closes it.</summary>
    Session,
}

/// <summary>An event-time window, [start, end) in Unix milliseconds.</summary>
public readonly record struct Window(long StartMs, long EndMs);

/// <summary>Which windows an operator keeps. Create with <see cref="Tumbling"/>, <see cref="Sliding"/> or <see cref="Session"/>.</summary>
public sealed record WindowSpec
{
    private WindowSpec(WindowKind kind, long sizeMs, long slideMs)
    {
        Kind = kind;
        SizeMs = sizeMs;
        SlideMs = slideMs;
    }

    public WindowKind Kind { get; }

    /// <summary>The window length; for sessions, the gap.</summary>
    public long SizeMs { get; }

    /// <summary>The distance between window starts (equal to the size when tumbling, unused for sessions).</summary>
    public long SlideMs { get; }

    public static WindowSpec Tumbling(TimeSpan size) => new(WindowKind.Tumbling, Positive(size, nameof(size)), Positive(size, nameof(size)));

    public static WindowSpec Sliding(TimeSpan size, TimeSpan slide)
    {
        var sizeMs = Positive(size, nameof(size));
        var slideMs = Positive(slide, nameof(slide));
        if (slideMs > sizeMs)
        {
            throw new ArgumentOutOfRangeException(nameof(slide), slide, "A slide longer than the window would skip events.");
        }
        return new(WindowKind.Sliding, sizeMs, slideMs);
    }

    /// <summary>Session windows: a session ends once no event came for <paramref name="gap"/>; events exactly
    /// <paramref name="gap"/> apart fall in different sessions.</summary>
    public static WindowSpec Session(TimeSpan gap) => new(WindowKind.Session, Positive(gap, nameof(gap)), 0);

    private static long Positive(TimeSpan value, string name)
    {
        var ms = (long)value.TotalMilliseconds;
        if (ms <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, "A window duration must be at least one millisecond.");
        }
        return ms;
    }
}

/// <summary>Incremental aggregation: each event is folded into an accumulator as it comes, so a window holds one
/// accumulator, not its events.</summary>
/// <typeparam name="TIn">The event type.</typeparam>
/// <typeparam name="TAcc">The accumulator; a struct is updated in place.</typeparam>
/// <typeparam name="TOut">The window's result.</typeparam>
public interface IAggregator<TIn, TAcc, TOut>
{
    TAcc Create();

    void Add(ref TAcc accumulator, in TIn value);

    /// <summary>Folds <paramref name="other"/> into <paramref name="target"/> (session windows merging).</summary>
    void Merge(ref TAcc target, in TAcc other);

    TOut Result(in TAcc accumulator);
}

/// <summary>
/// An aggregator that can also take back what a merge added. Sliding windows over such an aggregator are sliced into
/// panes of one slide each (Flink's "slicing", Trill's partial aggregates): an event updates one pane, and each key
/// keeps a running accumulator that gains the newest pane and loses the oldest as the window slides, instead of one
/// accumulator per overlapping window.
/// </summary>
/// <remarks><see cref="IAggregator{TIn, TAcc, TOut}.Merge"/> must not keep a reference to <c>other</c> (panes
/// live on after being merged into the running accumulator).</remarks>
public interface IRetractingAggregator<TIn, TAcc, TOut> : IAggregator<TIn, TAcc, TOut>
{
    /// <summary>Removes from <paramref name="target"/> what merging <paramref name="other"/> into it added.</summary>
    void Retract(ref TAcc target, in TAcc other);

    /// <summary>Empties an accumulator so that it can serve a new pane; false when it should be dropped instead
    /// (a burst grew it too large to keep).</summary>
    bool TryReset(ref TAcc accumulator);
}

/// <summary>Why a window result is emitted.</summary>
public enum WindowFireKind : byte
{
    /// <summary>Before the window closed, on an update (see <see cref="EarlyFiringMode"/>); more events may follow.</summary>
    Early,

    /// <summary>The watermark passed the window's end + allowed lateness: the final result.</summary>
    OnTime,
}

/// <summary>When a window emits before it closes.</summary>
public enum EarlyFiringMode : byte
{
    /// <summary>Only the on-time result, once the watermark passes the window's end.</summary>
    None,

    /// <summary>On every update (for which the condition, if any, holds).</summary>
    EveryUpdate,

    /// <summary>Once each time the condition goes from false to true: a threshold rule fires on the event that
    /// crosses the threshold, without waiting out the out-of-orderness bound.</summary>
    WhenConditionBecomesTrue,
}

/// <summary>
/// Early firing for a <see cref="WindowOperator{TIn, TAcc, TResult, TOut}"/>. Early results are computed from the
/// events seen so far, in arrival order; an out-of-order event may still join the window afterwards, which the
/// on-time result includes. Early firings are deterministic for a given input order, so they replay exactly.
/// </summary>
public sealed record EarlyFiring<TAcc>
{
    public EarlyFiringMode Mode { get; init; }

    /// <summary>The condition on the accumulator; required for <see cref="EarlyFiringMode.WhenConditionBecomesTrue"/>,
    /// an optional filter for <see cref="EarlyFiringMode.EveryUpdate"/>.</summary>
    public Func<TAcc, bool>? Condition { get; init; }

    /// <summary>Whether the on-time result is still emitted when the window closes (default true).</summary>
    public bool EmitOnTime { get; init; } = true;
}

/// <summary>A window result handed to the emitter.</summary>
/// <param name="Key">The window's key.</param>
/// <param name="Window">The window's bounds (for a session, the span of its events plus the gap).</param>
/// <param name="Result">The aggregate so far (early) or final (on time).</param>
/// <param name="Kind">Early or on time.</param>
/// <param name="EarlyFirings">Early results emitted for this window so far, this one included.</param>
/// <param name="Trigger">The event that caused an early firing; default for an on-time firing.</param>
public readonly record struct WindowFiring<TIn, TResult>(
    string Key, Window Window, TResult Result, WindowFireKind Kind, int EarlyFirings, TIn? Trigger);

/// <summary>Turns a window result into zero or more outputs (an alert when a threshold is met, say).</summary>
public delegate void WindowEmitter<TIn, TResult, TOut>(in WindowFiring<TIn, TResult> firing, IOutput<TOut> output);
