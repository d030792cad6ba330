namespace Vigil.Core.Engine;

/// <summary>
/// Where an item sits in a <see cref="ReorderBuffer{T}"/>'s output order: its input's clock (the latest event time the
/// input had sent up to and including it), then input, then offset.
/// </summary>
public readonly record struct ReorderKey(long TimestampMs, int Input, long Offset) : IComparable<ReorderKey>
{
    /// <inheritdoc/>
    public int CompareTo(ReorderKey other)
    {
        var c = TimestampMs.CompareTo(other.TimestampMs);
        if (c != 0)
        {
            return c;
        }
        c = Input.CompareTo(other.Input);
        return c != 0 ? c : Offset.CompareTo(other.Offset);
    }
}

/// <summary>What <see cref="ReorderBuffer{T}.Add"/> did with an item.</summary>
public enum ReorderStatus : byte
{
    /// <summary>Held until the watermark passes it.</summary>
    Buffered,

    /// <summary>At or before the input's last offset: already taken (a re-sent item); dropped.</summary>
    Duplicate,

    /// <summary>
    /// Taken, but behind an item already released (its input was idle, or broke its out-of-orderness bound): it comes
    /// out next, out of order, so where it lands depends on timing.
    /// </summary>
    Behind,
}

/// <summary>
/// Merges several inputs (say, the partitions of a topic, arriving interleaved in whatever order the network makes)
/// into one sequence that depends only on the items: a merge by each input's clock, the latest event time it has sent
/// so far. Every input's keys rise with its offsets, so an item is released once every active input has moved past
/// it — nothing smaller can still come — and the sequence is (clock, input, offset) order. Events a little out of
/// order within an input keep their place in that input (at its clock), as a partition's own pipeline sees them; no
/// out-of-orderness bound is needed, so what is held is only how far the inputs are apart. Re-sent items are dropped
/// by their input's offset.
/// </summary>
/// <remarks>
/// <para>The inputs it should wait for are named up front (<see cref="ExpectInputs"/>): one that has sent nothing
/// holds every release back, as it may yet send the oldest item. Idleness is the one wall-clock rule, as in
/// <see cref="WatermarkTracker"/>: an input silent for <see cref="WatermarkOptions.IdleTimeout"/> (noticed by
/// <see cref="Tick"/>) no longer holds the others back; when every input is idle everything is released. An item that
/// arrives behind what was released already is reported <see cref="ReorderStatus.Behind"/> and comes out next.</para>
/// <para>An input's offsets must grow in the order it sends them.</para>
/// Not thread-safe.
/// </remarks>
public sealed class ReorderBuffer<T>
{
    private const byte FormatVersion = 1;

    private readonly TimeProvider _clock;
    private readonly long _idleTimeoutMs;
    private readonly PriorityQueue<T, ReorderKey> _queue = new();
    private Input[] _inputs = [];
    // Every input's next item will sort at or after its bound; the smallest bound over active inputs is the watermark.
    private ReorderKey _watermark = new(long.MinValue, -1, -1);
    private ReorderKey _lastReleased = new(long.MinValue, -1, -1);

    private struct Input
    {
        public bool Known;
        public bool Idle;
        public long LastOffset;
        public long MaxTimestampMs;
        public long Arrivals;
        public long ArrivalsAtLastTick;
        public long LastActiveWallMs;
    }

    /// <summary>Creates an empty buffer waiting for no input yet.</summary>
    public ReorderBuffer(WatermarkOptions options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        options.Validate();
        _clock = clock;
        _idleTimeoutMs = options.IdleTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue : (long)options.IdleTimeout.TotalMilliseconds;
    }

    /// <summary>Items held.</summary>
    public int Count => _queue.Count;

    /// <summary>The clock items below which are released: long.MinValue while an active input has sent nothing, long.MaxValue when every input is idle.</summary>
    public long Watermark => _watermark.TimestampMs;

    /// <summary>Items that arrived behind what was already released (see <see cref="ReorderStatus.Behind"/>).</summary>
    public long BehindItems { get; private set; }

    /// <summary>Items dropped as re-sent.</summary>
    public long Duplicates { get; private set; }

    /// <summary>Inputs known (expected or seen).</summary>
    public int Inputs
    {
        get
        {
            var n = 0;
            foreach (ref readonly var input in _inputs.AsSpan())
            {
                n += input.Known ? 1 : 0;
            }
            return n;
        }
    }

