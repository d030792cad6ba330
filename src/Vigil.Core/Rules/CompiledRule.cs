using System.Globalization;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Engine.Cep;
using Vigil.Core.Events;

namespace Vigil.Core.Rules;

/// <summary>
/// One declarative rule compiled onto the engine: its keyed state, how it treats an event and the watermark, and
/// its checkpoint. Instances live inside a <see cref="DeclarativeRulesOperator"/>, which swaps them on reload.
/// </summary>
public abstract class CompiledRule
{
    private protected CompiledRule(RuleDefinition definition, TimeProvider alertClock)
    {
        Definition = definition;
        AlertClock = alertClock;
    }

    public RuleDefinition Definition { get; }

    private protected TimeProvider AlertClock { get; }

    /// <summary>Keys holding state.</summary>
    public abstract int KeyCount { get; }

    /// <summary>Compiles <paramref name="definition"/>.</summary>
    public static CompiledRule Compile(RuleDefinition definition, TimeProvider alertClock)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(alertClock);
        return definition.Kind switch
        {
            RuleKind.EventCount or RuleKind.ValueCount => new CountingRule(definition, alertClock),
            RuleKind.Temporal => new TemporalRule(definition, alertClock),
            _ => new OrderedRule(definition, alertClock),
        };
    }

    public abstract void OnEvent(UserEvent evt, IOutput<Alert> output);

    public abstract void OnWatermark(long watermarkMs, IOutput<Alert> output);

    public abstract void Snapshot(BinaryWriter writer);

    public abstract void Restore(BinaryReader reader);

    /// <summary>The group key of an event (the group-by values joined by '|'); null when one is missing.</summary>
    private protected string? GroupKey(UserEvent evt)
    {
        var fields = Definition.GroupBy;
        if (fields.Count == 1)
        {
            return fields[0].Read(evt) is { Length: > 0 } v ? v : null;
        }
        var parts = new string[fields.Count];
        for (var i = 0; i < parts.Length; i++)
        {
            if (fields[i].Read(evt) is not { Length: > 0 } v)
            {
                return null;
            }
            parts[i] = v;
        }
        return string.Join('|', parts);
    }

    /// <summary>The alert entity: <c>ip:…</c> or <c>user:…</c> as the built-in rules write it, else the group.</summary>
    private protected string EntityOf(string key, UserEvent evt)
    {
        if (Definition.GroupBy.Count == 1)
        {
            switch (Definition.GroupBy[0].Field)
            {
                case RuleField.IpAddress:
                    return Evidence.Ip(key);
                case RuleField.UserId:
                    return Evidence.User(key);
                case RuleField.Account:
                    return Evidence.Subject(evt.UserId, evt.Username);
                default:
                    break;
            }
        }
        return "group:" + Definition.Id + ":" + key;
    }

    private protected Dictionary<string, object?> Group(string key)
    {
        var group = new Dictionary<string, object?>(StringComparer.Ordinal);
        var parts = Definition.GroupBy.Count == 1 ? [key] : key.Split('|');
        for (var i = 0; i < Definition.GroupBy.Count && i < parts.Length; i++)
        {
            group[Definition.GroupBy[i].ToString()] = parts[i];
        }
        return group;
    }

    private protected static string TimespanText(TimeSpan t) =>
        t.TotalSeconds < 120 ? Evidence.Text(t.TotalSeconds) + " s"
        : t.TotalMinutes < 120 ? Evidence.Text(t.TotalMinutes, 1) + " min"
        : Evidence.Text(t.TotalHours, 1) + " h";

    private protected static string? EventField(string name, UserEvent evt) => name switch
    {
        "userId" => evt.UserId,
        "ipAddress" => evt.IpAddress,
        "username" => evt.Username,
        "account" => evt.UserId ?? evt.Username,
        "userAgent" => evt.UserAgent,
        _ => null,
    };

    private protected static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The alert of a rule whose steps all happened (temporal and temporal_ordered): keyed by the completing event,
    /// its window the steps' first to last time, the step names in the summary and each step's event ids in evidence.
    /// </summary>
    private protected void EmitSteps(string key, UserEvent last, List<string> ids, string stepsText, Dictionary<string, object?> byStep,
        long firstMs, long lastMs, IOutput<Alert> output)
    {
        var def = Definition;
        var span = lastMs - firstMs;
        var summary = RuleTemplate.Render(def.Summary, name => name switch
        {
            "rule" => def.Name,
            "count" => Number(ids.Count),
            "steps" => stepsText,
            "seconds" => Number(Evidence.Seconds(span)),
            "minutes" => Evidence.Text(span / 60_000.0, 1),
            "timespan" => TimespanText(def.Timespan),
            "group" => key,
            _ => EventField(name, last),
        });
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(def.Name, key, last.EventId),
            Rule = def.Name,
            Severity = def.Severity,
            UserId = last.UserId,
            IpAddress = last.IpAddress,
            EventTime = last.Timestamp,
            DetectedAt = AlertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(lastMs),
            Score = def.Score,
            Summary = summary,
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = ids,
                [Evidence.Entity] = EntityOf(key, last),
                ["ruleId"] = def.Id,
                ["group"] = Group(key),
                ["steps"] = byStep,
                ["windowSeconds"] = (long)def.Timespan.TotalSeconds,
            },
        });
    }
}

