namespace Vigil.Core.Engine.Cep;

/// <summary>
/// What an iterative condition can see of the partial match it is deciding for: the events accepted so far per stage
/// (not including the event under test) and the event's timestamp. FlinkCEP's IterativeCondition.Context.
/// </summary>
/// <remarks>
/// One instance per matcher is reused for every evaluation, and the lists it returns are reused too: read them inside
/// the condition, do not keep them. Reading is a walk back over the partial match, so it costs its length.
/// </remarks>
public sealed class PatternContext<T>
{
    private readonly PatternMatcher<T> _matcher;
    private readonly Dictionary<string, int> _stageIndex;
    private readonly List<T>?[] _lists;

    internal PatternContext(PatternMatcher<T> matcher, CompiledPattern<T> pattern)
    {
        _matcher = matcher;
        _stageIndex = pattern.StageIndex;
        _lists = new List<T>?[pattern.Stages.Length];
    }

    /// <summary>The last node of the partial match being evaluated; -1 when the event would start a new match.</summary>
    internal int Node { get; set; } = -1;

    /// <summary>The timestamp of the event being tested.</summary>
    public long TimestampMs { get; internal set; }

    /// <summary>The timestamp of the first event of the partial match, or of the event being tested when it would start one.</summary>
    public long StartTimestampMs { get; internal set; }

    /// <summary>The events <paramref name="stage"/> has accepted so far in this partial match, oldest first.</summary>
    /// <exception cref="ArgumentException">The pattern has no stage of that name (a mistake in the rule, not in the input).</exception>
    public IReadOnlyList<T> Events(string stage)
    {
        var index = IndexOf(stage);
        var list = _lists[index] ??= [];
        list.Clear();
        for (var node = Node; node >= 0; node = _matcher.NodePrev(node))
        {
            if (_matcher.NodeStage(node) == index)
            {
                list.Add(_matcher.NodeEvent(node));
            }
        }
        list.Reverse();
        return list;
    }

    /// <summary>How many events <paramref name="stage"/> has accepted so far in this partial match.</summary>
    public int Count(string stage)
    {
        var index = IndexOf(stage);
        var count = 0;
        for (var node = Node; node >= 0; node = _matcher.NodePrev(node))
        {
            if (_matcher.NodeStage(node) == index)
            {
                count++;
            }
        }
        return count;
    }

    private int IndexOf(string stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return _stageIndex.TryGetValue(stage, out var index)
            ? index
            : throw new ArgumentException($"The pattern has no stage named '{stage}'.", nameof(stage));
    }
}
