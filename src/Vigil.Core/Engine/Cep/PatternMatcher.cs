namespace Vigil.Core.Engine.Cep;

/// <summary>
/// Runs a <see cref="CompiledPattern{T}"/> over the events of one key: a non-deterministic automaton over partial
/// matches with FlinkCEP's semantics (see the README next to this file). Not thread-safe; one per key.
/// </summary>
/// <remarks>
/// Partial matches share their prefixes through an arena of event nodes linked backwards and reference-counted
/// (the "shared buffer" of SASE+ and FlinkCEP), so branching a partial match costs one small struct, and the arena
/// is reused, so the steady state allocates only for what it reports. Events are consumed in the order
/// <see cref="Process"/> is called; the event timestamps drive <see cref="Pattern{T}.Within"/>.
/// </remarks>
public sealed class PatternMatcher<T>
{
    private const byte SnapshotVersion = 1;

    private readonly CompiledPattern<T> _pattern;
    private readonly CompiledStage<T>[] _stages;
    private readonly int _n;
    private readonly long _within;
    private readonly AfterMatchSkipKind _skip;
    private readonly int _maxPartials;
    private readonly int _maxEvents;
    private readonly int[] _condEpoch;
    private readonly bool[] _condValue;

    private readonly CepArena<T> _arena;
    private int _liveNodes;

    private CepPartial[] _partials = [];
    private int _partialCount;
    private int _nextCount;

    // Completed matches: the arena's Fresh list holds those found by the current step in discovery order, _held
    // those waiting for earlier partial matches to resolve (skip strategies emit in order of first event).
    private int _freshCount;
    private CepCompleted[] _held = [];
    private int _heldCount;

    private long _seq;
    private long _dropped;
    private int _epoch;

    // The step in progress.
    private T _evt = default!;
    private long _ts;
    private long _evtSeq;
    private bool _stop;
    private CepPartial _cur;
    private PatternContext<T>? _ctx;

    internal PatternMatcher(CompiledPattern<T> pattern, CepArena<T>? arena = null)
    {
        _pattern = pattern;
        _arena = arena ?? new CepArena<T>();
        _stages = pattern.Stages;
        _n = _stages.Length;
        _within = pattern.WithinMs;
        _skip = pattern.Options.SkipStrategy.Kind;
        _maxPartials = pattern.Options.MaxPartialMatches;
        _maxEvents = pattern.Options.MaxEventsPerMatch;
        _condEpoch = new int[_n * 2];
        _condValue = new bool[_n * 2];
    }

    /// <summary>The pattern this matcher runs.</summary>
    public CompiledPattern<T> Pattern => _pattern;

    /// <summary>Partial matches currently held.</summary>
    public int PartialMatchCount => _partialCount;

    /// <summary>Completed matches waiting for an earlier partial match to resolve (skip strategies only).</summary>
    public int PendingMatchCount => _heldCount;

    /// <summary>Partial matches dropped because a bound (<see cref="PatternOptions.MaxPartialMatches"/>, <see cref="PatternOptions.MaxEventsPerMatch"/>) was hit.</summary>
    public long DroppedPartialMatches => _dropped;

    /// <summary>Event nodes alive in the shared buffer (a measure of the state's size).</summary>
    public int BufferedEventNodes => _liveNodes;

    /// <summary>True when the matcher holds anything: a key whose matcher has no state can be forgotten.</summary>
    public bool HasState => _partialCount > 0 || _heldCount > 0;

    /// <summary>The earliest event time at which a partial match expires; <see cref="long.MaxValue"/> when none can.</summary>
    public long NextExpiryMs
    {
        get
        {
            if (_within <= 0 || _partialCount == 0)
            {
                return long.MaxValue;
            }
            var min = long.MaxValue;
            for (var i = 0; i < _partialCount; i++)
            {
                min = Math.Min(min, _partials[i].StartTs);
            }
            return min + _within;
        }
    }

    /// <summary>The key reported on matches (set by the keyed operator).</summary>
    internal string? Key { get; set; }