/// <summary>event_count and value_count: an exact sliding window per group ending at the latest event, firing when
/// an event makes the condition true (once per crossing, as the built-in threshold rules do).</summary>
internal sealed class CountingRule : CompiledRule
{
    private readonly KeyedState<CountState> _state;
    private readonly HashSet<string> _scratch = new(StringComparer.Ordinal);
    private readonly long _windowMs;
    private readonly bool _distinct;

    public CountingRule(RuleDefinition definition, TimeProvider alertClock) : base(definition, alertClock)
    {
        _windowMs = (long)definition.Timespan.TotalMilliseconds;
        _distinct = definition.Kind == RuleKind.ValueCount;
        var ttl = definition.FollowedBy is { } f && f.Within > definition.Timespan ? f.Within : definition.Timespan;
        var cap = definition.MaxEvents;
        _state = new KeyedState<CountState>(ttl, new DelegateStateSerializer<CountState>((w, s) => s.Write(w), r => CountState.Read(r, cap)));
    }

    public override int KeyCount => _state.Count;

    public override void OnEvent(UserEvent evt, IOutput<Alert> output)
    {
        var def = Definition;
        if (def.Filter!.Matches(evt))
        {
            if (GroupKey(evt) is not { } key)
            {
                return;
            }
            string? value = null;
            if (_distinct && def.DistinctField!.Value.Read(evt) is not { } v)
            {
                return;
            }
            else if (_distinct)
            {
                value = def.DistinctField!.Value.Read(evt);
            }
            ref var state = ref _state.GetOrAdd(key, evt.TimestampMs, out _);
            state ??= new CountState(def.MaxEvents);
            OnMatch(key, state, evt, value, output);
        }
        else if (def.FollowedBy is { } follow && follow.Filter.Matches(evt) && GroupKey(evt) is { } key
            && _state.TryGetValue(key, out var state) && state is not null)
        {
            OnFollowUp(key, state, follow, evt, output);
        }
    }

    private long Count(EventRing ring, int first)
    {
        if (!_distinct)
        {
            return ring.Count - first;
        }
        _scratch.Clear();
        for (var i = first; i < ring.Count; i++)
        {
            _scratch.Add(ring[i].Subject!);
        }
        return _scratch.Count;
    }

