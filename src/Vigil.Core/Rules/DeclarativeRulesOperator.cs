using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Rules;

/// <summary>
/// Where a pipeline gets its declarative rules: the rule set in force, replaced as a whole by the host (the file
/// watcher) on any thread; each pipeline picks the new one up between batches on its own thread.
/// </summary>
public sealed class RuleSetSource(RuleSet initial)
{
    private RuleSet _current = initial ?? throw new ArgumentNullException(nameof(initial));

    /// <summary>The rule set in force.</summary>
    public RuleSet Current => Volatile.Read(ref _current);

    /// <summary>Puts <paramref name="rules"/> in force; pipelines apply it at their next batch boundary.</summary>
    public void Publish(RuleSet rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        Volatile.Write(ref _current, rules);
    }
}

/// <summary>What <see cref="DeclarativeRulesOperator.Apply"/> did.</summary>
/// <param name="Kept">Rules whose definition did not change: their state carried over.</param>
/// <param name="Started">New or changed rules: they start empty.</param>
/// <param name="Dropped">Rules removed or changed: their state is gone.</param>
public readonly record struct RuleSwap(int Kept, int Started, int Dropped);

/// <summary>
/// The declarative rules of one pipeline as one operator of its runtime. Rules are swapped in place at a batch
/// boundary (<see cref="Apply"/>): a rule whose id and definition hash are unchanged keeps its instance and so its
/// keyed state; removed rules are dropped; changed and new rules start empty. The checkpoint carries each rule's state
/// under (id, hash), so a restore with a changed rule drops only that rule's state.
/// </summary>
/// <remarks>The rules use no engine timers (windows are evaluated on events; CEP time moves on the watermark), so a
/// swap never leaves a timer owned by a rule that is gone.</remarks>
public sealed class DeclarativeRulesOperator : Operator<UserEvent, Alert>
{
    private const byte SnapshotVersion = 1;

    private readonly TimeProvider _alertClock;
    private readonly Func<RuleDefinition, bool> _runsHere;
    private readonly List<RuleGate> _gates = [];
    private CompiledRule[] _rules = [];
    private Dictionary<string, long> _suppression = new(StringComparer.Ordinal);
    private HashSet<string> _names = new(StringComparer.Ordinal);

