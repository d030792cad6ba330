namespace Vigil.Core.Detection;

/// <summary>
/// The users of an operator holding an event ring, as key-table slots with the latest event time when filed, in
/// filing order: the operator checks the front as the watermark moves and lets rings go whose time has passed. 16
/// bytes an active user and no key string, where an event-time timer costs about 120 bytes.
/// </summary>
/// <remarks>A slot may pass to another user once the first is evicted; an entry then checks that user's own ring and
/// time, so a ring is never let go early, and an entry that finds no ring is dropped. The array is let go when the
/// queue drains after a peak, so a burst of active users leaves nothing behind once they are idle.</remarks>
internal sealed class RingReleaseQueue
{
    // Below this peak the array is kept when the queue drains: re-growing it would allocate as users come and go.
    private const int TrimAbove = 1024;

    private readonly Queue<(int Slot, long LatestMs)> _queue = new();
    private int _peak;

    public int Count => _queue.Count;

    public void Enqueue(int slot, long latestMs)
    {
        _queue.Enqueue((slot, latestMs));
        if (_queue.Count > _peak)
        {
            _peak = _queue.Count;
        }
    }

    /// <summary>The front entry, without taking it.</summary>
    public bool TryPeek(out int slot, out long latestMs)
    {
        if (_queue.TryPeek(out var front))
        {
            (slot, latestMs) = front;
            return true;
        }
        slot = -1;
        latestMs = 0;
        return false;
    }

    /// <summary>Takes the front entry.</summary>
    public void Dequeue()
    {
        _queue.Dequeue();
        if (_queue.Count == 0 && _peak > TrimAbove)
        {
            _queue.TrimExcess();
            _peak = 0;
        }
    }

    public void Clear()
    {
        _queue.Clear();
        _queue.TrimExcess();
        _peak = 0;
    }

    /// <summary>Files the slots of <paramref name="holding"/> oldest first (ties in slot order).</summary>
    public void Refill(List<(int Slot, long LatestMs)> holding)
    {
        Clear();
        holding.Sort(static (a, b) => a.LatestMs != b.LatestMs ? a.LatestMs.CompareTo(b.LatestMs) : a.Slot.CompareTo(b.Slot));
        foreach (var (slot, latest) in holding)
        {
            Enqueue(slot, latest);
        }
    }
}