    private void OnMatch(string key, CountState state, UserEvent evt, string? value, IOutput<Alert> output)
    {
        var def = Definition;
        var ring = state.Events;
        var endMs = Math.Max(evt.TimestampMs, ring.LatestMs);
        var before = Count(ring, ring.FirstAfter(endMs - _windowMs));
        ring.Add(new RingEntry(evt.TimestampMs, evt.EventId, _distinct ? value : evt.UserId ?? evt.Username, evt.IpAddress));
        var first = ring.FirstAfter(endMs - _windowMs);
        var count = Count(ring, first);
        if (!def.Condition.Holds(count) || def.Condition.Holds(before))
        {
            ring.DropThrough(ring.LatestMs - _windowMs);
            return;
        }
        var ids = new List<string>(ring.Count - first);
        var accounts = new List<string>();
        var values = new List<string>();
        var ips = new HashSet<string>(StringComparer.Ordinal);
        _scratch.Clear();
        var seenValues = new HashSet<string>(StringComparer.Ordinal);
        for (var i = first; i < ring.Count; i++)
        {
            ref readonly var e = ref ring[i];
            ids.Add(e.EventId);
            if (e.Ip is { } ip)
            {
                ips.Add(ip);
            }
            if (_distinct)
            {
                if (seenValues.Add(e.Subject!))
                {
                    values.Add(e.Subject!);
                }
            }
            else if (e.Subject is { } s && _scratch.Add(s))
            {
                accounts.Add(s);
            }
        }
        var firstMs = ring[first].TimeMs;
        ring.DropThrough(ring.LatestMs - _windowMs);
        var id = Alert.MakeId(def.Name, key, evt.EventId);
        state.AlertId = id;
        state.AlertTimeMs = evt.TimestampMs;
        state.AlertCount = (int)count;
        var seconds = Evidence.Seconds(endMs - firstMs);
        var summary = RuleTemplate.Render(def.Summary, name => name switch
        {
            "rule" => def.Name,
            "count" => Number(count),
            "threshold" => Number(def.Condition.Value),
            "distinct" => Number(_distinct ? values.Count : accounts.Count),
            "field" => def.DistinctField?.ToString() ?? "events",
            "seconds" => Number(seconds),
            "minutes" => Evidence.Text((endMs - firstMs) / 60_000.0, 1),
            "timespan" => TimespanText(def.Timespan),
            "group" => key,
            "accounts" => Number(_distinct && def.DistinctField!.Value.Field is RuleField.Account or RuleField.UserId ? values.Count : accounts.Count),
            "ips" => Number(ips.Count),
            "steps" => Number(ids.Count),
            _ => EventField(name, evt),
        });
        var evidence = new Dictionary<string, object?>
        {
            [Evidence.EventIds] = ids,
            [Evidence.Entity] = EntityOf(key, evt),
            ["ruleId"] = def.Id,
            ["group"] = Group(key),
            ["count"] = count,
            ["condition"] = def.Condition.ToString(),
            ["threshold"] = def.Condition.Value,
            ["windowSeconds"] = (long)def.Timespan.TotalSeconds,
            ["events"] = ids.Count,
            ["distinctIps"] = ips.Count,
        };
        if (_distinct)
        {
            evidence["field"] = def.DistinctField!.Value.ToString();
            evidence["distinct"] = values.Count;
            evidence["values"] = values;
        }
        else
        {
            evidence["accounts"] = accounts;
            evidence["distinctAccounts"] = accounts.Count;
        }
        output.Emit(new Alert
        {
            AlertId = id,
            Rule = def.Name,
            Severity = def.Severity,
            UserId = evt.UserId,
            IpAddress = evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = AlertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(firstMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(endMs),
            Score = def.Score,
            Summary = summary,
            Evidence = evidence,
        });
    }

    private void OnFollowUp(string key, CountState state, FollowUp follow, UserEvent evt, IOutput<Alert> output)
    {
        if (state.AlertId is not { } previousId || evt.TimestampMs < state.AlertTimeMs
            || evt.TimestampMs - state.AlertTimeMs > (long)follow.Within.TotalMilliseconds)
        {
            return;
        }
        var def = Definition;
        var previousCount = state.AlertCount;
        var alertTimeMs = state.AlertTimeMs;
        state.AlertId = null;
        var summary = RuleTemplate.Render(follow.Summary, name => name switch
        {
            "rule" => def.Name,
            "count" or "previousCount" => Number(previousCount),
            "threshold" => Number(def.Condition.Value),
            "seconds" => Number(Evidence.Seconds(evt.TimestampMs - alertTimeMs)),
            "minutes" => Evidence.Text((evt.TimestampMs - alertTimeMs) / 60_000.0, 1),
            "timespan" => TimespanText(follow.Within),
            "group" => key,
            "field" => def.DistinctField?.ToString() ?? "events",
            _ => EventField(name, evt),
        });
        output.Emit(new Alert
        {
            AlertId = Alert.MakeId(def.Name, key, evt.EventId),
            Rule = def.Name,
            Severity = follow.Severity,
            UserId = evt.UserId,
            IpAddress = evt.IpAddress,
            EventTime = evt.Timestamp,
            DetectedAt = AlertClock.GetUtcNow(),
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(alertTimeMs),
            WindowEnd = evt.Timestamp,
            Score = follow.Score,
            Summary = summary,
            Evidence = new Dictionary<string, object?>
            {
                [Evidence.EventIds] = new List<string> { evt.EventId },
                [Evidence.Entity] = EntityOf(key, evt),
                ["ruleId"] = def.Id,
                ["group"] = Group(key),
                ["previousCount"] = previousCount,
                ["previousAlertId"] = previousId,
                ["followUpEventId"] = evt.EventId,
                ["followUpUserId"] = evt.UserId,
            },
        });
    }

    public override void OnWatermark(long watermarkMs, IOutput<Alert> output) => _state.EvictExpired(watermarkMs);

    public override void Snapshot(BinaryWriter writer) => _state.Write(writer);

    public override void Restore(BinaryReader reader) => _state.Read(reader);

    private sealed class CountState(int capacity)
    {
        public EventRing Events { get; private set; } = new(capacity);

        public string? AlertId { get; set; }

        public long AlertTimeMs { get; set; }

        public int AlertCount { get; set; }

        public void Write(BinaryWriter writer)
        {
            Events.Write(writer);
            StateIo.WriteNullable(writer, AlertId);
            writer.Write(AlertTimeMs);
            writer.Write(AlertCount);
        }

        public static CountState Read(BinaryReader reader, int capacity) => new(capacity)
        {
            Events = EventRing.Read(reader, capacity),
            AlertId = StateIo.ReadNullable(reader),
            AlertTimeMs = reader.ReadInt64(),
            AlertCount = reader.ReadInt32(),
        };
    }
}

/// <summary>temporal: every step seen for the group within the timespan, in any order; fires once, then starts over.</summary>
internal sealed class TemporalRule : CompiledRule
{
    private readonly KeyedState<TemporalState> _state;
    private readonly long _windowMs;

