namespace Vigil.Core.Engine.Cep;

/// <summary>In what order a <see cref="KeyedPatternOperator{T}"/> feeds events to its matchers.</summary>
public enum CepOrdering : byte
{
    /// <summary>
    /// Events are matched the moment they arrive, in arrival order. Lowest latency (a brute-force alert fires on the
    /// success that completes it), at the price that disordered input is matched in the order it came.
    /// </summary>
    ArrivalOrder,

    /// <summary>
    /// Events are buffered and matched in timestamp order (ties in arrival order) once the watermark passes them, as
    /// FlinkCEP does in event time: exact event-time semantics whatever the disorder, at the price of a latency equal
    /// to the watermark's out-of-orderness bound and of holding those events. Events at or behind the watermark are
    /// late: counted and returned as <see cref="CepProcessStatus.Late"/> for the caller's late side output, not matched.
    /// </summary>
    EventTimeOrdered,
}

/// <summary>What <see cref="KeyedPatternOperator{T}.Process"/> did with an event.</summary>
public enum CepProcessStatus : byte
{
    /// <summary>Matched now (arrival order).</summary>
    Processed,

    /// <summary>Buffered until the watermark passes it (event-time order).</summary>
    Buffered,

    /// <summary>At or behind the watermark in event-time order: not matched, counted; route it to the late output.</summary>
    Late,
}

/// <summary>Settings of a <see cref="KeyedPatternOperator{T}"/>.</summary>
public sealed record KeyedPatternOptions
{
    public CepOrdering Ordering { get; init; } = CepOrdering.ArrivalOrder;

    /// <summary>
    /// In event-time order, events the operator may hold back waiting for the watermark. Past it the earliest is
    /// matched at once (counted in <see cref="KeyedPatternOperator{T}.ForcedReleaseCount"/>), so a stalled watermark
    /// costs exactness, not memory.
    /// </summary>
    public int MaxBufferedEvents { get; init; } = 1_000_000;

    /// <summary>Idle matchers kept for reuse when keys come and go, so a busy stream does not allocate one per burst.</summary>
    public int MatcherPoolSize { get; init; } = 16_384;
}

/// <summary>
/// Runs one pattern per key: a matcher per key created when an event first leaves state behind and removed when it
/// holds nothing, timers in a priority queue ordered by (time, key) so a watermark visits only the keys with
/// something due, and checkpoints of every key in ordinal key order. Not thread-safe: one per partition.
/// </summary>
public sealed class KeyedPatternOperator<T>
{
    private const byte SnapshotVersion = 1;

    private readonly CompiledPattern<T> _pattern;
    private readonly Func<T, string> _keySelector;
    private readonly Func<T, long> _timestampSelector;
    private readonly KeyedPatternOptions _options;
    private readonly bool _eventTime;
    private readonly Dictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, WakeAt> _timers = new(WakeComparer.Instance);
    private readonly PriorityQueue<(T Event, string Key), Arrival> _buffer = new(ArrivalComparer.Instance);
    private readonly Stack<KeyState> _pool = new();
    private readonly CepArena<T> _arena = new();

    private KeyState? _spare;
    private long _watermark = long.MinValue;
    private long _arrival;
    private long _partials;
    private long _dropped;
    private long _late;
    private long _forced;

    public KeyedPatternOperator(CompiledPattern<T> pattern, Func<T, string> keySelector, Func<T, long> timestampSelector, KeyedPatternOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(keySelector);
        ArgumentNullException.ThrowIfNull(timestampSelector);
        _pattern = pattern;
        _keySelector = keySelector;
        _timestampSelector = timestampSelector;
        _options = options ?? new KeyedPatternOptions();
        if (_options.MaxBufferedEvents < 1)
        {
            throw new ArgumentException($"MaxBufferedEvents must be at least 1, not {_options.MaxBufferedEvents}.", nameof(options));
        }
        _eventTime = _options.Ordering == CepOrdering.EventTimeOrdered;
    }

    /// <summary>Keys holding partial or pending matches.</summary>
    public int KeyCount => _keys.Count;

    /// <summary>Partial matches over all keys.</summary>
    public long PartialMatchCount => _partials;

    /// <summary>Partial matches dropped over all keys because a per-key bound was hit.</summary>
    public long DroppedPartialMatches => _dropped;

    /// <summary>Events held back waiting for the watermark (event-time order).</summary>
    public long BufferedEventCount => _buffer.Count;

    /// <summary>Events that arrived at or behind the watermark in event-time order.</summary>
    public long LateEventCount => _late;

    /// <summary>Events matched before the watermark passed them because the buffer was full.</summary>
    public long ForcedReleaseCount => _forced;

    /// <summary>The highest watermark seen; <see cref="long.MinValue"/> before the first.</summary>
    public long CurrentWatermarkMs => _watermark;

