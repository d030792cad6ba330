namespace Vigil.Core.Engine.Cep;

/// <summary>How an event accepted by one stage may be separated from the event accepted before it.</summary>
public enum Contiguity : byte
{
    /// <summary>The very next event must match (<c>next</c>, <c>consecutive</c>); any other event ends the partial match.</summary>
    Strict,

    /// <summary>Non-matching events in between are skipped; the first matching event is taken (<c>followedBy</c>).</summary>
    Relaxed,

    /// <summary>
    /// Any event in between may be skipped, matching ones included, so every later matching event starts an
    /// alternative match (<c>followedByAny</c>, <c>allowCombinations</c>).
    /// </summary>
    NonDeterministic,
}

/// <summary>What a stage of a pattern does with the events that satisfy its condition.</summary>
public enum StageKind : byte
{
    /// <summary>Accepts events into the match.</summary>
    Accept,

    /// <summary>An event satisfying the condition directly after the previous stage discards the partial match.</summary>
    NotNext,

    /// <summary>
    /// An event satisfying the condition anywhere before the next stage accepts discards the partial match; as the last
    /// stage (which needs <see cref="Pattern{T}.Within"/>) the match completes when the window closes without one.
    /// </summary>
    NotFollowedBy,
}

/// <summary>
/// A complex event pattern in the style of FlinkCEP: a sequence of named stages joined by a contiguity, each with a
/// condition and a quantifier. Immutable: every method returns a new pattern, so a prefix can be shared.
/// </summary>
/// <remarks>
/// <code>
/// var pattern = Pattern&lt;UserEvent&gt;.Begin("fails").Where(e =&gt; e.Type == EventType.LoginFailed).TimesOrMore(5)
///     .FollowedBy("success").Where(e =&gt; e.Type == EventType.LoginSuccess)
///     .Within(TimeSpan.FromMinutes(10));
/// </code>
/// Quantifier, condition and contiguity methods apply to the last stage, as in FlinkCEP. Mistakes in the shape of
/// a pattern (duplicate names, a quantifier on a negative stage, a trailing NotFollowedBy without Within) are reported
/// by <see cref="Compile"/>, not by the per-event path.
/// </remarks>
public sealed class Pattern<T>
{
    private Pattern(Pattern<T>? previous, StageSpec<T> stage, long withinMs)
    {
        Previous = previous;
        Stage = stage;
        WithinMs = withinMs;
    }

    internal Pattern<T>? Previous { get; }

    internal StageSpec<T> Stage { get; }

    /// <summary>The time limit between the first and the last event of a match, in milliseconds; 0 when unbounded.</summary>
    public long WithinMs { get; }

    /// <summary>The name of the last stage.</summary>
    public string Name => Stage.Name;

    /// <summary>Starts a pattern with a stage called <paramref name="name"/>.</summary>
#pragma warning disable CA1000 // The FlinkCEP-shaped entry point reads best on the generic type: Pattern<UserEvent>.Begin(...).
    public static Pattern<T> Begin(string name) => new(null, StageSpec<T>.Create(name, StageKind.Accept, Contiguity.Relaxed), 0);
#pragma warning restore CA1000

    /// <summary>Appends a stage whose first event must directly follow the previous stage's last event (strict contiguity).</summary>
    public Pattern<T> Next(string name) => Append(name, StageKind.Accept, Contiguity.Strict);

    /// <summary>Appends a stage that skips non-matching events before its first event (relaxed contiguity).</summary>
    public Pattern<T> FollowedBy(string name) => Append(name, StageKind.Accept, Contiguity.Relaxed);

    /// <summary>Appends a stage for which every later matching event starts an alternative match (non-deterministic relaxed).</summary>
    public Pattern<T> FollowedByAny(string name) => Append(name, StageKind.Accept, Contiguity.NonDeterministic);

    /// <summary>Appends a negative stage: an event satisfying its condition right after the previous stage discards the match.</summary>
    public Pattern<T> NotNext(string name) => Append(name, StageKind.NotNext, Contiguity.Strict);

    /// <summary>
    /// Appends a negative stage: an event satisfying its condition before the next stage discards the match. As the last
    /// stage it needs <see cref="Within"/>: the match completes when the window closes with no such event.
    /// </summary>
    public Pattern<T> NotFollowedBy(string name) => Append(name, StageKind.NotFollowedBy, Contiguity.Relaxed);

    /// <summary>Adds a condition on the event; several <c>Where</c> calls are combined with AND.</summary>
    public Pattern<T> Where(Func<T, bool> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WithStage(Stage with { Condition = CepCondition<T>.And(Stage.Condition, CepCondition<T>.Of(condition)) });
    }

    /// <summary>
    /// Adds a condition on the event and on what the partial match has accepted so far (FlinkCEP's IterativeCondition);
    /// combined with AND. Such conditions are evaluated per partial match, so keep them cheap.
    /// </summary>
    public Pattern<T> Where(Func<T, PatternContext<T>, bool> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WithStage(Stage with { Condition = CepCondition<T>.And(Stage.Condition, CepCondition<T>.Of(condition)) });
    }

    /// <summary>Adds an alternative condition: the stage accepts an event satisfying the conditions so far OR this one.</summary>
    public Pattern<T> Or(Func<T, bool> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WithStage(Stage with { Condition = CepCondition<T>.Or(Stage.Condition, CepCondition<T>.Of(condition)) });
    }