    /// <param name="rules">The initial rule set.</param>
    /// <param name="runsHere">Which rules this pipeline runs (per-user ones in the partition pipelines, the rest in
    /// the shared one); every rule of the set still claims its name, so a built-in of that name is muted everywhere.</param>
    /// <param name="alertClock">Stamps alerts' detectedAt.</param>
    public DeclarativeRulesOperator(RuleSet rules, Func<RuleDefinition, bool> runsHere, TimeProvider alertClock)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(runsHere);
        ArgumentNullException.ThrowIfNull(alertClock);
        _alertClock = alertClock;
        _runsHere = runsHere;
        Apply(rules);
    }

    public override string Name => "declarative-rules";

    /// <summary>The rule set in force here.</summary>
    public RuleSet Rules { get; private set; } = RuleSet.Empty;

    /// <summary>The compiled rules this pipeline runs, in file order.</summary>
    public IReadOnlyList<CompiledRule> Compiled => _rules;

    /// <summary>Keys held over all rules.</summary>
    public int KeyCount
    {
        get
        {
            var n = 0;
            foreach (var r in _rules)
            {
                n += r.KeyCount;
            }
            return n;
        }
    }

    /// <summary>Sections of the last restored checkpoint dropped because their rule is gone or changed.</summary>
    public int DroppedOnRestore { get; private set; }

    /// <summary>Swaps in <paramref name="rules"/>, keeping the state of rules whose (id, hash) is unchanged.</summary>
    public RuleSwap Apply(RuleSet rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var old = new Dictionary<string, CompiledRule>(StringComparer.Ordinal);
        foreach (var r in _rules)
        {
            old[r.Definition.Id] = r;
        }
        var next = new List<CompiledRule>();
        int kept = 0, started = 0, changed = 0;
        foreach (var def in rules.Rules)
        {
            if (!_runsHere(def))
            {
                continue;
            }
            if (old.Remove(def.Id, out var existing) && existing.Definition.Hash == def.Hash)
            {
                next.Add(existing);
                kept++;
            }
            else
            {
                if (existing is not null)
                {
                    changed++;
                }
                next.Add(CompiledRule.Compile(def, _alertClock));
                started++;
            }
        }
        var suppression = new Dictionary<string, long>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var def in rules.Rules)
        {
            names.Add(def.Name);
            if (def.Suppression is { } s)
            {
                suppression[def.Name] = (long)s.TotalMilliseconds;
            }
        }
        _rules = [.. next];
        _suppression = suppression;
        _names = names;
        Rules = rules;
        foreach (var gate in _gates)
        {
            gate.Muted = names.Contains(gate.Name);
        }
        return new RuleSwap(kept, started, old.Count + changed);
    }

    /// <summary>True when a rule of the set in force raises alerts named <paramref name="ruleName"/>.</summary>
    public bool Claims(string ruleName) => _names.Contains(ruleName);

    /// <summary>A rule's own suppression window in ms, or −1 for the pipeline's (for <see cref="Detection.AlertSuppressor.RuleWindowMs"/>).</summary>
    public long SuppressionWindowMs(string ruleName) => _suppression.TryGetValue(ruleName, out var ms) ? ms : -1;

    /// <summary>Wraps a built-in rule so that it is muted while a declarative rule of the same name is in force.</summary>
    public IOperator<UserEvent, Alert> Gate(IOperator<UserEvent, Alert> builtIn)
    {
        var gate = new RuleGate(builtIn) { Muted = Claims(builtIn.Name) };
        _gates.Add(gate);
        return gate;
    }

    public override void OnEvent(in UserEvent evt, long timestampMs, IOutput<Alert> output)
    {
        var rules = _rules;
        for (var i = 0; i < rules.Length; i++)
        {
            rules[i].OnEvent(evt, output);
        }
    }

    public override void OnWatermark(long watermarkMs, IOutput<Alert> output)
    {
        var rules = _rules;
        for (var i = 0; i < rules.Length; i++)
        {
            rules[i].OnWatermark(watermarkMs, output);
        }
    }

    public override void Snapshot(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(SnapshotVersion);
        writer.Write(_rules.Length);
        foreach (var rule in _rules)
        {
            writer.Write(rule.Definition.Id);
            writer.Write(rule.Definition.Hash);
            using var section = new MemoryStream();
            using (var w = new BinaryWriter(section, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                rule.Snapshot(w);
            }
            writer.Write((int)section.Length);
            writer.Write(section.GetBuffer(), 0, (int)section.Length);
        }
    }

    public override void Restore(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var version = reader.ReadByte();
        if (version != SnapshotVersion)
        {
            throw new InvalidDataException($"Declarative rules checkpoint version {version} is not supported.");
        }
        var count = reader.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"A checkpoint claims {count} declarative rules.");
        }
        var sections = new Dictionary<string, (string Hash, byte[] Bytes)>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var id = reader.ReadString();
            var hash = reader.ReadString();
            var length = reader.ReadInt32();
            if (length < 0)
            {
                throw new InvalidDataException($"Declarative rule '{id}' claims {length} bytes of state.");
            }
            sections[id] = (hash, reader.ReadBytes(length));
        }
        // Restore replaces all state: every rule starts from a fresh instance, filled only from a matching section.
        var used = 0;
        for (var i = 0; i < _rules.Length; i++)
        {
            var def = _rules[i].Definition;
            var fresh = CompiledRule.Compile(def, _alertClock);
            if (sections.TryGetValue(def.Id, out var section) && section.Hash == def.Hash)
            {
                using var stream = new MemoryStream(section.Bytes, writable: false);
                using var r = new BinaryReader(stream);
                fresh.Restore(r);
                used++;
            }
            _rules[i] = fresh;
        }
        DroppedOnRestore = sections.Count - used;
    }

    /// <summary>A built-in rule that a declarative rule of the same name may replace: muted, it sees no events
    /// (its state ages out by the watermark) but keeps its timers and checkpoint section.</summary>
    private sealed class RuleGate(IOperator<UserEvent, Alert> builtIn) : Operator<UserEvent, Alert>
    {
        private readonly Operator<UserEvent, Alert> _inner = Of(builtIn);

        public bool Muted { get; set; }

        public override string Name => _inner.Name;

        public override void Open(OperatorContext context) => _inner.Open(context);

        public override void OnEvent(in UserEvent evt, long timestampMs, IOutput<Alert> output)
        {
            if (!Muted)
            {
                _inner.OnEvent(evt, timestampMs, output);
            }
        }

        // Muted, whatever its timers or the watermark would still raise is dropped: one rule per name raises alerts.
        public override void OnTimer(in TimerFiring timer, IOutput<Alert> output) => _inner.OnTimer(timer, Muted ? Discard.Instance : output);

        public override void OnWatermark(long watermarkMs, IOutput<Alert> output) => _inner.OnWatermark(watermarkMs, Muted ? Discard.Instance : output);

        public override void Snapshot(BinaryWriter writer) => _inner.Snapshot(writer);

        public override void Restore(BinaryReader reader) => _inner.Restore(reader);
    }

    private sealed class Discard : IOutput<Alert>
    {
        public static readonly Discard Instance = new();

        public void Emit(Alert value)
        {
        }
    }
}