    /// <summary>Feeds one event; matches it now or buffers it, depending on <see cref="KeyedPatternOptions.Ordering"/>.</summary>
    public CepProcessStatus Process(T evt, ICollection<PatternMatch<T>> matches, ICollection<TimedOutMatch<T>>? timeouts = null)
    {
        ArgumentNullException.ThrowIfNull(matches);
        var key = _keySelector(evt) ?? string.Empty;
        var ts = _timestampSelector(evt);
        if (!_eventTime)
        {
            MatchNow(evt, key, ts, matches, timeouts);
            return CepProcessStatus.Processed;
        }
        if (ts <= _watermark)
        {
            _late++;
            return CepProcessStatus.Late;
        }
        _buffer.Enqueue((evt, key), new Arrival(ts, ++_arrival));
        if (_buffer.Count > _options.MaxBufferedEvents)
        {
            _buffer.TryDequeue(out var oldest, out var at);
            _forced++;
            MatchNow(oldest.Event, oldest.Key, at.Ts, matches, timeouts);
        }
        return CepProcessStatus.Buffered;
    }

    /// <summary>
    /// Moves event time to <paramref name="watermarkMs"/> (a watermark never goes back): releases buffered events it
    /// passed in timestamp order, expires partial matches whose window closed, completes trailing NotFollowedBy
    /// matches. Only keys with something due are visited, in (due time, key) order.
    /// </summary>
    public void AdvanceTime(long watermarkMs, ICollection<PatternMatch<T>> matches, ICollection<TimedOutMatch<T>>? timeouts = null)
    {
        ArgumentNullException.ThrowIfNull(matches);
        if (watermarkMs > _watermark)
        {
            _watermark = watermarkMs;
        }
        var wm = _watermark;
        while (_buffer.TryPeek(out _, out var next) && next.Ts <= wm)
        {
            _buffer.TryDequeue(out var item, out _);
            MatchNow(item.Event, item.Key, next.Ts, matches, timeouts);
        }
        while (_timers.TryPeek(out var key, out var wake) && wake.Time <= wm)
        {
            _timers.Dequeue();
            if (!_keys.TryGetValue(key, out var state) || state.Enqueued != wake.Time)
            {
                continue;
            }
            state.Enqueued = long.MaxValue;
            var due = WakeOf(state);
            if (due > wake.Time)
            {
                // The entry was early (partial matches ended since); take the key's place at its real time so keys
                // are always visited in the same order, checkpoint or not.
                Schedule(state);
                continue;
            }
            var m = state.Matcher;
            var partialsBefore = m.PartialMatchCount;
            m.AdvanceTime(wm, matches, timeouts);
            _partials += m.PartialMatchCount - partialsBefore;
            if (!m.HasState)
            {
                Retire(state);
            }
            else
            {
                Schedule(state);
            }
        }
        if (_timers.Count > (2 * _keys.Count) + 1024)
        {
            RebuildTimers();
        }
    }

    /// <summary>Writes every key's state in ordinal key order, then the operator's counters and watermark.</summary>
    public void Snapshot(BinaryWriter writer, IStateSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(serializer);
        writer.Write(SnapshotVersion);
        writer.Write((byte)_options.Ordering);
        writer.Write(_watermark);
        writer.Write(_arrival);
        writer.Write(_dropped);
        writer.Write(_late);
        writer.Write(_forced);
        var keys = new string[_keys.Count];
        _keys.Keys.CopyTo(keys, 0);
        Array.Sort(keys, StringComparer.Ordinal);
        writer.Write(keys.Length);
        foreach (var key in keys)
        {
            writer.Write(key);
            _keys[key].Matcher.Snapshot(writer, serializer);
        }
        var buffered = new ((T Event, string Key) Item, Arrival At)[_buffer.Count];
        var n = 0;
        foreach (var entry in _buffer.UnorderedItems)
        {
            buffered[n++] = (entry.Element, entry.Priority);
        }
        Array.Sort(buffered, static (x, y) => ArrivalComparer.Instance.Compare(x.At, y.At));
        writer.Write(buffered.Length);
        foreach (var (item, at) in buffered)
        {
            writer.Write(at.Ts);
            writer.Write(at.Seq);
            serializer.Write(writer, item.Event);
        }
    }

