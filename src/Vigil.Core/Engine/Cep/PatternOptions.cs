namespace Vigil.Core.Engine.Cep;

/// <summary>The kinds of <see cref="AfterMatchSkip"/> (FlinkCEP's AfterMatchSkipStrategy).</summary>
public enum AfterMatchSkipKind : byte
{
    /// <summary>Every match is emitted; an event may belong to many matches.</summary>
    NoSkip,

    /// <summary>After a match, partial matches that started with the same event (or earlier) are discarded.</summary>
    SkipToNext,

    /// <summary>After a match, every partial match that started at or before its last event is discarded.</summary>
    SkipPastLastEvent,

    /// <summary>After a match, partial matches that started before the first event of the named stage are discarded.</summary>
    SkipToFirst,

    /// <summary>After a match, partial matches that started before the last event of the named stage are discarded.</summary>
    SkipToLast,
}

/// <summary>
/// What happens to overlapping partial matches once a match is found. With any strategy but
/// <see cref="NoSkip"/>, matches are emitted in the order of their first event: a match waits while a partial match
/// that started earlier is still alive (it may still complete and take precedence), exactly as FlinkCEP does.
/// </summary>
public readonly record struct AfterMatchSkip(AfterMatchSkipKind Kind, string? StageName)
{
    /// <summary>Every possible match is emitted.</summary>
    public static AfterMatchSkip NoSkip => new(AfterMatchSkipKind.NoSkip, null);

    /// <summary>Discards partial matches that started with the first event of the emitted match.</summary>
    public static AfterMatchSkip SkipToNext => new(AfterMatchSkipKind.SkipToNext, null);

    /// <summary>Discards every partial match that started before the emitted match ended: no event is reported twice.</summary>
    public static AfterMatchSkip SkipPastLastEvent => new(AfterMatchSkipKind.SkipPastLastEvent, null);

    /// <summary>Discards partial matches that started before the first event accepted by <paramref name="stageName"/>.</summary>
    public static AfterMatchSkip SkipToFirst(string stageName) => new(AfterMatchSkipKind.SkipToFirst, stageName);

    /// <summary>Discards partial matches that started before the last event accepted by <paramref name="stageName"/>.</summary>
    public static AfterMatchSkip SkipToLast(string stageName) => new(AfterMatchSkipKind.SkipToLast, stageName);
}

/// <summary>Settings of a compiled pattern.</summary>
public sealed record PatternOptions
{
    /// <summary>What to do with overlapping partial matches after a match; FlinkCEP's default is <see cref="AfterMatchSkip.NoSkip"/>.</summary>
    public AfterMatchSkip SkipStrategy { get; init; } = AfterMatchSkip.NoSkip;

    /// <summary>
    /// Partial matches one matcher (one key) may hold. When a new one would exceed it, the oldest (earliest first event)
    /// is dropped and counted in <see cref="PatternMatcher{T}.DroppedPartialMatches"/>, so an adversarial stream costs
    /// a metric, never the process.
    /// </summary>
    public int MaxPartialMatches { get; init; } = 1000;

    /// <summary>
    /// Events one partial match may accumulate (a looping stage without Within or Until would otherwise grow forever).
    /// A partial match that would exceed it is dropped and counted as <see cref="MaxPartialMatches"/> drops are.
    /// </summary>
    public int MaxEventsPerMatch { get; init; } = 10_000;
}