    /// <summary>
    /// Feeds one event. Partial matches whose window has closed by <paramref name="timestampMs"/> expire first (reported
    /// to <paramref name="timeouts"/> when given); completed matches are added to <paramref name="matches"/>.
    /// </summary>
    public void Process(T evt, long timestampMs, ICollection<PatternMatch<T>> matches, ICollection<TimedOutMatch<T>>? timeouts = null)
    {
        ArgumentNullException.ThrowIfNull(matches);
        if (_within > 0 && _partialCount > 0)
        {
            Expire(timestampMs, timeouts);
            if (_freshCount > 0 || _heldCount > 0)
            {
                EmitCompleted(matches);
            }
        }

        _evt = evt;
        _ts = timestampMs;
        _evtSeq = ++_seq;
        if (++_epoch == int.MaxValue)
        {
            Array.Clear(_condEpoch);
            _epoch = 1;
        }
        _nextCount = 0;
        var iterative = _pattern.HasIterativeConditions;
        for (var i = 0; i < _partialCount; i++)
        {
            _cur = _partials[i];
            if (iterative)
            {
                PrepareContext();
            }
            var mark = _nextCount;
            _stop = false;
            var lastTaken = _cur.Count > 0 ? _cur.Stage : _arena.Nodes[_cur.Node].Stage;
            Visit(_cur.Stage, _cur.Count, _cur.CanProceed, lastTaken, isStart: false);
            if (_stop)
            {
                DiscardFrom(mark);
            }
            Release(_cur.Node);
        }

        // FlinkCEP keeps a computation state at the beginning of the pattern that every event may start a match from.
        _cur = new CepPartial { Node = -1, StartTs = timestampMs, StartSeq = _evtSeq };
        if (iterative)
        {
            PrepareContext();
        }
        var startMark = _nextCount;
        _stop = false;
        Visit(0, 0, canProceed: true, lastTaken: -1, isStart: true);
        if (_stop)
        {
            DiscardFrom(startMark);
        }

        EnsurePartialCapacity(_nextCount);
        Array.Copy(_arena.Next, _partials, _nextCount);
        _partialCount = _nextCount;
        _nextCount = 0;
        if (_partialCount > _maxPartials)
        {
            DropOldest(_partialCount - _maxPartials);
        }
        _evt = default!;
        _cur = default;
        if (_freshCount > 0 || _heldCount > 0)
        {
            EmitCompleted(matches);
        }
    }

    /// <summary>
    /// Moves event time to <paramref name="watermarkMs"/>: partial matches whose window has closed expire (a trailing
    /// NotFollowedBy completes as a match, anything else is reported to <paramref name="timeouts"/> when given), and
    /// matches that were waiting for them are emitted.
    /// </summary>
    public void AdvanceTime(long watermarkMs, ICollection<PatternMatch<T>> matches, ICollection<TimedOutMatch<T>>? timeouts = null)
    {
        ArgumentNullException.ThrowIfNull(matches);
        if (_within > 0 && _partialCount > 0)
        {
            Expire(watermarkMs, timeouts);
        }
        if (_freshCount > 0 || _heldCount > 0)
        {
            EmitCompleted(matches);
        }
    }

    /// <summary>Writes the matcher's state: partial matches, pending matches, their events and counters.</summary>
    public void Snapshot(BinaryWriter writer, IStateSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(serializer);
        writer.Write(SnapshotVersion);
        writer.Write(_pattern.Fingerprint);
        writer.Write(_seq);
        writer.Write(_dropped);

        // Nodes are numbered in the order the partial matches reach them, oldest first along each chain, so equal
        // states give equal bytes whatever the arena layout.
        var ids = new Dictionary<int, int>();
        var order = new List<int>();
        var chain = new List<int>();
        for (var i = 0; i < _partialCount; i++)
        {
            Number(_partials[i].Node, ids, order, chain);
        }
        for (var i = 0; i < _heldCount; i++)
        {
            Number(_held[i].Node, ids, order, chain);
        }
        var eventIds = new Dictionary<long, int>();
        var events = new List<int>();
        foreach (var node in order)
        {
            if (eventIds.TryAdd(_arena.Nodes[node].Seq, events.Count))
            {
                events.Add(node);
            }
        }
        writer.Write(events.Count);
        foreach (var node in events)
        {
            writer.Write(_arena.Nodes[node].Seq);
            writer.Write(_arena.Nodes[node].Ts);
            serializer.Write(writer, _arena.Nodes[node].Event);
        }
        writer.Write(order.Count);
        foreach (var node in order)
        {
            writer.Write(eventIds[_arena.Nodes[node].Seq]);
            writer.Write(_arena.Nodes[node].Stage);
            writer.Write(_arena.Nodes[node].Prev < 0 ? -1 : ids[_arena.Nodes[node].Prev]);
        }
        writer.Write(_partialCount);
        for (var i = 0; i < _partialCount; i++)
        {
            var p = _partials[i];
            writer.Write(p.Stage);
            writer.Write(p.Count);
            writer.Write(p.CanProceed);
            writer.Write(ids[p.Node]);
            writer.Write(p.StartTs);
            writer.Write(p.StartSeq);
            writer.Write(p.Length);
        }
        writer.Write(_heldCount);
        for (var i = 0; i < _heldCount; i++)
        {
            writer.Write(ids[_held[i].Node]);
            writer.Write(_held[i].StartTs);
            writer.Write(_held[i].StartSeq);
        }
    }

