namespace Vigil.Core.Detection;

/// <summary>
/// A bounded free list of arrays of one length, for rule states whose small rings come and go with each burst of a
/// user's activity: a ring let go is cleared and kept for the next user who needs one, instead of being allocated
/// again, zeroed by the runtime and collected later.
/// </summary>
/// <remarks>One per operator, used on its thread only (not thread-safe). Holds at most <c>capacity</c> arrays, so it
/// costs a fixed amount of memory however many users come and go; arrays of another length are not taken.</remarks>
internal sealed class SmallArrayPool<T>(int length, int capacity = 1024)
{
    private readonly T[][] _free = new T[capacity][];
    private int _count;

    /// <summary>The length of the arrays pooled.</summary>
    public int Length { get; } = length > 0 ? length : throw new ArgumentOutOfRangeException(nameof(length));

    /// <summary>Arrays held now.</summary>
    public int Count => _count;

    /// <summary>A cleared array of <see cref="Length"/> elements.</summary>
    public T[] Rent()
    {
        if (_count == 0)
        {
            return new T[Length];
        }
        var array = _free[--_count];
        _free[_count] = null!;
        return array;
    }

    /// <summary>Keeps <paramref name="array"/> for a later <see cref="Rent"/> (cleared, so it holds no references) when
    /// it has the pooled length and there is room; otherwise lets it go.</summary>
    public void Return(T[] array)
    {
        if (array.Length != Length || _count == _free.Length)
        {
            return;
        }
        Array.Clear(array);
        _free[_count++] = array;
    }
}