    /// <summary>Replaces all state with a snapshot written by <see cref="Snapshot"/> for the same pattern and ordering.</summary>
    /// <exception cref="InvalidDataException">The data is corrupt or was written for another pattern or ordering.</exception>
    public void Restore(BinaryReader reader, IStateSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(serializer);
        foreach (var state in _keys.Values)
        {
            Release(state);
        }
        _keys.Clear();
        _timers.Clear();
        _buffer.Clear();
        var version = reader.ReadByte();
        if (version != SnapshotVersion)
        {
            throw new InvalidDataException($"Unknown keyed pattern snapshot version {version}.");
        }
        var ordering = (CepOrdering)reader.ReadByte();
        if (ordering != _options.Ordering)
        {
            throw new InvalidDataException($"The snapshot was taken in {ordering} mode, this operator runs in {_options.Ordering}.");
        }
        _watermark = reader.ReadInt64();
        _arrival = reader.ReadInt64();
        _dropped = reader.ReadInt64();
        _late = reader.ReadInt64();
        _forced = reader.ReadInt64();
        _partials = 0;
        var count = reader.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"Corrupt keyed pattern snapshot: {count} keys.");
        }
        for (var i = 0; i < count; i++)
        {
            var key = reader.ReadString();
            var state = Rent(key);
            state.Matcher.Restore(reader, serializer);
            state.Matcher.Key = key;
            if (!_keys.TryAdd(key, state))
            {
                throw new InvalidDataException($"Corrupt keyed pattern snapshot: key '{key}' twice.");
            }
            _partials += state.Matcher.PartialMatchCount;
            Schedule(state);
        }
        var buffered = reader.ReadInt32();
        if (buffered < 0)
        {
            throw new InvalidDataException($"Corrupt keyed pattern snapshot: {buffered} buffered events.");
        }
        for (var b = 0; b < buffered; b++)
        {
            var ts = reader.ReadInt64();
            var seq = reader.ReadInt64();
            var evt = serializer.Read(reader);
            _buffer.Enqueue((evt, _keySelector(evt) ?? string.Empty), new Arrival(ts, seq));
        }
    }

    /// <summary>Matches one event on its key: the table's matcher, or the spare one for a key with no state.</summary>
    private void MatchNow(T evt, string key, long ts, ICollection<PatternMatch<T>> matches, ICollection<TimedOutMatch<T>>? timeouts)
    {
        if (_keys.TryGetValue(key, out var state))
        {
            Run(state, evt, ts, matches, timeouts);
            if (!state.Matcher.HasState)
            {
                Retire(state);
            }
            else
            {
                Schedule(state);
            }
            return;
        }

        // Most events leave no state behind (a page view of a user with no partial match), so they run on a spare
        // matcher that only joins the table if something stayed.
        var spare = _spare ??= Rent(key);
        spare.Key = key;
        spare.Matcher.Key = key;
        Run(spare, evt, ts, matches, timeouts);
        if (spare.Matcher.HasState)
        {
            _keys.Add(key, spare);
            _spare = null;
            Schedule(spare);
        }
    }

    private void Run(KeyState state, T evt, long ts, ICollection<PatternMatch<T>> matches, ICollection<TimedOutMatch<T>>? timeouts)
    {
        var m = state.Matcher;
        var partialsBefore = m.PartialMatchCount;
        var droppedBefore = m.DroppedPartialMatches;
        m.Process(evt, ts, matches, timeouts);
        _partials += m.PartialMatchCount - partialsBefore;
        _dropped += m.DroppedPartialMatches - droppedBefore;
    }

    /// <summary>The earliest time the key needs attention: a partial match's expiry.</summary>
    private static long WakeOf(KeyState state) => state.Matcher.NextExpiryMs;

    private void Schedule(KeyState state)
    {
        // Only an earlier time needs a new entry; a later one is found when the early entry comes up.
        var wake = WakeOf(state);
        if (wake < state.Enqueued)
        {
            state.Enqueued = wake;
            _timers.Enqueue(state.Key, new WakeAt(wake, state.Key));
        }
    }

    private void RebuildTimers()
    {
        _timers.Clear();
        foreach (var state in _keys.Values)
        {
            state.Enqueued = long.MaxValue;
            Schedule(state);
        }
    }

    private KeyState Rent(string key)
    {
        var state = _pool.Count > 0 ? _pool.Pop() : new KeyState(_pattern.CreateMatcher(_arena));
        state.Key = key;
        state.Matcher.Key = key;
        return state;
    }

    private void Retire(KeyState state)
    {
        _keys.Remove(state.Key);
        Release(state);
    }

    private void Release(KeyState state)
    {
        _partials -= state.Matcher.PartialMatchCount;
        state.Matcher.Reset();
        state.Enqueued = long.MaxValue;
        state.Key = string.Empty;
        if (_pool.Count < _options.MatcherPoolSize)
        {
            _pool.Push(state);
        }
    }

    private readonly record struct WakeAt(long Time, string Key);

    private sealed class WakeComparer : IComparer<WakeAt>
    {
        public static readonly WakeComparer Instance = new();

        public int Compare(WakeAt x, WakeAt y)
        {
            var c = x.Time.CompareTo(y.Time);
            return c != 0 ? c : string.CompareOrdinal(x.Key, y.Key);
        }
    }

    /// <summary>Buffer order in event-time mode: timestamp, then arrival.</summary>
    private readonly record struct Arrival(long Ts, long Seq);

    private sealed class ArrivalComparer : IComparer<Arrival>
    {
        public static readonly ArrivalComparer Instance = new();

        public int Compare(Arrival x, Arrival y)
        {
            var c = x.Ts.CompareTo(y.Ts);
            return c != 0 ? c : x.Seq.CompareTo(y.Seq);
        }
    }

    private sealed class KeyState(PatternMatcher<T> matcher)
    {
        public PatternMatcher<T> Matcher { get; } = matcher;

        public string Key { get; set; } = string.Empty;

        /// <summary>The time of this key's live timer entry; <see cref="long.MaxValue"/> when none.</summary>
        public long Enqueued { get; set; } = long.MaxValue;
    }
}