    /// <summary>Replaces the matcher's state with one written by <see cref="Snapshot"/> for the same pattern.</summary>
    /// <exception cref="InvalidDataException">The data is corrupt or was written for another pattern.</exception>
    public void Restore(BinaryReader reader, IStateSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(serializer);
        Reset();
        var version = reader.ReadByte();
        if (version != SnapshotVersion)
        {
            throw new InvalidDataException($"Unknown pattern matcher snapshot version {version}.");
        }
        var fingerprint = reader.ReadInt32();
        if (fingerprint != _pattern.Fingerprint)
        {
            throw new InvalidDataException("The snapshot was taken with a different pattern.");
        }
        _seq = reader.ReadInt64();
        _dropped = reader.ReadInt64();
        var eventCount = ReadCount(reader);
        var seqs = new long[eventCount];
        var tss = new long[eventCount];
        var evts = new T[eventCount];
        for (var i = 0; i < eventCount; i++)
        {
            seqs[i] = reader.ReadInt64();
            tss[i] = reader.ReadInt64();
            evts[i] = serializer.Read(reader);
        }
        var nodeCount = ReadCount(reader);
        // Snapshot ids become arena indexes; each node starts with the reference its creation would have held and
        // gives it up once its holders (later nodes, partial and pending matches) have taken theirs.
        var index = new int[nodeCount];
        for (var i = 0; i < nodeCount; i++)
        {
            var ev = reader.ReadInt32();
            var stage = reader.ReadInt32();
            var prev = reader.ReadInt32();
            if ((uint)ev >= (uint)eventCount || (uint)stage >= (uint)_n || prev >= i || prev < -1)
            {
                throw new InvalidDataException("Corrupt pattern matcher snapshot: bad node.");
            }
            index[i] = _arena.NewNode(evts[ev], tss[ev], seqs[ev], stage, prev < 0 ? -1 : index[prev]);
            _arena.Nodes[index[i]].Refs++;
            _liveNodes++;
        }
        var partialCount = ReadCount(reader);
        EnsurePartialCapacity(partialCount);
        _partialCount = partialCount;
        for (var i = 0; i < _partialCount; i++)
        {
            var p = new CepPartial
            {
                Stage = reader.ReadInt32(),
                Count = reader.ReadInt32(),
                CanProceed = reader.ReadBoolean(),
                Node = reader.ReadInt32(),
                StartTs = reader.ReadInt64(),
                StartSeq = reader.ReadInt64(),
                Length = reader.ReadInt32(),
            };
            if ((uint)p.Stage >= (uint)_n || (uint)p.Node >= (uint)nodeCount || p.Count < 0)
            {
                throw new InvalidDataException("Corrupt pattern matcher snapshot: bad partial match.");
            }
            p.Node = index[p.Node];
            _arena.Nodes[p.Node].Refs++;
            _partials[i] = p;
        }
        var heldCount = ReadCount(reader);
        EnsureHeldCapacity(heldCount);
        _heldCount = heldCount;
        for (var i = 0; i < _heldCount; i++)
        {
            var h = new CepCompleted { Node = reader.ReadInt32(), StartTs = reader.ReadInt64(), StartSeq = reader.ReadInt64() };
            if ((uint)h.Node >= (uint)nodeCount)
            {
                throw new InvalidDataException("Corrupt pattern matcher snapshot: bad pending match.");
            }
            h.Node = index[h.Node];
            _arena.Nodes[h.Node].Refs++;
            _held[i] = h;
        }
        foreach (var node in index)
        {
            Release(node);
        }
    }

