namespace Vigil.Core.Engine.Cep;

/// <summary>
/// A validated pattern, flattened into an array of stages the matcher walks by index. Immutable and thread-safe:
/// one instance serves every matcher (every key, every partition).
/// </summary>
public sealed class CompiledPattern<T>
{
    private CompiledPattern(CompiledStage<T>[] stages, long withinMs, PatternOptions options, int skipStage)
    {
        Stages = stages;
        WithinMs = withinMs;
        Options = options;
        SkipStage = skipStage;
        var names = new string[stages.Length];
        var index = new Dictionary<string, int>(stages.Length, StringComparer.Ordinal);
        var iterative = false;
        for (var i = 0; i < stages.Length; i++)
        {
            names[i] = stages[i].Name;
            index[stages[i].Name] = i;
            iterative |= stages[i].Iterative is not null || stages[i].UntilIterative is not null;
        }
        StageNames = names;
        StageIndex = index;
        HasIterativeConditions = iterative;
        // A cheap fingerprint, so a checkpoint taken with one pattern is not restored into a matcher of another.
        var hash = 17;
        foreach (var s in stages)
        {
            hash = unchecked((hash * 31) + StableHash(s.Name));
            hash = unchecked((hash * 31) + ((int)s.Kind << 8) + (s.Min * 7) + s.Max);
        }
        Fingerprint = hash;
    }

    /// <summary>The stage names in pattern order.</summary>
    public IReadOnlyList<string> StageNames { get; }

    /// <summary>The window in milliseconds; 0 when the pattern has no Within.</summary>
    public long WithinMs { get; }

    public PatternOptions Options { get; }

    /// <summary>True when a condition reads the partial match; such conditions run once per partial match per event.</summary>
    public bool HasIterativeConditions { get; }

    internal CompiledStage<T>[] Stages { get; }

    internal Dictionary<string, int> StageIndex { get; }

    /// <summary>The stage named by SkipToFirst / SkipToLast; -1 otherwise.</summary>
    internal int SkipStage { get; }

    internal int Fingerprint { get; }

    /// <summary>A matcher with no partial matches: one per key.</summary>
    public PatternMatcher<T> CreateMatcher() => new(this);

    /// <summary>A matcher that keeps its events in a buffer shared with other matchers (one per operator).</summary>
    internal PatternMatcher<T> CreateMatcher(CepArena<T> arena) => new(this, arena);

    internal static CompiledPattern<T> Build(Pattern<T> pattern, PatternOptions options)
    {
        if (options.MaxPartialMatches < 1)
        {
            throw new ArgumentException($"MaxPartialMatches must be at least 1, not {options.MaxPartialMatches}.", nameof(options));
        }
        if (options.MaxEventsPerMatch < 1)
        {
            throw new ArgumentException($"MaxEventsPerMatch must be at least 1, not {options.MaxEventsPerMatch}.", nameof(options));
        }
        var specs = new List<StageSpec<T>>();
        for (var p = pattern; p is not null; p = p.Previous)
        {
            specs.Add(p.Stage);
        }
        specs.Reverse();
        var n = specs.Count;
        var names = new HashSet<string>(StringComparer.Ordinal);
        var anyMandatory = false;
        for (var i = 0; i < n; i++)
        {
            var s = specs[i];
            if (!names.Add(s.Name))
            {
                throw new ArgumentException($"The stage name '{s.Name}' is used twice; stage names must be unique.", nameof(pattern));
            }
            var quantifiers = CountQuantifiers(s.QuantifierCalls);
            if (quantifiers > 1)
            {
                throw new ArgumentException($"Stage '{s.Name}' has more than one quantifier ({s.QuantifierCalls.TrimStart('|')}).", nameof(pattern));
            }
            if (s.Kind != StageKind.Accept)
            {
                if (s.Looping || s.Optional || s.Greedy || s.InnerSet || s.Until is not null)
                {
                    throw new ArgumentException($"Negative stage '{s.Name}' cannot have a quantifier, Optional, Greedy, Consecutive, AllowCombinations or Until.", nameof(pattern));
                }
                if (i > 0 && specs[i - 1].Kind == StageKind.Accept && specs[i - 1].Optional)
                {
                    throw new ArgumentException($"Negative stage '{s.Name}' cannot follow the optional stage '{specs[i - 1].Name}'.", nameof(pattern));
                }
                if (i > 0 && specs[i - 1].Kind != StageKind.Accept)
                {
                    throw new ArgumentException($"Negative stage '{s.Name}' cannot directly follow another negative stage.", nameof(pattern));
                }
                if (s.Kind == StageKind.NotFollowedBy && i == n - 1 && pattern.WithinMs <= 0)
                {
                    throw new ArgumentException($"A pattern cannot end with NotFollowedBy('{s.Name}') without Within: it would never complete.", nameof(pattern));
                }
            }
            else
            {
                if (!s.Looping && (s.Greedy || s.InnerSet || s.Until is not null))
                {
                    throw new ArgumentException($"Greedy, Consecutive, AllowCombinations and Until need a looping stage (Times, OneOrMore, TimesOrMore); '{s.Name}' is not.", nameof(pattern));
                }
                anyMandatory |= !s.Optional;
            }
        }
        if (!anyMandatory)
        {
            throw new ArgumentException("Every stage is optional, so a match could be empty.", nameof(pattern));
        }

        var skipStage = -1;
        var skip = options.SkipStrategy;
        if (skip.Kind is AfterMatchSkipKind.SkipToFirst or AfterMatchSkipKind.SkipToLast)
        {
            skipStage = skip.StageName is null ? -1 : specs.FindIndex(s => s.Name == skip.StageName);
            if (skipStage < 0 || specs[skipStage].Kind != StageKind.Accept)
            {
                throw new ArgumentException($"The skip strategy names stage '{skip.StageName}', which the pattern does not accept events into.", nameof(options));
            }
        }

        var stages = new CompiledStage<T>[n];
        for (var j = 0; j < n; j++)
        {
            stages[j] = CompiledStage<T>.From(specs[j]);
        }
        for (var j = 0; j < n; j++)
        {
            var st = stages[j];
            st.ProceedTo = NextState(stages, j + 1);
            st.IsLast = j == n - 1;
            // FlinkCEP puts a greedy loop's condition on every transition of the state after it, so that state only
            // sees events the loop refused.
            var p = j - 1;
            while (p >= 0 && stages[p].Kind == StageKind.NotFollowedBy)
            {
                p--;
            }
            st.GreedyGuard = p >= 0 && stages[p].Kind == StageKind.Accept && stages[p].Greedy && stages[p].Max > stages[p].Min ? p : -1;
            if (st.Kind == StageKind.Accept)
            {
                var nots = new List<int>();
                for (var k = j - 1; k >= 0; k--)
                {
                    if (stages[k].Kind == StageKind.NotFollowedBy)
                    {
                        nots.Add(k);
                    }
                    else if (!(stages[k].Kind == StageKind.Accept && stages[k].Optional))
                    {
                        break;
                    }
                }
                st.EntryNots = [.. nots];
                st.LoopNot = j + 1 < n && stages[j + 1].Kind == StageKind.NotFollowedBy ? j + 1 : -1;
            }
        }
        return new CompiledPattern<T>(stages, pattern.WithinMs, options, skipStage);
    }

