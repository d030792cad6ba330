using Vigil.Core.Engine;
using Vigil.Core.Engine.Cep;

namespace Vigil.Core.Tests.Engine.Cep;

/// <summary>A test event: a name like "b2" (its letter is its kind), a fake timestamp, a key and a value.</summary>
public sealed record E(string Name, long Ts, string Key = "k", int Value = 0)
{
    public char Kind => Name[0];

    public override string ToString() => Name;
}

public sealed class ESerializer : IStateSerializer<E>
{
    public static ESerializer Instance { get; } = new();

    public void Write(BinaryWriter writer, E value)
    {
        writer.Write(value.Name);
        writer.Write(value.Ts);
        writer.Write(value.Key);
        writer.Write(value.Value);
    }

    public E Read(BinaryReader reader) => new(reader.ReadString(), reader.ReadInt64(), reader.ReadString(), reader.ReadInt32());
}

/// <summary>A deterministic driver: events from a compact text, matches rendered as "a b1 c" in event order.</summary>
public static class Cep
{
    public static Func<E, bool> Is(char kind) => e => e.Kind == kind;

    /// <summary>"a b1 d1 c" → events with timestamps 1, 2, 3, …; "a@5 b@7" sets timestamps explicitly.</summary>
    public static List<E> Stream(string text, string key = "k")
    {
        var list = new List<E>();
        var ts = 0L;
        foreach (var token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var at = token.IndexOf('@', StringComparison.Ordinal);
            string name;
            if (at >= 0)
            {
                name = token[..at];
                ts = long.Parse(token[(at + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                name = token;
                ts++;
            }
            list.Add(new E(name, ts, key));
        }
        return list;
    }

    public static string Render(PatternMatch<E> m) => Render(m.EventsByStage);

    public static string Render(TimedOutMatch<E> m) => Render(m.EventsByStage);

    public static string Render(IReadOnlyDictionary<string, IReadOnlyList<E>> byStage)
    {
        var all = new List<E>();
        foreach (var list in byStage.Values)
        {
            all.AddRange(list);
        }
        all.Sort((x, y) => x.Ts != y.Ts ? x.Ts.CompareTo(y.Ts) : string.CompareOrdinal(x.Name, y.Name));
        return string.Join(' ', all.Select(e => e.Name));
    }

    /// <summary>Runs the pattern over the text and returns the matches in emission order.</summary>
    public static List<string> Run(Pattern<E> pattern, string text, PatternOptions? options = null, long? finalWatermark = null)
    {
        var (matches, _) = RunWithTimeouts(pattern, text, options, finalWatermark);
        return matches;
    }

    public static (List<string> Matches, List<string> Timeouts) RunWithTimeouts(Pattern<E> pattern, string text, PatternOptions? options = null, long? finalWatermark = null)
    {
        var matcher = pattern.Compile(options).CreateMatcher();
        var matches = new List<PatternMatch<E>>();
        var timeouts = new List<TimedOutMatch<E>>();
        foreach (var e in Stream(text))
        {
            matcher.Process(e, e.Ts, matches, timeouts);
        }
        if (finalWatermark is { } wm)
        {
            matcher.AdvanceTime(wm, matches, timeouts);
        }
        return (matches.Select(Render).ToList(), timeouts.Select(Render).ToList());
    }

    public static PatternOptions Skip(AfterMatchSkip skip) => new() { SkipStrategy = skip };
}