    /// <summary>Forgets all state, keeping the buffers for reuse.</summary>
    internal void Reset()
    {
        for (var i = 0; i < _partialCount; i++)
        {
            Release(_partials[i].Node);
        }
        for (var i = 0; i < _heldCount; i++)
        {
            Release(_held[i].Node);
        }
        _arena.Return(_partials, _partialCount);
        _partials = [];
        _partialCount = 0;
        _nextCount = 0;
        _arena.Return(_held, _heldCount);
        _held = [];
        _heldCount = 0;
        _freshCount = 0;
        _seq = 0;
        _dropped = 0;
        Key = null;
    }

    internal T NodeEvent(int node) => _arena.Nodes[node].Event;

    internal int NodePrev(int node) => _arena.Nodes[node].Prev;

    internal int NodeStage(int node) => _arena.Nodes[node].Stage;

    private void EnsurePartialCapacity(int count)
    {
        if (_partials.Length < count)
        {
            var bigger = _arena.RentPartials(count);
            Array.Copy(_partials, bigger, _partialCount);
            _arena.Return(_partials, _partialCount);
            _partials = bigger;
        }
    }

    private void EnsureHeldCapacity(int count)
    {
        if (_held.Length < count)
        {
            var bigger = _arena.RentCompleted(count);
            Array.Copy(_held, bigger, _heldCount);
            _arena.Return(_held, _heldCount);
            _held = bigger;
        }
    }

    // ---- the automaton -------------------------------------------------------------------------------------------

    /// <summary>
    /// Expands the current partial match at position (stage <paramref name="j"/>, <paramref name="c"/> events taken in
    /// it) over the current event: TAKE, IGNORE and PROCEED edges as FlinkCEP's compiler would have built them, with
    /// the times-copies of a stage folded into the counter.
    /// </summary>
    private void Visit(int j, int c, bool canProceed, int lastTaken, bool isStart)
    {
        if (j >= _n)
        {
            // Proceeding into the final state on an event that is not taken completes nothing (FlinkCEP does the same):
            // the match was reported when its last event was taken.
            return;
        }
        var st = _stages[j];
        if (c == 0)
        {
            if (st.GreedyGuard >= 0 && Cond(st.GreedyGuard))
            {
                return;
            }
            if (st.Kind == StageKind.NotNext)
            {
                if (Cond(j))
                {
                    _stop = true;
                }
                else if (st.IsLast)
                {
                    if (!isStart)
                    {
                        Complete(_cur.Node, _cur.StartTs, _cur.StartSeq);
                    }
                }
                else
                {
                    Visit(st.ProceedTo, 0, canProceed: true, lastTaken, isStart);
                }
                return;
            }
            if (st.Kind == StageKind.NotFollowedBy)
            {
                // Only a trailing NotFollowedBy is a state: it waits for the window to close.
                if (Cond(j))
                {
                    _stop = true;
                }
                else if (!isStart)
                {
                    Retain(j, 0, canProceed: false, _cur.Node, _cur.StartTs, _cur.StartSeq, _cur.Length);
                }
                return;
            }
            var nots = st.EntryNots;
            for (var k = 0; k < nots.Length; k++)
            {
                // A NotFollowedBy before an optional stage that did accept an event no longer applies.
                if (nots[k] > lastTaken && Cond(nots[k]))
                {
                    _stop = true;
                }
            }
            var m = Cond(j);
            if (m && !(st.HasUntil && Until(j)))
            {
                Take(j, 0);
            }
            if (!isStart && (st.Outer == Contiguity.NonDeterministic || (st.Outer == Contiguity.Relaxed && !m)))
            {
                // Waiting for this stage; an optional stage that waits gives up its proceed edge, which it has already
                // followed for this event (FlinkCEP's "ignore copy" of an optional state).
                Retain(j, 0, canProceed: !st.Optional, _cur.Node, _cur.StartTs, _cur.StartSeq, _cur.Length);
            }
            if (st.Optional && canProceed)
            {
                Visit(st.ProceedTo, 0, canProceed: true, lastTaken, isStart);
            }
            return;
        }

        // Inside a looping stage, 1 ≤ c < Max.
        var until = st.HasUntil && Until(j);
        var mm = Cond(j);
        if (!until)
        {
            if (mm)
            {
                Take(j, c);
            }
            if (st.Inner == Contiguity.NonDeterministic || (st.Inner == Contiguity.Relaxed && !mm))
            {
                Retain(j, c, canProceed: c < st.Min, _cur.Node, _cur.StartTs, _cur.StartSeq, _cur.Length);
            }
        }
        if (st.LoopNot >= 0 && Cond(st.LoopNot))
        {
            _stop = true;
        }
        if (c >= st.Min && canProceed)
        {
            Visit(st.ProceedTo, 0, canProceed: true, lastTaken: j, isStart: false);
        }
    }