    /// <summary>Adds an alternative iterative condition (see <see cref="Where(Func{T, PatternContext{T}, bool})"/>).</summary>
    public Pattern<T> Or(Func<T, PatternContext<T>, bool> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WithStage(Stage with { Condition = CepCondition<T>.Or(Stage.Condition, CepCondition<T>.Of(condition)) });
    }

    /// <summary>A stop condition for a looping stage: once an event satisfies it, the stage accepts no more events.</summary>
    public Pattern<T> Until(Func<T, bool> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WithStage(Stage with { Until = CepCondition<T>.Or(Stage.Until, CepCondition<T>.Of(condition)) });
    }

    /// <summary>The stage accepts exactly <paramref name="times"/> events.</summary>
    public Pattern<T> Times(int times) => Quantify(times, times, nameof(Times));

    /// <summary>The stage accepts between <paramref name="min"/> and <paramref name="max"/> events.</summary>
    public Pattern<T> Times(int min, int max) => Quantify(min, max, nameof(Times));

    /// <summary>The stage accepts one or more events (b+).</summary>
    public Pattern<T> OneOrMore() => Quantify(1, int.MaxValue, nameof(OneOrMore));

    /// <summary>The stage accepts <paramref name="times"/> or more events.</summary>
    public Pattern<T> TimesOrMore(int times) => Quantify(times, int.MaxValue, nameof(TimesOrMore));

    /// <summary>The stage may also accept no event at all.</summary>
    public Pattern<T> Optional() => WithStage(Stage with { Optional = true, QuantifierCalls = Stage.QuantifierCalls + "|Optional" });

    /// <summary>A looping stage takes as many events as it can: the next stage does not see events this stage accepts.</summary>
    public Pattern<T> Greedy() => WithStage(Stage with { Greedy = true });

    /// <summary>Strict contiguity between the events of a looping stage: a non-matching event ends the loop.</summary>
    public Pattern<T> Consecutive() => WithStage(Stage with { Inner = Contiguity.Strict, InnerSet = true });

    /// <summary>Non-deterministic relaxed contiguity between the events of a looping stage: every subset is a candidate.</summary>
    public Pattern<T> AllowCombinations() => WithStage(Stage with { Inner = Contiguity.NonDeterministic, InnerSet = true });

    /// <summary>
    /// Bounds the event time between the first event of a match and the time it completes: a partial match older than
    /// this is discarded (and reported as timed out). The smallest of several calls applies.
    /// </summary>
    public Pattern<T> Within(TimeSpan window)
    {
        if (window <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "A pattern window must be positive.");
        }
        var ms = (long)Math.Ceiling(window.TotalMilliseconds);
        return new Pattern<T>(Previous, Stage, WithinMs == 0 ? ms : Math.Min(WithinMs, ms));
    }

    /// <summary>Validates the pattern and compiles it into a matcher factory.</summary>
    /// <exception cref="ArgumentException">The pattern or the options are malformed.</exception>
    public CompiledPattern<T> Compile(PatternOptions? options = null) => CompiledPattern<T>.Build(this, options ?? new PatternOptions());

    private Pattern<T> Append(string name, StageKind kind, Contiguity contiguity) =>
        new(this, StageSpec<T>.Create(name, kind, contiguity), WithinMs);

    private Pattern<T> WithStage(StageSpec<T> stage) => new(Previous, stage, WithinMs);

    private Pattern<T> Quantify(int min, int max, string call)
    {
        if (min < 1 || max < min)
        {
            throw new ArgumentOutOfRangeException(nameof(min), $"{call}({min}, {max}) on stage '{Stage.Name}': need 1 ≤ min ≤ max; use Optional() for zero.");
        }
        return WithStage(Stage with { Min = min, Max = max, Looping = true, QuantifierCalls = Stage.QuantifierCalls + "|" + call });
    }
}

/// <summary>The definition of one stage as the builder collected it; checked by <see cref="CompiledPattern{T}"/>.</summary>
internal sealed record StageSpec<T>
{
    public required string Name { get; init; }

    public required StageKind Kind { get; init; }

    /// <summary>Contiguity to the previous stage.</summary>
    public required Contiguity Outer { get; init; }

    /// <summary>Contiguity between the events of this stage when it loops (FlinkCEP's default is relaxed).</summary>
    public Contiguity Inner { get; init; } = Contiguity.Relaxed;

    public bool InnerSet { get; init; }

    public CepCondition<T>? Condition { get; init; }

    public CepCondition<T>? Until { get; init; }

    public int Min { get; init; } = 1;

    public int Max { get; init; } = 1;

    /// <summary>Set by a quantifier call; a plain stage accepts exactly one event.</summary>
    public bool Looping { get; init; }

    public bool Optional { get; init; }

    public bool Greedy { get; init; }

    /// <summary>The quantifier calls made on this stage, to reject contradictory combinations with a clear message.</summary>
    public string QuantifierCalls { get; init; } = "";

    public static StageSpec<T> Create(string name, StageKind kind, Contiguity outer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new StageSpec<T> { Name = name, Kind = kind, Outer = outer };
    }
}
