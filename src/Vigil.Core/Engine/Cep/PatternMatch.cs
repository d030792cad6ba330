namespace Vigil.Core.Engine.Cep;

/// <summary>A completed match: the accepted events grouped by stage name, in the order they were accepted.</summary>
public sealed class PatternMatch<T>
{
    private static readonly IReadOnlyList<T> s_none = [];

    internal PatternMatch(string? key, IReadOnlyDictionary<string, IReadOnlyList<T>> events, int eventCount, long firstMs, long lastMs)
    {
        Key = key;
        EventsByStage = events;
        EventCount = eventCount;
        FirstTimestampMs = firstMs;
        LastTimestampMs = lastMs;
    }

    /// <summary>The key of the matcher that found it when it came from a <see cref="KeyedPatternOperator{T}"/>; otherwise null.</summary>
    public string? Key { get; }

    /// <summary>The accepted events per stage; stages that accepted nothing (optional, negative) are absent.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<T>> EventsByStage { get; }

    /// <summary>The number of events in the match.</summary>
    public int EventCount { get; }

    /// <summary>Timestamp of the first accepted event.</summary>
    public long FirstTimestampMs { get; }

    /// <summary>Timestamp of the last accepted event.</summary>
    public long LastTimestampMs { get; }

    /// <summary>The events accepted by <paramref name="stage"/>; empty when it accepted none.</summary>
    public IReadOnlyList<T> Events(string stage) => EventsByStage.TryGetValue(stage, out var list) ? list : s_none;
}

/// <summary>A partial match discarded because its window (<see cref="Pattern{T}.Within"/>) closed before it completed.</summary>
public sealed class TimedOutMatch<T>
{
    private static readonly IReadOnlyList<T> s_none = [];

    internal TimedOutMatch(string? key, IReadOnlyDictionary<string, IReadOnlyList<T>> events, int eventCount, long firstMs, long lastMs, long timeoutMs)
    {
        Key = key;
        EventsByStage = events;
        EventCount = eventCount;
        FirstTimestampMs = firstMs;
        LastTimestampMs = lastMs;
        TimeoutTimestampMs = timeoutMs;
    }

    /// <summary>The key of the matcher when it came from a <see cref="KeyedPatternOperator{T}"/>; otherwise null.</summary>
    public string? Key { get; }

    /// <summary>The events accepted so far, per stage.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<T>> EventsByStage { get; }

    /// <summary>The number of events accepted so far.</summary>
    public int EventCount { get; }

    /// <summary>Timestamp of the first accepted event.</summary>
    public long FirstTimestampMs { get; }

    /// <summary>Timestamp of the last accepted event.</summary>
    public long LastTimestampMs { get; }

    /// <summary>The end of the window: first timestamp plus the pattern's Within.</summary>
    public long TimeoutTimestampMs { get; }

    /// <summary>The events accepted by <paramref name="stage"/>; empty when it accepted none.</summary>
    public IReadOnlyList<T> Events(string stage) => EventsByStage.TryGetValue(stage, out var list) ? list : s_none;
}