    /// <summary>Stage <paramref name="j"/> accepts the current event into the current partial match (which had <paramref name="c"/> in it).</summary>
    private void Take(int j, int c)
    {
        var fromStart = _cur.Node < 0;
        var length = fromStart ? 1 : _cur.Length + 1;
        if (length > _maxEvents)
        {
            _dropped++;
            return;
        }
        var node = NewNode(j, _cur.Node);
        var startTs = fromStart ? _ts : _cur.StartTs;
        var startSeq = fromStart ? _evtSeq : _cur.StartSeq;
        var st = _stages[j];
        int pos, count;
        if (c + 1 >= st.Max)
        {
            pos = st.ProceedTo;
            count = 0;
        }
        else
        {
            pos = j;
            count = c + 1;
        }
        if (pos >= _n)
        {
            Complete(node, startTs, startSeq);
            return;
        }
        Retain(pos, count, canProceed: true, node, startTs, startSeq, length);
        if (ReachesFinal(pos, count))
        {
            Complete(node, startTs, startSeq);
        }
    }

    /// <summary>FlinkCEP's findFinalStateAfterProceed: can the position reach the end through proceed edges alone?</summary>
    private bool ReachesFinal(int j, int c)
    {
        while (true)
        {
            if (j >= _n)
            {
                return true;
            }
            var st = _stages[j];
            if (c > 0)
            {
                if (c < st.Min)
                {
                    return false;
                }
                j = st.ProceedTo;
                c = 0;
                continue;
            }
            if (st.GreedyGuard >= 0 && Cond(st.GreedyGuard))
            {
                return false;
            }
            switch (st.Kind)
            {
                case StageKind.NotNext when !st.IsLast && !Cond(j):
                    j = st.ProceedTo;
                    continue;
                case StageKind.Accept when st.Optional:
                    j = st.ProceedTo;
                    continue;
                default:
                    return false;
            }
        }
    }

    private bool Cond(int j)
    {
        var st = _stages[j];
        if (st.Simple is { } simple)
        {
            var slot = j * 2;
            if (_condEpoch[slot] == _epoch)
            {
                return _condValue[slot];
            }
            var value = simple(_evt);
            _condValue[slot] = value;
            _condEpoch[slot] = _epoch;
            return value;
        }
        return st.Iterative!(_evt, _ctx!);
    }

    private bool Until(int j)
    {
        var st = _stages[j];
        if (st.UntilSimple is { } simple)
        {
            var slot = (j * 2) + 1;
            if (_condEpoch[slot] == _epoch)
            {
                return _condValue[slot];
            }
            var value = simple(_evt);
            _condValue[slot] = value;
            _condEpoch[slot] = _epoch;
            return value;
        }
        return st.UntilIterative!(_evt, _ctx!);
    }

    private void PrepareContext()
    {
        _ctx ??= new PatternContext<T>(this, _pattern);
        _ctx.Node = _cur.Node;
        _ctx.TimestampMs = _ts;
        _ctx.StartTimestampMs = _cur.Node < 0 ? _ts : _cur.StartTs;
    }

    private void Retain(int stage, int count, bool canProceed, int node, long startTs, long startSeq, int length)
    {
        if (_nextCount == _arena.Next.Length)
        {
            _arena.GrowNext();
        }
        _arena.Next[_nextCount++] = new CepPartial
        {
            Stage = stage,
            Count = count,
            CanProceed = canProceed,
            Node = node,
            StartTs = startTs,
            StartSeq = startSeq,
            Length = length,
        };
        _arena.Nodes[node].Refs++;
    }