    /// <summary>Inputs known and not idle.</summary>
    public int ActiveInputs
    {
        get
        {
            var n = 0;
            foreach (ref readonly var input in _inputs.AsSpan())
            {
                n += input.Known && !input.Idle ? 1 : 0;
            }
            return n;
        }
    }

    /// <summary>The last offset taken from <paramref name="input"/>; -1 before the first.</summary>
    public long LastOffset(int input) => (uint)input < (uint)_inputs.Length && _inputs[input].Known ? _inputs[input].LastOffset : -1;

    /// <summary>Waits for inputs 0 to <paramref name="count"/> − 1 from now on (those already known keep their state).</summary>
    public void ExpectInputs(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < count; i++)
        {
            Know(i, now);
        }
        Recompute();
    }

    /// <summary>
    /// Takes one item of <paramref name="input"/> at <paramref name="offset"/>, with its event time or, when the input
    /// knows it, its clock (the latest event time it had seen up to this item, skipped items included); see
    /// <see cref="ReorderStatus"/>.
    /// </summary>
    public ReorderStatus Add(int input, long offset, long timestampMs, T item)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(input);
        ref var state = ref Know(input, long.MinValue);
        // Any arrival, a re-sent one too, shows the input is alive (a new owner catching up): it is not idle.
        state.Arrivals++;
        var wasIdle = state.Idle;
        state.Idle = false;
        if (offset <= state.LastOffset)
        {
            Duplicates++;
            if (wasIdle)
            {
                Recompute();
            }
            return ReorderStatus.Duplicate;
        }
        state.LastOffset = offset;
        if (timestampMs > state.MaxTimestampMs)
        {
            state.MaxTimestampMs = timestampMs;
        }
        var key = new ReorderKey(state.MaxTimestampMs, input, offset);
        _queue.Enqueue(item, key);
        Recompute();
        if (key.CompareTo(_lastReleased) < 0)
        {
            BehindItems++;
            return ReorderStatus.Behind;
        }
        return ReorderStatus.Buffered;
    }

    /// <summary>
    /// Progress without an item: <paramref name="input"/> has reached <paramref name="offset"/> and its clock
    /// <paramref name="clockMs"/> (it skipped items nobody here needs). Returns false for progress already known.
    /// </summary>
    public bool Advance(int input, long offset, long clockMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(input);
        ref var state = ref Know(input, long.MinValue);
        state.Arrivals++;
        var wasIdle = state.Idle;
        state.Idle = false;
        if (offset <= state.LastOffset)
        {
            if (wasIdle)
            {
                Recompute();
            }
            return false;
        }
        state.LastOffset = offset;
        if (clockMs > state.MaxTimestampMs)
        {
            state.MaxTimestampMs = clockMs;
        }
        Recompute();
        return true;
    }

    /// <summary>
    /// The next item in order, if the watermark has passed it (an item Behind comes out at once), or whatever the
    /// watermark when <paramref name="flush"/> (the end of a finite input).
    /// </summary>
    public bool TryRelease(out T item, out ReorderKey key, bool flush = false)
    {
        if (_queue.TryPeek(out item!, out key) && (flush || key.CompareTo(_watermark) < 0 || key.CompareTo(_lastReleased) < 0))
        {
            _queue.Dequeue();
            if (key.CompareTo(_lastReleased) > 0)
            {
                _lastReleased = key;
            }
            return true;
        }
        item = default!;
        key = default;
        return false;
    }

    /// <summary>After the input's log was truncated or replaced: its next offset is <paramref name="lastOffset"/> + 1, even when lower.</summary>
    public void Rebase(int input, long lastOffset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(input);
        Know(input, long.MinValue).LastOffset = lastOffset;
    }

    /// <summary>Marks the inputs that went quiet since the last call (by the clock). Returns true when the watermark rose.</summary>
    public bool Tick()
    {
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < _inputs.Length; i++)
        {
            ref var state = ref _inputs[i];
            if (!state.Known)
            {
                continue;
            }
            if (state.Arrivals != state.ArrivalsAtLastTick)
            {
                state.ArrivalsAtLastTick = state.Arrivals;
                state.LastActiveWallMs = now;
            }
            else if (!state.Idle && _idleTimeoutMs != long.MaxValue && now - state.LastActiveWallMs >= _idleTimeoutMs)
            {
                state.Idle = true;
            }
        }
        var before = _watermark;
        Recompute();
        return _watermark.CompareTo(before) > 0;
    }

    /// <summary>Writes the inputs' offsets and event times and every held item, in order (the same state gives the same bytes).</summary>
    public void Snapshot(BinaryWriter writer, IStateSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(serializer);
        writer.Write(FormatVersion);
        writer.Write(_inputs.Length);
        foreach (ref readonly var input in _inputs.AsSpan())
        {
            writer.Write(input.Known);
            writer.Write(input.LastOffset);
            writer.Write(input.MaxTimestampMs);
        }
        writer.Write(_lastReleased.TimestampMs);
        writer.Write(_lastReleased.Input);
        writer.Write(_lastReleased.Offset);
        writer.Write(BehindItems);
        writer.Write(Duplicates);
        var held = new List<(T Item, ReorderKey Key)>(_queue.Count);
        foreach (var (item, key) in _queue.UnorderedItems)
        {
            held.Add((item, key));
        }
        held.Sort(static (x, y) => x.Key.CompareTo(y.Key));
        writer.Write(held.Count);
        foreach (var (item, key) in held)
        {
            writer.Write(key.TimestampMs);
            writer.Write(key.Input);
            writer.Write(key.Offset);
            serializer.Write(writer, item);
        }
    }

    /// <summary>
    /// Replaces the state with a snapshot's. Every known input starts active, as the wall-clock history is meaningless
    /// after a restart: the buffer waits for each again (or for its idle timeout).
    /// </summary>
    /// <exception cref="InvalidDataException">The data is not a snapshot of this format.</exception>
    public void Restore(BinaryReader reader, IStateSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(serializer);
        var version = reader.ReadByte();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Reorder buffer format {version} is not {FormatVersion}.");
        }
        var count = reader.ReadInt32();
        if (count is < 0 or > 1 << 16)
        {
            throw new InvalidDataException($"A reorder buffer of {count} inputs.");
        }
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var inputs = new Input[count];
        for (var i = 0; i < count; i++)
        {
            inputs[i] = new Input
            {
                Known = reader.ReadBoolean(),
                LastOffset = reader.ReadInt64(),
                MaxTimestampMs = reader.ReadInt64(),
                LastActiveWallMs = now,
            };
        }
        var lastReleased = new ReorderKey(reader.ReadInt64(), reader.ReadInt32(), reader.ReadInt64());
        var behind = reader.ReadInt64();
        var duplicates = reader.ReadInt64();
        var held = reader.ReadInt32();
        if (held < 0)
        {
            throw new InvalidDataException($"A reorder buffer holding {held} items.");
        }
        var queue = new List<(T, ReorderKey)>(Math.Min(held, 1 << 16));
        for (var i = 0; i < held; i++)
        {
            var key = new ReorderKey(reader.ReadInt64(), reader.ReadInt32(), reader.ReadInt64());
            queue.Add((serializer.Read(reader), key));
        }
        _inputs = inputs;
        _lastReleased = lastReleased;
        BehindItems = behind;
        Duplicates = duplicates;
        _queue.Clear();
        foreach (var (item, key) in queue)
        {
            _queue.Enqueue(item, key);
        }
        Recompute();
    }

    private ref Input Know(int input, long nowMs)
    {
        if (input >= _inputs.Length)
        {
            Array.Resize(ref _inputs, Math.Max(input + 1, _inputs.Length * 2));
        }
        ref var state = ref _inputs[input];
        if (!state.Known)
        {
            state = new Input
            {
                Known = true,
                LastOffset = -1,
                MaxTimestampMs = long.MinValue,
                LastActiveWallMs = nowMs == long.MinValue ? _clock.GetUtcNow().ToUnixTimeMilliseconds() : nowMs,
            };
        }
        return ref state;
    }

    private void Recompute()
    {
        var min = new ReorderKey(long.MaxValue, int.MaxValue, long.MaxValue);
        for (var i = 0; i < _inputs.Length; i++)
        {
            ref readonly var input = ref _inputs[i];
            if (input.Known && !input.Idle)
            {
                // Its next item sorts at or after (its clock, it, its next offset); before its first, anything may come.
                var bound = input.MaxTimestampMs == long.MinValue
                    ? new ReorderKey(long.MinValue, -1, -1)
                    : new ReorderKey(input.MaxTimestampMs, i, input.LastOffset + 1);
                if (bound.CompareTo(min) < 0)
                {
                    min = bound;
                }
            }
        }
        // Unlike an operator's watermark this one may go back (an idle input waking up): nothing released is taken
        // back, but what is held waits for that input again.
        _watermark = min;
    }
}
