namespace Vigil.Core.Engine.Cep;

/// <summary>One accepted event in the shared buffer; <see cref="Prev"/> links to the event accepted before it.</summary>
internal struct CepNode<T>
{
    public T Event;
    public long Ts;
    public long Seq;
    public int Stage;
    public int Prev;
    public int Refs;
}

/// <summary>A partial match: where it is in the pattern and the last node of its events.</summary>
internal struct CepPartial
{
    public int Stage;
    public int Count;
    public bool CanProceed;
    public int Node;
    public long StartTs;
    public long StartSeq;
    public int Length;
}

/// <summary>A completed match not yet emitted.</summary>
internal struct CepCompleted
{
    public int Node;
    public long StartTs;
    public long StartSeq;
}

/// <summary>
/// The memory the matchers of one operator share: the event-node buffer (SASE+ / FlinkCEP's shared buffer, one array
/// for every key instead of one per key), the scratch lists of the step in progress, and size-class pools for the
/// per-key lists, so keys that come and go and bursts that grow a key's lists do not allocate in steady state.
/// Single-threaded, like the matchers that use it.
/// </summary>
internal sealed class CepArena<T>
{
    private const int Classes = 24;
    private const int MaxPooledPerClass = 4096;

    private readonly Stack<CepPartial[]>?[] _partialPool = new Stack<CepPartial[]>?[Classes];
    private readonly Stack<CepCompleted[]>?[] _completedPool = new Stack<CepCompleted[]>?[Classes];
    private int _high;
    private int _free = -1;

    public CepNode<T>[] Nodes = new CepNode<T>[16];

    /// <summary>Outcomes of the step in progress; copied into the matcher's own list at the end of the step.</summary>
    public CepPartial[] Next = new CepPartial[16];

    /// <summary>Matches completed by the step in progress.</summary>
    public CepCompleted[] Fresh = new CepCompleted[4];

    public long[] ScratchSeqs = [];

    /// <summary>Nodes in use over all matchers.</summary>
    public int LiveNodes { get; private set; }

    public int NewNode(T evt, long ts, long seq, int stage, int prev)
    {
        int index;
        if (_free >= 0)
        {
            index = _free;
            _free = Nodes[index].Prev;
        }
        else
        {
            if (_high == Nodes.Length)
            {
                Array.Resize(ref Nodes, Nodes.Length * 2);
            }
            index = _high++;
        }
        Nodes[index] = new CepNode<T> { Event = evt, Ts = ts, Seq = seq, Stage = stage, Prev = prev };
        if (prev >= 0)
        {
            Nodes[prev].Refs++;
        }
        LiveNodes++;
        return index;
    }

    /// <summary>Drops one reference; frees the node, and then its predecessors, when nothing refers to them. Returns the nodes freed.</summary>
    public int Release(int node)
    {
        var freed = 0;
        while (node >= 0)
        {
            ref var n = ref Nodes[node];
            if (--n.Refs > 0)
            {
                break;
            }
            var prev = n.Prev;
            n = new CepNode<T> { Prev = _free };
            _free = node;
            LiveNodes--;
            freed++;
            node = prev;
        }
        return freed;
    }

    public CepPartial[] RentPartials(int minLength) => Rent(_partialPool, minLength);

    public void Return(CepPartial[] array, int used) => Return(_partialPool, array, used);

    public CepCompleted[] RentCompleted(int minLength) => Rent(_completedPool, minLength);

    public void Return(CepCompleted[] array, int used) => Return(_completedPool, array, used);

    public void GrowNext() => Array.Resize(ref Next, Next.Length * 2);

    public void GrowFresh() => Array.Resize(ref Fresh, Fresh.Length * 2);

    private static TItem[] Rent<TItem>(Stack<TItem[]>?[] pool, int minLength)
    {
        var cls = ClassOf(minLength);
        return pool[cls] is { Count: > 0 } stack ? stack.Pop() : new TItem[1 << cls];
    }

    private static void Return<TItem>(Stack<TItem[]>?[] pool, TItem[] array, int used)
    {
        if (array.Length == 0)
        {
            return;
        }
        Array.Clear(array, 0, used);
        var cls = ClassOf(array.Length);
        if ((1 << cls) != array.Length)
        {
            return;
        }
        var stack = pool[cls] ??= new Stack<TItem[]>();
        if (stack.Count < MaxPooledPerClass)
        {
            stack.Push(array);
        }
    }

    /// <summary>The power-of-two size class holding at least <paramref name="length"/> items (minimum 4).</summary>
    private static int ClassOf(int length)
    {
        var cls = 2;
        while ((1 << cls) < length && cls < Classes - 1)
        {
            cls++;
        }
        return cls;
    }
}