    private void Complete(int node, long startTs, long startSeq)
    {
        if (_freshCount == _arena.Fresh.Length)
        {
            _arena.GrowFresh();
        }
        _arena.Fresh[_freshCount++] = new CepCompleted { Node = node, StartTs = startTs, StartSeq = startSeq };
        _arena.Nodes[node].Refs++;
    }

    /// <summary>A NOT stage fired: the outcomes of the current partial match are discarded, completed matches excepted.</summary>
    private void DiscardFrom(int mark)
    {
        for (var i = mark; i < _nextCount; i++)
        {
            Release(_arena.Next[i].Node);
        }
        _nextCount = mark;
    }

    private int NewNode(int stage, int prev)
    {
        _liveNodes++;
        return _arena.NewNode(_evt, _ts, _evtSeq, stage, prev);
    }

    private void Release(int node) => _liveNodes -= _arena.Release(node);

    // ---- time, bounds and emission --------------------------------------------------------------------------------

    private void Expire(long time, ICollection<TimedOutMatch<T>>? timeouts)
    {
        var kept = 0;
        for (var i = 0; i < _partialCount; i++)
        {
            var p = _partials[i];
            if (time - p.StartTs >= _within)
            {
                if (_stages[p.Stage].Kind == StageKind.NotFollowedBy)
                {
                    // A trailing NotFollowedBy whose window closed without the forbidden event: the match is complete.
                    Complete(p.Node, p.StartTs, p.StartSeq);
                }
                else if (timeouts is not null)
                {
                    timeouts.Add(BuildTimedOut(p));
                }
                Release(p.Node);
            }
            else
            {
                _partials[kept++] = p;
            }
        }
        Array.Clear(_partials, kept, _partialCount - kept);
        _partialCount = kept;
    }

    private void DropOldest(int excess)
    {
        // The excess oldest by first event, ties broken by position, so the choice is deterministic.
        var seqs = _arena.ScratchSeqs.Length >= _partialCount ? _arena.ScratchSeqs : _arena.ScratchSeqs = new long[Math.Max(_partialCount, 16)];
        for (var i = 0; i < _partialCount; i++)
        {
            seqs[i] = _partials[i].StartSeq;
        }
        Array.Sort(seqs, 0, _partialCount);
        var threshold = seqs[excess - 1];
        var belowThreshold = 0;
        for (var i = 0; i < excess; i++)
        {
            if (seqs[i] < threshold)
            {
                belowThreshold++;
            }
        }
        var equalToDrop = excess - belowThreshold;
        var kept = 0;
        for (var i = 0; i < _partialCount; i++)
        {
            var p = _partials[i];
            var drop = p.StartSeq < threshold || (p.StartSeq == threshold && equalToDrop-- > 0);
            if (drop)
            {
                Release(p.Node);
            }
            else
            {
                _partials[kept++] = p;
            }
        }
        Array.Clear(_partials, kept, _partialCount - kept);
        _partialCount = kept;
        _dropped += excess;
    }

    /// <summary>
    /// Moves this step's completed matches into the pending list (ordered by first event, stable) and emits what the
    /// skip strategy allows: with a skip, a match waits while a partial match that started earlier is alive, and each
    /// emitted match prunes the partial and pending matches it overlaps.
    /// </summary>
    private void EmitCompleted(ICollection<PatternMatch<T>> matches)
    {
        EnsureHeldCapacity(_heldCount + _freshCount);
        for (var i = 0; i < _freshCount; i++)
        {
            var f = _arena.Fresh[i];
            var at = _heldCount;
            while (at > 0 && _held[at - 1].StartSeq > f.StartSeq)
            {
                _held[at] = _held[at - 1];
                at--;
            }
            _held[at] = f;
            _heldCount++;
        }
        _freshCount = 0;

        if (_skip == AfterMatchSkipKind.NoSkip)
        {
            for (var i = 0; i < _heldCount; i++)
            {
                matches.Add(BuildMatch(_held[i]));
                Release(_held[i].Node);
                _held[i] = default;
            }
            _heldCount = 0;
            return;
        }

        while (_heldCount > 0)
        {
            var h = _held[0];
            // Over the bound, the oldest pending match goes out now rather than being lost.
            if (_heldCount <= _maxPartials && _partialCount > 0 && h.StartSeq > EarliestPartialStart())
            {
                break;
            }
            Array.Copy(_held, 1, _held, 0, _heldCount - 1);
            _held[--_heldCount] = default;
            matches.Add(BuildMatch(h));
            var prune = PruneSeq(h, out var inclusive);
            if (prune >= 0)
            {
                Prune(prune, inclusive);
            }
            Release(h.Node);
        }
    }

