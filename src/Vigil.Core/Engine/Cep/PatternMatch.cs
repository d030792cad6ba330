namespace Vigil.Core.Engine.Cep;

/// <summary>
/// The events of a match in the order they were accepted, with the stage that accepted each. Kept as two arrays so
/// that reporting a match costs three small allocations; the by-stage view is built on first use.
/// </summary>
internal sealed class MatchEvents<T>(CompiledStage<T>[] stages, T[] events, int[] stageOf)
{
    private static readonly IReadOnlyList<T> s_none = [];
    private Dictionary<string, IReadOnlyList<T>>? _byStage;

    public IReadOnlyList<T> All => events;

    public IReadOnlyDictionary<string, IReadOnlyList<T>> ByStage => _byStage ??= Build();

    public IReadOnlyList<T> Of(string stage) => ByStage.TryGetValue(stage, out var list) ? list : s_none;

    private Dictionary<string, IReadOnlyList<T>> Build()
    {
        var result = new Dictionary<string, IReadOnlyList<T>>(StringComparer.Ordinal);
        for (var i = 0; i < events.Length; i++)
        {
            var name = stages[stageOf[i]].Name;
            if (!result.TryGetValue(name, out var list))
            {
                list = new List<T>();
                result.Add(name, list);
            }
            ((List<T>)list).Add(events[i]);
        }
        return result;
    }
}

/// <summary>A completed match: the accepted events grouped by stage name, in the order they were accepted.</summary>
public sealed class PatternMatch<T>
{
    private readonly MatchEvents<T> _events;

    internal PatternMatch(string? key, MatchEvents<T> events, long firstMs, long lastMs)
    {
        Key = key;
        _events = events;
        FirstTimestampMs = firstMs;
        LastTimestampMs = lastMs;
    }

    /// <summary>The key of the matcher that found it when it came from a <see cref="KeyedPatternOperator{T}"/>; otherwise null.</summary>
    public string? Key { get; }

    /// <summary>The accepted events per stage; stages that accepted nothing (optional, negative) are absent.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<T>> EventsByStage => _events.ByStage;

    /// <summary>Every accepted event, in the order the matcher accepted them.</summary>
    public IReadOnlyList<T> AllEvents => _events.All;

    /// <summary>The number of events in the match.</summary>
    public int EventCount => _events.All.Count;

    /// <summary>Timestamp of the first accepted event.</summary>
    public long FirstTimestampMs { get; }

    /// <summary>Timestamp of the last accepted event.</summary>
    public long LastTimestampMs { get; }

    /// <summary>The events accepted by <paramref name="stage"/>; empty when it accepted none.</summary>
    public IReadOnlyList<T> Events(string stage) => _events.Of(stage);
}

/// <summary>A partial match discarded because its window (<see cref="Pattern{T}.Within"/>) closed before it completed.</summary>
public sealed class TimedOutMatch<T>
{
    private readonly MatchEvents<T> _events;

    internal TimedOutMatch(string? key, MatchEvents<T> events, long firstMs, long lastMs, long timeoutMs)
    {
        Key = key;
        _events = events;
        FirstTimestampMs = firstMs;
        LastTimestampMs = lastMs;
        TimeoutTimestampMs = timeoutMs;
    }

    /// <summary>The key of the matcher when it came from a <see cref="KeyedPatternOperator{T}"/>; otherwise null.</summary>
    public string? Key { get; }

    /// <summary>The events accepted so far, per stage.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<T>> EventsByStage => _events.ByStage;

    /// <summary>Every event accepted so far, in order.</summary>
    public IReadOnlyList<T> AllEvents => _events.All;

    /// <summary>The number of events accepted so far.</summary>
    public int EventCount => _events.All.Count;

    /// <summary>Timestamp of the first accepted event.</summary>
    public long FirstTimestampMs { get; }

    /// <summary>Timestamp of the last accepted event.</summary>
    public long LastTimestampMs { get; }

    /// <summary>The end of the window: first timestamp plus the pattern's Within.</summary>
    public long TimeoutTimestampMs { get; }

    /// <summary>The events accepted by <paramref name="stage"/>; empty when it accepted none.</summary>
    public IReadOnlyList<T> Events(string stage) => _events.Of(stage);
}