    /// <summary>The first stage at or after <paramref name="from"/> that a partial match can rest in: a NotFollowedBy in the
    /// middle of a pattern has no state of its own, it guards the entry of the stage after it.</summary>
    private static int NextState(CompiledStage<T>[] stages, int from)
    {
        var j = from;
        while (j < stages.Length && stages[j].Kind == StageKind.NotFollowedBy && j != stages.Length - 1)
        {
            j++;
        }
        return j;
    }

    private static int CountQuantifiers(string calls)
    {
        var count = 0;
        foreach (var part in calls.Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part != "Optional")
            {
                count++;
            }
        }
        return count;
    }

    private static int StableHash(string s)
    {
        var h = unchecked((int)2166136261);
        foreach (var c in s)
        {
            h = unchecked((h ^ c) * 16777619);
        }
        return h;
    }
}

/// <summary>One stage as the matcher sees it: conditions as delegates and the transitions precomputed.</summary>
internal sealed class CompiledStage<T>
{
    public required string Name { get; init; }

    public required StageKind Kind { get; init; }

    public required Contiguity Outer { get; init; }

    public required Contiguity Inner { get; init; }

    public required int Min { get; init; }

    public required int Max { get; init; }

    public required bool Optional { get; init; }

    public required bool Greedy { get; init; }

    /// <summary>The condition when it only reads the event (cached per event); null when iterative or absent.</summary>
    public Func<T, bool>? Simple { get; init; }

    public Func<T, PatternContext<T>, bool>? Iterative { get; init; }

    public Func<T, bool>? UntilSimple { get; init; }

    public Func<T, PatternContext<T>, bool>? UntilIterative { get; init; }

    public bool HasUntil => UntilSimple is not null || UntilIterative is not null;

    /// <summary>The state a proceed from this stage leads to (skipping NotFollowedBy stages in the middle).</summary>
    public int ProceedTo { get; set; }

    public bool IsLast { get; set; }

    /// <summary>A greedy looping stage whose condition blocks every transition out of this stage's entry; -1 if none.</summary>
    public int GreedyGuard { get; set; } = -1;

    /// <summary>NotFollowedBy stages that discard a partial match waiting to enter this stage.</summary>
    public int[] EntryNots { get; set; } = [];

    /// <summary>The NotFollowedBy stage right after this one, which also guards its loop; -1 if none.</summary>
    public int LoopNot { get; set; } = -1;

    public static CompiledStage<T> From(StageSpec<T> s) => new()
    {
        Name = s.Name,
        Kind = s.Kind,
        Outer = s.Outer,
        Inner = s.Inner,
        Min = s.Min,
        Max = s.Max,
        Optional = s.Optional,
        Greedy = s.Greedy,
        Simple = s.Condition is null ? static _ => true : s.Condition.IsSimple ? s.Condition.Simple : null,
        Iterative = s.Condition is { IsSimple: false } c ? c.Iterative : null,
        UntilSimple = s.Until is { IsSimple: true } u ? u.Simple : null,
        UntilIterative = s.Until is { IsSimple: false } ui ? ui.Iterative : null,
    };
}