    private long EarliestPartialStart()
    {
        var min = long.MaxValue;
        for (var i = 0; i < _partialCount; i++)
        {
            min = Math.Min(min, _partials[i].StartSeq);
        }
        return min;
    }

    /// <summary>The event sequence number partial matches must start after (or at, when not inclusive) to survive; -1 for none.</summary>
    private long PruneSeq(CepCompleted match, out bool inclusive)
    {
        inclusive = true;
        switch (_skip)
        {
            case AfterMatchSkipKind.SkipToNext:
                return match.StartSeq;
            case AfterMatchSkipKind.SkipPastLastEvent:
                return _arena.Nodes[match.Node].Seq;
            case AfterMatchSkipKind.SkipToFirst:
            case AfterMatchSkipKind.SkipToLast:
                inclusive = false;
                var target = _pattern.SkipStage;
                long found = -1;
                for (var node = match.Node; node >= 0; node = _arena.Nodes[node].Prev)
                {
                    if (_arena.Nodes[node].Stage == target)
                    {
                        found = _arena.Nodes[node].Seq;
                        if (_skip == AfterMatchSkipKind.SkipToLast)
                        {
                            break;
                        }
                    }
                }
                // FlinkCEP's default when the stage accepted nothing: no skip.
                return found;
            default:
                return -1;
        }
    }

    private void Prune(long seq, bool inclusive)
    {
        var kept = 0;
        for (var i = 0; i < _partialCount; i++)
        {
            var p = _partials[i];
            if (p.StartSeq < seq || (inclusive && p.StartSeq == seq))
            {
                Release(p.Node);
            }
            else
            {
                _partials[kept++] = p;
            }
        }
        Array.Clear(_partials, kept, _partialCount - kept);
        _partialCount = kept;

        kept = 0;
        for (var i = 0; i < _heldCount; i++)
        {
            var h = _held[i];
            if (h.StartSeq < seq || (inclusive && h.StartSeq == seq))
            {
                Release(h.Node);
            }
            else
            {
                _held[kept++] = h;
            }
        }
        Array.Clear(_held, kept, _heldCount - kept);
        _heldCount = kept;
    }

    private PatternMatch<T> BuildMatch(CepCompleted c)
    {
        var events = Collect(c.Node, out var first, out var last);
        return new PatternMatch<T>(Key, events, first, last);
    }

    private TimedOutMatch<T> BuildTimedOut(CepPartial p)
    {
        var events = Collect(p.Node, out var first, out var last);
        return new TimedOutMatch<T>(Key, events, first, last, p.StartTs + _within);
    }

    private MatchEvents<T> Collect(int lastNode, out long firstTs, out long lastTs)
    {
        var nodes = _arena.Nodes;
        var count = 0;
        for (var node = lastNode; node >= 0; node = nodes[node].Prev)
        {
            count++;
        }
        var evts = new T[count];
        var stages = new int[count];
        var at = count;
        lastTs = lastNode >= 0 ? nodes[lastNode].Ts : 0;
        firstTs = lastTs;
        for (var node = lastNode; node >= 0; node = nodes[node].Prev)
        {
            at--;
            evts[at] = nodes[node].Event;
            stages[at] = nodes[node].Stage;
            firstTs = nodes[node].Ts;
        }
        return new MatchEvents<T>(_stages, evts, stages);
    }

    private void Number(int node, Dictionary<int, int> ids, List<int> order, List<int> chain)
    {
        chain.Clear();
        for (var n = node; n >= 0 && !ids.ContainsKey(n); n = _arena.Nodes[n].Prev)
        {
            chain.Add(n);
        }
        for (var i = chain.Count - 1; i >= 0; i--)
        {
            ids[chain[i]] = order.Count;
            order.Add(chain[i]);
        }
    }

    private static int ReadCount(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        return count is >= 0 and <= 100_000_000 ? count : throw new InvalidDataException($"Corrupt pattern matcher snapshot: count {count}.");
    }
}
