using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Geo;
using Vigil.Core.Rules;

namespace Vigil.Core.Processing;

/// <summary>What became of one input message.</summary>
public enum ProcessOutcome : byte
{
    /// <summary>A user event, decoded and run through the rules.</summary>
    Event,

    /// <summary>A notification, decoded and run through the notification rules.</summary>
    Notification,

    /// <summary>Could not be decoded or failed validation; see the dead letter.</summary>
    DeadLetter,

    /// <summary>Older than the watermark allows; kept as a dead letter with reason LATE_EVENT.</summary>
    Late,

    /// <summary>At or before the offset a restored checkpoint already covers; skipped.</summary>
    AlreadyProcessed,
}

/// <summary>The settings of the detection pipeline.</summary>
public sealed record PipelineOptions
{
    public EventDecoderOptions Decoder { get; init; } = new();

    /// <summary>
    /// Operators the host adds to every per-user pipeline (one new set per pipeline: state is per partition), such as
    /// the ML feature operator; they are checkpointed with the rules.
    /// </summary>
    public Func<IReadOnlyList<IOperator<UserEvent, Alert>>>? ExtraPerUserOperators { get; init; }

    /// <summary>Which rules this pipeline runs (see <see cref="DetectionScope"/> for how serve splits them).</summary>
    public DetectionScope Scope { get; init; } = DetectionScope.All;

    /// <summary>
    /// Inputs feeding this pipeline, each with its own offsets, and together its watermark (the minimum over them).
    /// One for a per-partition pipeline; a <see cref="DetectionScope.Shared"/> pipeline fed by every partition has one
    /// input per partition, and <see cref="DetectionPipeline.Process(string, int, long, string?, ReadOnlySpan{byte}, List{Alert}, out DeadLetter?)"/>'s partition number selects it.
    /// </summary>
    public int Inputs { get; init; } = 1;

    /// <summary>The IP geolocator of the geo rules (IMPOSSIBLE_TRAVEL, NEW_COUNTRY, and the country tests of
    /// ACCOUNT_TAKEOVER and BEHAVIOR_ANOMALY); without one, IMPOSSIBLE_TRAVEL and NEW_COUNTRY do not run.</summary>
    public IGeoLocator? Geo { get; init; }

    public BruteForceOptions BruteForce { get; init; } = new();

    public BruteForceIpOptions BruteForceIp { get; init; } = new();

    public PasswordSprayOptions PasswordSpray { get; init; } = new();

    public CredentialStuffingOptions CredentialStuffing { get; init; } = new();

    public AccountTakeoverOptions AccountTakeover { get; init; } = new();

    public GeoLoginOptions GeoLogin { get; init; } = new();

    public RapidActivityOptions RapidActivity { get; init; } = new();

    public BehaviorAnomalyOptions BehaviorAnomaly { get; init; } = new();

    public ResetBombingOptions ResetBombing { get; init; } = new();

    /// <summary>
    /// The declarative rules (a rules file), re-read between batches so a reload reaches the pipeline on its own
    /// thread; a declarative rule named like a built-in rule replaces it. Null: built-in rules only.
    /// </summary>
    public RuleSetSource? Rules { get; init; }

    /// <summary>One open alert per (rule, entity) per window; repeats update it.</summary>
    public SuppressionOptions Suppression { get; init; } = new();

    /// <summary>The name of the notifications topic; everything else is decoded as user events.</summary>
    public string NotificationsTopic { get; init; } = "notifications";

    /// <summary>
    /// Event time: 5 s of out-of-orderness, and 10 minutes of allowed lateness so that a client that sends its events
    /// a little late (a phone coming back online) is still judged by the rules; later than that is a dead letter.
    /// </summary>
    public WatermarkOptions Watermarks { get; init; } = new()
    {
        OutOfOrderness = TimeSpan.FromSeconds(5),
        AllowedLateness = TimeSpan.FromMinutes(10),
    };

    /// <summary>
    /// Stamp alerts' <c>detectedAt</c> with the stream's own time (the latest event time) instead of the wall clock,
    /// so that a replay gives byte-identical alerts however it is stopped and resumed.
    /// </summary>
    public bool DetectedAtFromEventTime { get; init; }
}

