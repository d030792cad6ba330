namespace Vigil.Core.Engine.Cep;

/// <summary>
/// A stage condition as a small tree of AND / OR over simple (event only) and iterative (event and partial match)
/// leaves. It is flattened into one delegate at compile time; a tree of simple leaves stays simple, which lets the
/// matcher evaluate it once per event however many partial matches are waiting.
/// </summary>
internal sealed class CepCondition<T>
{
    private readonly Func<T, bool>? _simple;
    private readonly Func<T, PatternContext<T>, bool>? _iterative;

    private CepCondition(Func<T, bool>? simple, Func<T, PatternContext<T>, bool>? iterative)
    {
        _simple = simple;
        _iterative = iterative;
    }

    public bool IsSimple => _simple is not null;

    public Func<T, bool> Simple => _simple ?? throw new InvalidOperationException("The condition is iterative.");

    public Func<T, PatternContext<T>, bool> Iterative => _iterative ?? AsIterative(_simple!);

    public static CepCondition<T> Of(Func<T, bool> condition) => new(condition, null);

    public static CepCondition<T> Of(Func<T, PatternContext<T>, bool> condition) => new(null, condition);

    public static CepCondition<T> And(CepCondition<T>? left, CepCondition<T> right)
    {
        if (left is null)
        {
            return right;
        }
        if (left.IsSimple && right.IsSimple)
        {
            var a = left.Simple;
            var b = right.Simple;
            return new CepCondition<T>(e => a(e) && b(e), null);
        }
        var x = left.Iterative;
        var y = right.Iterative;
        return new CepCondition<T>(null, (e, ctx) => x(e, ctx) && y(e, ctx));
    }

    public static CepCondition<T> Or(CepCondition<T>? left, CepCondition<T> right)
    {
        // As in FlinkCEP, or() on a stage that has no condition yet acts as where().
        if (left is null)
        {
            return right;
        }
        if (left.IsSimple && right.IsSimple)
        {
            var a = left.Simple;
            var b = right.Simple;
            return new CepCondition<T>(e => a(e) || b(e), null);
        }
        var x = left.Iterative;
        var y = right.Iterative;
        return new CepCondition<T>(null, (e, ctx) => x(e, ctx) || y(e, ctx));
    }

    private static Func<T, PatternContext<T>, bool> AsIterative(Func<T, bool> simple) => (e, _) => simple(e);
}
