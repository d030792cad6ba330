using System.Runtime.InteropServices;

namespace Vigil.Core.Engine;

/// <summary>
/// The keys of one key space (the users of a partition, say) numbered as slots, shared by every
/// <see cref="KeyedState{TState}"/> keyed the same way: each state keeps its values in arrays indexed by slot, so a
/// key and its dictionary entry are held once however many operators keep state for it.
/// </summary>
/// <remarks>
/// <para>A slot is freed (and its number reused) only once no attached state holds a value for it. The last key
/// resolved is remembered by reference, so the operators of a pipeline, which all see the same event and so the same
/// key string, pay one dictionary lookup per event between them.</para>
/// <para>Not thread-safe: one table per partition runtime, driven by its thread.</para>
/// </remarks>
public sealed class KeyTable
{
    internal const int PageShift = 10;
    internal const int PageSize = 1 << PageShift;
    internal const int PageMask = PageSize - 1;

    // Dictionary<string, int> entry (hash, next, key, value: 24), its bucket (4), the slot's key reference (8) and the
    // string object's header, length and terminator (~22).
    private const int OverheadPerKey = 24 + 4 + 8 + 22;

    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly List<IKeySlotHolder> _holders = [];
    private string?[]?[] _keys = [];
    private int[] _free = [];
    private int _freeCount;
    private int _slotLimit;
    private long _keyChars;
    private string? _lastKey;
    private int _lastSlot = -1;

    /// <summary>Keys with a slot.</summary>
    public int Count => _slots.Count;

    /// <summary>One past the highest slot number ever handed out: the range to scan for held slots.</summary>
    public int SlotLimit => _slotLimit;

    /// <summary>States sharing this table.</summary>
    public int Holders => _holders.Count;

    /// <summary>Approximate heap bytes of the keys and the slot numbering (not of the states).</summary>
    public long ApproximateBytes => (_slots.Count * (long)OverheadPerKey) + (_keyChars * 2);

    /// <summary>The slot of <paramref name="key"/>, given a new one when absent. A new slot is freed again only through
    /// a holder letting it go, so callers hold what they add.</summary>
    public int GetOrAddSlot(string key)
    {
        if (ReferenceEquals(key, _lastKey))
        {
            return _lastSlot;
        }
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_slots, key, out var exists);
        if (!exists)
        {
            slot = Allocate(key);
        }
        _lastKey = key;
        _lastSlot = slot;
        return slot;
    }

    /// <summary>The slot of <paramref name="key"/> if it has one.</summary>
    public bool TryGetSlot(string key, out int slot)
    {
        if (ReferenceEquals(key, _lastKey))
        {
            slot = _lastSlot;
            return true;
        }
        if (_slots.TryGetValue(key, out slot))
        {
            _lastKey = key;
            _lastSlot = slot;
            return true;
        }
        return false;
    }

    /// <summary>The key in <paramref name="slot"/>, or null when the slot is free.</summary>
    public string? KeyAt(int slot) => (uint)slot < (uint)_slotLimit ? _keys[slot >> PageShift]![slot & PageMask] : null;

    internal void Attach(IKeySlotHolder holder) => _holders.Add(holder);

    /// <summary>A holder let <paramref name="slot"/> go: the slot is freed when no holder keeps a value in it.</summary>
    internal void Release(int slot)
    {
        foreach (var holder in _holders)
        {
            if (holder.Holds(slot))
            {
                return;
            }
        }
        ref var key = ref _keys[slot >> PageShift]![slot & PageMask];
        if (key is null)
        {
            return;
        }
        _slots.Remove(key);
        _keyChars -= key.Length;
        key = null;
        if (_lastSlot == slot)
        {
            _lastKey = null;
            _lastSlot = -1;
        }
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, Math.Max(16, _free.Length * 2));
        }
        _free[_freeCount++] = slot;
        if (_slots.Count == 0)
        {
            // Everything went: start numbering again so the pages of the states can be dropped.
            _freeCount = 0;
            _slotLimit = 0;
        }
    }

    private int Allocate(string key)
    {
        _keyChars += key.Length;
        int slot;
        if (_freeCount > 0)
        {
            slot = _free[--_freeCount];
        }
        else
        {
            slot = _slotLimit++;
            var page = slot >> PageShift;
            if (page == _keys.Length)
            {
                Array.Resize(ref _keys, Math.Max(4, _keys.Length * 2));
            }
            _keys[page] ??= new string?[PageSize];
        }
        _keys[slot >> PageShift]![slot & PageMask] = key;
        return slot;
    }
}

/// <summary>Something that keeps values in the slots of a <see cref="KeyTable"/>.</summary>
internal interface IKeySlotHolder
{
    bool Holds(int slot);
}

/// <summary>Names of key spaces: operators keyed by the same space in one runtime share a <see cref="KeyTable"/>.</summary>
public static class KeySpaces
{
    /// <summary>User ids (the default of <see cref="KeyedProcessOperator{TIn, TState, TOut}"/>).</summary>
    public const string User = "user";

    /// <summary>IP addresses.</summary>
    public const string Ip = "ip";

    /// <summary>Tenants.</summary>
    public const string Tenant = "tenant";
}