    public TemporalRule(RuleDefinition definition, TimeProvider alertClock) : base(definition, alertClock)
    {
        _windowMs = (long)definition.Timespan.TotalMilliseconds;
        var n = definition.Steps.Count;
        _state = new KeyedState<TemporalState>(definition.Timespan,
            new DelegateStateSerializer<TemporalState>((w, s) => s.Write(w), r => TemporalState.Read(r, n)));
    }

    public override int KeyCount => _state.Count;

    public override void OnEvent(UserEvent evt, IOutput<Alert> output)
    {
        var steps = Definition.Steps;
        var matched = false;
        for (var i = 0; i < steps.Count && !matched; i++)
        {
            matched = steps[i].Filter.Matches(evt);
        }
        if (!matched || GroupKey(evt) is not { } key)
        {
            return;
        }
        ref var state = ref _state.GetOrAdd(key, evt.TimestampMs, out _);
        state ??= new TemporalState(steps.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            // A later event of a step replaces an earlier one: the most recent evidence is what completes the set.
            if (steps[i].Filter.Matches(evt) && (state.Ids[i] is null || evt.TimestampMs >= state.TimesMs[i]))
            {
                state.TimesMs[i] = evt.TimestampMs;
                state.Ids[i] = evt.EventId;
            }
        }
        long min = long.MaxValue, max = long.MinValue;
        for (var i = 0; i < steps.Count; i++)
        {
            if (state.Ids[i] is null)
            {
                return;
            }
            min = Math.Min(min, state.TimesMs[i]);
            max = Math.Max(max, state.TimesMs[i]);
        }
        if (max - min >= _windowMs)
        {
            return;
        }
        var ids = new List<string>(steps.Count);
        var names = new List<string>(steps.Count);
        var byStep = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            ids.Add(state.Ids[i]!);
            names.Add(steps[i].Name);
            byStep[steps[i].Name] = state.Ids[i];
        }
        Array.Fill(state.Ids, null);
        EmitSteps(key, evt, ids, string.Join(", ", names), byStep, min, max, output);
    }

    public override void OnWatermark(long watermarkMs, IOutput<Alert> output) => _state.EvictExpired(watermarkMs);