/// <summary>
/// Decode → validate → rules on the event-time engine, for ONE partition's messages in order. The same class runs
/// behind the Kafka consumer, HTTP ingest and file replay, so each source gets the same verdict on the same bytes;
/// given the same input it produces the same alerts whatever the batch sizes, checkpoint timing or restarts.
/// </summary>
/// <remarks>Not thread-safe: one instance per partition, driven by one thread.</remarks>
public sealed class DetectionPipeline
{
    /// <summary>The reason code of events older than the watermark allows.</summary>
    public const string LateEventReason = "LATE_EVENT";

    private readonly EventDecoder _decoder;
    private readonly NotificationDecoder _notificationDecoder;
    private readonly PartitionRuntime<UserEvent, Alert> _runtime;
    private readonly List<Func<int>> _keyCounts = [];
    private readonly List<Func<long>> _stateBytes = [];
    private readonly AlertSuppressor _suppressor;
    private readonly ListOutput<Alert> _output = new();
    private readonly TimeProvider _clock;
    private readonly StreamClock _streamClock = new();
    private readonly string _notificationsTopic;
    private readonly int _inputs;
    private readonly RuleSetSource? _ruleSource;
    private readonly DeclarativeRulesOperator? _declarative;

    public DetectionPipeline(PipelineOptions options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
        _decoder = new EventDecoder(options.Decoder, clock);
        _notificationDecoder = new NotificationDecoder(options.Decoder, clock);
        var alertClock = options.DetectedAtFromEventTime ? _streamClock : clock;
        if (options.Inputs < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Inputs, "A pipeline needs at least one input.");
        }
        _inputs = options.Inputs;
        _suppressor = new AlertSuppressor(options.Suppression) { Downstream = _output };
        // The stream clock goes first, so an alert raised by an event is stamped with that event's time.
        var operators = new List<IOperator<UserEvent, Alert>> { _streamClock.Tracker, _suppressor };
        var perUser = options.Scope is DetectionScope.All or DetectionScope.PerUser;
        var shared = options.Scope is DetectionScope.All or DetectionScope.Shared;
        if (options.Rules is { } ruleSource)
        {
            // Rules grouped by user run where the user's events are (per partition); the rest in the shared pipeline.
            _ruleSource = ruleSource;
            _declarative = new DeclarativeRulesOperator(ruleSource.Current, r => r.IsPerUser ? perUser : shared, alertClock);
            _suppressor.RuleWindowMs = _declarative.SuppressionWindowMs;
        }
        if (perUser)
        {
            Add(operators, new BruteForceOperator(options.BruteForce, alertClock));
            if (options.AccountTakeover.Enabled)
            {
                Add(operators, new AccountTakeoverOperator(options.AccountTakeover, options.Geo, alertClock));
            }
            if (options.Geo is { } geo && (options.GeoLogin.ImpossibleTravelEnabled || options.GeoLogin.NewCountryEnabled))
            {
                Add(operators, new GeoLoginOperator(options.GeoLogin, geo, alertClock));
            }
            if (options.RapidActivity.Enabled)
            {
                Add(operators, new RapidActivityOperator(options.RapidActivity, alertClock));
            }
            if (options.ExtraPerUserOperators is { } extra)
            {
                // Hosted operators (the ML features) come before the behaviour rule, which may read what they keep.
                foreach (var op in extra())
                {
                    operators.Add(op);
                }
            }
            if (options.BehaviorAnomaly.Enabled)
            {
                var behavior = new BehaviorAnomalyOperator(options.BehaviorAnomaly, options.Geo, alertClock);
                Add(operators, behavior);
                if (options.BehaviorAnomaly.SharedModel is null && behavior.Model is { Learns: true } owned)
                {
                    // A model this pipeline owns (replay) is learnt from this pipeline's events alone, so it belongs in
                    // the pipeline's checkpoints: a resumed replay then refits and alerts as an uninterrupted one.
                    // A model shared by partitions (serve) is saved by its host instead.
                    operators.Add(new BehaviorModelCheckpoint(owned));
                }
            }
            if (options.ResetBombing.Enabled)
            {
                Add(operators, new ResetBombingOperator(options.ResetBombing, alertClock));
            }
        }
        if (shared)
        {
            if (options.BruteForceIp.Enabled)
            {
                Add(operators, new BruteForceIpOperator(options.BruteForceIp, alertClock));
            }
            if (options.PasswordSpray.Enabled)
            {
                Add(operators, new PasswordSprayOperator(options.PasswordSpray, alertClock));
            }
            if (options.CredentialStuffing.Enabled)
            {
                Add(operators, new CredentialStuffingOperator(options.CredentialStuffing, alertClock));
            }
        }
        if (_declarative is { } declarative)
        {
            operators.Add(declarative);
            _keyCounts.Add(() => declarative.KeyCount);
        }
        _keyCounts.Add(() => _suppressor.State.Count);
        _stateBytes.Add(() => _suppressor.State.ApproximateBytes);
        _runtime = new PartitionRuntime<UserEvent, Alert>(operators,
            new PartitionRuntimeOptions { Watermarks = options.Watermarks, Inputs = options.Inputs }, clock);
        // The keys shared by the operators of a key space are counted once, here, not by each operator's state.
        var runtime = _runtime;
        _stateBytes.Add(() =>
        {
            long bytes = 0;
            foreach (var table in runtime.KeyTables.Values)
            {
                bytes += table.ApproximateBytes;
            }
            return bytes;
        });
        _notificationsTopic = options.NotificationsTopic;
    }

    /// <summary>User events decoded.</summary>
    public long Events { get; private set; }

    /// <summary>Notifications decoded.</summary>
    public long Notifications { get; private set; }

    /// <summary>Messages dead-lettered, late events included.</summary>
    public long DeadLetters { get; private set; }

    /// <summary>Events older than the watermark allows.</summary>
    public long LateEvents => _runtime.Metrics.LateEvents;

    /// <summary>User events of a type Vigil does not know, kept as OTHER.</summary>
    public long UnknownTypes => _decoder.UnknownTypeCount;

    /// <summary>The latest event time seen, Unix milliseconds (0 before the first event).</summary>
    public long MaxEventTimeMs => _streamClock.MaxEventTimeMs;

    /// <summary>The event-time watermark (long.MinValue before the first event).</summary>
    public long Watermark => _runtime.Watermark;

    /// <summary>Keys the rules hold state for (open alerts of the suppression included).</summary>
    public int TrackedKeys
    {
        get
        {
            var n = 0;
            foreach (var count in _keyCounts)
            {
                n += count();
            }
            return n;
        }
    }

    /// <summary>Approximate bytes of rule state (keys and fixed-size state; not what a state references).</summary>
    public long StateBytes
    {
        get
        {
            long n = 0;
            foreach (var bytes in _stateBytes)
            {
                n += bytes();
            }
            return n;
        }
    }

    /// <summary>Repeats folded into open alerts by suppression, over this instance's life.</summary>
    public long SuppressedAlerts => _suppressor.Suppressed;

    /// <summary>The checkpoint section names of the operators this pipeline runs, in order.</summary>
    public IReadOnlyList<string> OperatorNames
    {
        get
        {
            var names = new List<string>(_runtime.Operators.Count);
            foreach (var op in _runtime.Operators)
            {
                names.Add(op.Name);
            }
            return names;
        }
    }

    /// <summary>The engine's counters: checkpoint size and duration among them.</summary>
    public PartitionRuntimeMetrics RuntimeMetrics => _runtime.Metrics;

    /// <summary>Where the source should resume after a restore: the offset after the last event processed (input 0).</summary>
    public long ResumeOffset => _runtime.ResumeOffset();

    /// <summary>Where input <paramref name="input"/> (a partition of a shared pipeline) should resume after a restore.</summary>
    public long ResumeOffsetOf(int input) => _runtime.ResumeOffset(input);

    /// <summary>After the source's log was truncated or replaced: the next offset processed on that partition is
    /// <paramref name="lastOffset"/> + 1, even when lower than before; the state is kept.</summary>
    public void RebaseOffset(int partition, long lastOffset) => _runtime.RebaseOffset(InputOf(partition), lastOffset);

    /// <summary>
    /// Processes one message. Alerts are appended to <paramref name="alerts"/>; a message that is rejected (or late)
    /// comes back as <paramref name="deadLetter"/> with the reason and where it came from.
    /// </summary>
    public ProcessOutcome Process(string topic, int partition, long offset, string? key, ReadOnlySpan<byte> value,
        List<Alert> alerts, out DeadLetter? deadLetter) => Process(topic, partition, offset, key, default, value, alerts, out deadLetter);

    /// <summary><see cref="Process(string, int, long, string?, ReadOnlySpan{byte}, List{Alert}, out DeadLetter?)"/>
    /// with the record's key as its UTF-8 bytes, made a string only if the message becomes a dead letter.</summary>
    public ProcessOutcome ProcessWithKeyBytes(string topic, int partition, long offset, ReadOnlyMemory<byte> keyUtf8, ReadOnlySpan<byte> value,
        List<Alert> alerts, out DeadLetter? deadLetter) => Process(topic, partition, offset, null, keyUtf8, value, alerts, out deadLetter);

    private ProcessOutcome Process(string topic, int partition, long offset, string? key, ReadOnlyMemory<byte> keyUtf8,
        ReadOnlySpan<byte> value, List<Alert> alerts, out DeadLetter? deadLetter)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(alerts);
        deadLetter = null;
        LastEvent = null;
        UserEvent evt;
        var isNotification = string.Equals(topic, _notificationsTopic, StringComparison.Ordinal);
        if (isNotification)
        {
            if (!_notificationDecoder.TryDecode(value, out var notification, out var nError))
            {
                deadLetter = Reject(topic, partition, offset, key ?? KeyText(keyUtf8), value, nError.Reason.ToCode(), nError.Detail);
                return ProcessOutcome.DeadLetter;
            }
            // Notifications run through the same runtime as events, so they share its offsets, watermark and checkpoint.
            evt = NotificationEvents.ToEvent(notification);
        }
        else
        {
            if (!_decoder.TryDecode(value, out var decoded, out var error))
            {
                deadLetter = Reject(topic, partition, offset, key ?? KeyText(keyUtf8), value, error.Reason.ToCode(), error.Detail);
                return ProcessOutcome.DeadLetter;
            }
            evt = decoded;
        }
        LastEvent = evt;
        var outcome = Run(partition, offset, evt, isNotification, alerts);
        if (outcome == ProcessOutcome.Late)
        {
            deadLetter = Reject(topic, partition, offset, key ?? KeyText(keyUtf8), value, LateEventReason,
                $"{(isNotification ? "notification" : "event")} time {AlertJson.Format(evt.Timestamp)} is behind the watermark {AlertJson.Format(DateTimeOffset.FromUnixTimeMilliseconds(_runtime.Watermark))} by more than the allowed lateness");
        }
        return outcome;
    }

    /// <summary>The user event the last <see cref="Process(string, int, long, string?, ReadOnlySpan{byte}, List{Alert}, out DeadLetter?)"/> call decoded; null when that message was rejected.</summary>
    /// <remarks>Lets a second stage (the shared IP and tenant rules) take the event without decoding the bytes again.</remarks>
    public UserEvent? LastEvent { get; private set; }

    /// <summary>
    /// Runs an event another pipeline has already decoded and validated (see <see cref="LastEvent"/>). A late event is
    /// counted and reported as <see cref="ProcessOutcome.Late"/>; its dead letter is the decoding pipeline's to write.
    /// </summary>
    public ProcessOutcome ProcessDecoded(int partition, long offset, UserEvent evt, List<Alert> alerts)
    {
        ArgumentNullException.ThrowIfNull(evt);
        ArgumentNullException.ThrowIfNull(alerts);
        return Run(partition, offset, evt, NotificationEvents.IsNotification(evt), alerts);
    }

    private ProcessOutcome Run(int partition, long offset, UserEvent evt, bool isNotification, List<Alert> alerts)
    {
        var status = _runtime.Process(InputOf(partition), evt, evt.TimestampMs, offset, _suppressor);
        Drain(alerts);
        switch (status)
        {
            case EventTimeStatus.AlreadyProcessed:
                return ProcessOutcome.AlreadyProcessed;
            case EventTimeStatus.Late:
                return ProcessOutcome.Late;
            default:
                if (isNotification)
                {
                    Notifications++;
                    return ProcessOutcome.Notification;
                }
                Events++;
                return ProcessOutcome.Event;
        }
    }

    /// <summary>The declarative rules running here (null without <see cref="PipelineOptions.Rules"/>).</summary>
    public DeclarativeRulesOperator? DeclarativeRules => _declarative;

    /// <summary>
    /// The wall-clock step (idle inputs, processing-time timers); call between batches. It is also where a reloaded
    /// rule set (<see cref="PipelineOptions.Rules"/>) is swapped in, on the pipeline's own thread.
    /// </summary>
    public void Tick(List<Alert> alerts)
    {
        ApplyRules();
        _runtime.Tick(_suppressor);
        Drain(alerts);
    }

    /// <summary>Swaps in the rule source's current rule set if it changed; returns what the swap did (null: no change).</summary>
    public RuleSwap? ApplyRules()
    {
        if (_ruleSource is null || _declarative is null || ReferenceEquals(_ruleSource.Current, _declarative.Rules))
        {
            return null;
        }
        return _declarative.Apply(_ruleSource.Current);
    }

    /// <summary>At the end of a finite input: moves event time to the end, so every window and timer fires.</summary>
    public void Finish(List<Alert> alerts)
    {
        _runtime.AdvanceWatermark(long.MaxValue, _suppressor);
        Drain(alerts);
    }

    /// <summary>A checkpoint of all rule state, timers, event time and the last offset (the engine's format).</summary>
    public byte[] Snapshot() => _runtime.Snapshot();

    /// <summary>Restores a checkpoint into this fresh pipeline; anything but Ok leaves it unchanged.</summary>
    public CheckpointReadStatus Restore(ReadOnlyMemory<byte> data) => _runtime.Restore(data);

    /// <summary>A single-input pipeline takes any partition number (it is one partition's pipeline); a multi-input one
    /// maps partition p to input p.</summary>
    private int InputOf(int partition)
    {
        if (_inputs == 1)
        {
            return 0;
        }
        if ((uint)partition >= (uint)_inputs)
        {
            throw new ArgumentOutOfRangeException(nameof(partition), partition, $"This pipeline has {_inputs} inputs.");
        }
        return partition;
    }

    private void Add<TState>(List<IOperator<UserEvent, Alert>> operators, KeyedProcessOperator<UserEvent, TState, Alert> op)
    {
        operators.Add(_declarative is null ? op : _declarative.Gate(op));
        _keyCounts.Add(() => op.State.Count);
        _stateBytes.Add(() => op.State.ApproximateBytes);
    }

    private void Drain(List<Alert> alerts)
    {
        if (_output.Items.Count > 0)
        {
            alerts.AddRange(_output.Items);
            _output.Clear();
        }
    }

    private static string? KeyText(ReadOnlyMemory<byte> keyUtf8) => keyUtf8.IsEmpty ? null : System.Text.Encoding.UTF8.GetString(keyUtf8.Span);

    private DeadLetter Reject(string topic, int partition, long offset, string? key, ReadOnlySpan<byte> value, string reason, string detail)
    {
        DeadLetters++;
        return DeadLetter.Create(topic, partition, offset, key, value, reason, detail, _clock.GetUtcNow());
    }

    /// <summary>
    /// The stream's own time: the latest event time seen, checkpointed with the rules, so that alerts stamped with it
    /// are identical however a run is stopped and resumed.
    /// </summary>
    private sealed class StreamClock : TimeProvider
    {
        public StreamClock() => Tracker = new TimeTracker(this);

        public long MaxEventTimeMs { get; private set; }

        /// <summary>The operator that moves this clock with the events (the clock itself is a TimeProvider).</summary>
        public Operator<UserEvent, Alert> Tracker { get; }

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(MaxEventTimeMs);

        private sealed class TimeTracker(StreamClock clock) : Operator<UserEvent, Alert>
        {
            public override string Name => "stream-clock";

            public override void OnEvent(in UserEvent evt, long timestampMs, IOutput<Alert> output)
            {
                if (timestampMs > clock.MaxEventTimeMs)
                {
                    clock.MaxEventTimeMs = timestampMs;
                }
            }

            public override void Snapshot(BinaryWriter writer) => writer.Write(clock.MaxEventTimeMs);

            public override void Restore(BinaryReader reader) => clock.MaxEventTimeMs = reader.ReadInt64();
        }
    }
}