    public override void Snapshot(BinaryWriter writer) => _state.Write(writer);

    public override void Restore(BinaryReader reader) => _state.Read(reader);

    private sealed class TemporalState(int steps)
    {
        public long[] TimesMs { get; } = new long[steps];

        public string?[] Ids { get; } = new string?[steps];

        public void Write(BinaryWriter writer)
        {
            for (var i = 0; i < TimesMs.Length; i++)
            {
                writer.Write(TimesMs[i]);
                StateIo.WriteNullable(writer, Ids[i]);
            }
        }

        public static TemporalState Read(BinaryReader reader, int steps)
        {
            var s = new TemporalState(steps);
            for (var i = 0; i < steps; i++)
            {
                s.TimesMs[i] = reader.ReadInt64();
                s.Ids[i] = StateIo.ReadNullable(reader);
            }
            return s;
        }
    }
}

/// <summary>temporal_ordered on the CEP engine: step 1 (N times or more), followed by step 2, … within the timespan,
/// per group, skipping past the last event of a match so one sequence raises one alert.</summary>
internal sealed class OrderedRule : CompiledRule
{
    private readonly KeyedPatternOperator<UserEvent> _cep;
    private readonly List<PatternMatch<UserEvent>> _matches = [];

    public OrderedRule(RuleDefinition definition, TimeProvider alertClock) : base(definition, alertClock)
    {
        var steps = definition.Steps;
        Pattern<UserEvent>? pattern = null;
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var name = StageName(i);
            pattern = pattern is null ? Pattern<UserEvent>.Begin(name) : pattern.FollowedBy(name);
            pattern = pattern.Where(step.Filter.Matches);
            if (step.Min > 1)
            {
                pattern = pattern.TimesOrMore(step.Min);
            }
        }
        var compiled = pattern!.Within(definition.Timespan).Compile(new PatternOptions
        {
            SkipStrategy = AfterMatchSkip.SkipPastLastEvent,
            MaxPartialMatches = 256,
            MaxEventsPerMatch = 1024,
        });
        _cep = new KeyedPatternOperator<UserEvent>(compiled, e => GroupKey(e) ?? string.Empty, e => e.TimestampMs);
    }

    private string StageName(int i) => i.ToString(CultureInfo.InvariantCulture) + ":" + Definition.Steps[i].Name;

    public override int KeyCount => _cep.KeyCount;

    public override void OnEvent(UserEvent evt, IOutput<Alert> output)
    {
        var steps = Definition.Steps;
        var any = false;
        for (var i = 0; i < steps.Count && !any; i++)
        {
            any = steps[i].Filter.Matches(evt);
        }
        if (!any || GroupKey(evt) is null)
        {
            return;
        }
        _cep.Process(evt, _matches);
        Emit(output);
    }

    public override void OnWatermark(long watermarkMs, IOutput<Alert> output)
    {
        _cep.AdvanceTime(watermarkMs, _matches);
        Emit(output);
    }

    private void Emit(IOutput<Alert> output)
    {
        if (_matches.Count == 0)
        {
            return;
        }
        var def = Definition;
        foreach (var match in _matches)
        {
            var events = match.AllEvents;
            var last = events[^1];
            var key = match.Key ?? GroupKey(last) ?? "";
            var ids = new List<string>(events.Count);
            foreach (var e in events)
            {
                ids.Add(e.EventId);
            }
            var byStep = new Dictionary<string, object?>(StringComparer.Ordinal);
            var names = new List<string>(def.Steps.Count);
            for (var i = 0; i < def.Steps.Count; i++)
            {
                var stepIds = new List<string>();
                foreach (var e in match.Events(StageName(i)))
                {
                    stepIds.Add(e.EventId);
                }
                byStep[def.Steps[i].Name] = stepIds;
                names.Add(def.Steps[i].Name);
            }
            EmitSteps(key, last, ids, string.Join(" → ", names), byStep, match.FirstTimestampMs, match.LastTimestampMs, output);
        }
        _matches.Clear();
    }

    public override void Snapshot(BinaryWriter writer) => _cep.Snapshot(writer, UserEventSerializer.Instance);

    public override void Restore(BinaryReader reader) => _cep.Restore(reader, UserEventSerializer.Instance);
}
