using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Vigil.Core.Alerts;
using Vigil.Core.Events;

namespace Vigil.Core.Rules;

/// <summary>The kinds of declarative rule (Sigma correlation rule types).</summary>
public enum RuleKind : byte
{
    /// <summary>Matching events per group within the timespan.</summary>
    EventCount,

    /// <summary>Distinct values of a field among matching events per group within the timespan.</summary>
    ValueCount,

    /// <summary>Every named filter matched by the group within the timespan, in any order.</summary>
    Temporal,

    /// <summary>The named filters matched in order within the timespan (compiled onto the CEP engine).</summary>
    TemporalOrdered,
}

/// <summary>An event field a rule can filter on, group by or count distinct values of.</summary>
public enum RuleField : byte
{
    EventType,
    UserId,
    Username,

    /// <summary>The user id, else the user name of an unknown account.</summary>
    Account,
    IpAddress,
    UserAgent,
    SessionId,

    /// <summary><c>properties.NAME</c>.</summary>
    Property,
}

/// <summary>A field and, for <see cref="RuleField.Property"/>, the property's name.</summary>
public readonly record struct FieldRef(RuleField Field, string? Property)
{
    /// <summary>The field names a rules file may use, as written there.</summary>
    public static IReadOnlyList<string> Names { get; } = ["eventType", "userId", "username", "account", "ipAddress", "userAgent", "sessionId", "properties.NAME"];

    /// <summary>Parses a field name as written in a rules file.</summary>
    public static bool TryParse(string text, out FieldRef field)
    {
        ArgumentNullException.ThrowIfNull(text);
        field = default;
        if (text.StartsWith("properties.", StringComparison.Ordinal) && text.Length > "properties.".Length)
        {
            field = new FieldRef(RuleField.Property, text["properties.".Length..]);
            return true;
        }
        RuleField? f = text switch
        {
            "eventType" => RuleField.EventType,
            "userId" => RuleField.UserId,
            "username" => RuleField.Username,
            "account" => RuleField.Account,
            "ipAddress" => RuleField.IpAddress,
            "userAgent" => RuleField.UserAgent,
            "sessionId" => RuleField.SessionId,
            _ => null,
        };
        if (f is null)
        {
            return false;
        }
        field = new FieldRef(f.Value, null);
        return true;
    }

    /// <summary>The value of this field on <paramref name="evt"/>; null when absent.</summary>
    public string? Read(UserEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        return Field switch
        {
            RuleField.EventType => evt.Type.ToWireName(),
            RuleField.UserId => evt.UserId,
            RuleField.Username => evt.Username,
            RuleField.Account => evt.UserId ?? evt.Username,
            RuleField.IpAddress => evt.IpAddress,
            RuleField.UserAgent => evt.UserAgent,
            RuleField.SessionId => evt.SessionId,
            _ => evt.Properties is { } p && p.TryGetValue(Property!, out var v) ? v : null,
        };
    }

    public override string ToString() => Field switch
    {
        RuleField.Property => "properties." + Property,
        RuleField.EventType => "eventType",
        RuleField.UserId => "userId",
        RuleField.Username => "username",
        RuleField.Account => "account",
        RuleField.IpAddress => "ipAddress",
        RuleField.UserAgent => "userAgent",
        _ => "sessionId",
    };
}

/// <summary>How a filter compares a field.</summary>
public enum MatchKind : byte
{
    /// <summary>Equal (ordinal) to one of the values.</summary>
    Equals,

    /// <summary>Contains one of the values (ordinal, ignoring case).</summary>
    Contains,

    /// <summary>Starts with one of the values (ordinal, ignoring case).</summary>
    StartsWith,

    /// <summary>Equal to none of the values (an absent field counts as not equal).</summary>
    NotEquals,
}

/// <summary>One condition of a filter: <see cref="Field"/> compared to any of <see cref="Values"/>.</summary>
public sealed record FieldMatch(FieldRef Field, MatchKind Kind, IReadOnlyList<string> Values)
{
    public bool Matches(UserEvent evt)
    {
        var value = Field.Read(evt);
        if (Kind == MatchKind.NotEquals)
        {
            foreach (var v in Values)
            {
                if (string.Equals(value, v, StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }
        if (value is null)
        {
            return false;
        }
        foreach (var v in Values)
        {
            var hit = Kind switch
            {
                MatchKind.Equals => string.Equals(value, v, StringComparison.Ordinal),
                MatchKind.Contains => value.Contains(v, StringComparison.OrdinalIgnoreCase),
                _ => value.StartsWith(v, StringComparison.OrdinalIgnoreCase),
            };
            if (hit)
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>An event selection: every match must hold (Sigma's base rule, reduced to field conditions).</summary>
public sealed record EventFilter(IReadOnlyList<FieldMatch> Conditions)
{
    private readonly IReadOnlySet<EventType>? _types;

    // The admitted types as bits (every EventType is below 64), so the per-event test is a shift and a mask rather than
    // a set lookup through an interface; 0 with no type list.
    private readonly ulong _typeMask;

    /// <summary>Event types the filter admits (null: any), so a rule skips most events with one comparison.</summary>
    public IReadOnlySet<EventType>? Types
    {
        get => _types;
        init
        {
            _types = value;
            _typeMask = 0;
            if (value is not null)
            {
                foreach (var type in value)
                {
                    _typeMask |= (int)type is >= 0 and < 64
                        ? 1UL << (int)type
                        : throw new ArgumentOutOfRangeException(nameof(value), type, "Event types are numbered below 64.");
                }
            }
        }
    }

    public bool Matches(UserEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        if (_types is not null && (_typeMask & (1UL << (int)evt.Type)) == 0)
        {
            return false;
        }
        // Indexed, not foreach: enumerating the interface would allocate an enumerator per event.
        var conditions = Conditions;
        for (var i = 0; i < conditions.Count; i++)
        {
            if (!conditions[i].Matches(evt))
            {
                return false;
            }
        }
        return true;
    }

    internal void AppendCanonical(StringBuilder sb)
    {
        sb.Append('{');
        if (Types is { } types)
        {
            sb.Append("types");
            for (var t = EventType.Other; t <= EventType.UserDeleted; t++)
            {
                if (types.Contains(t))
                {
                    sb.Append(' ').Append((int)t);
                }
            }
            sb.Append(';');
        }
        foreach (var m in Conditions)
        {
            sb.Append(m.Field.ToString()).Append(' ').Append(m.Kind.ToString()).Append(" [");
            foreach (var v in m.Values)
            {
                sb.Append(v.Length).Append(':').Append(v).Append(',');
            }
            sb.Append("];");
        }
        sb.Append('}');
    }
}

/// <summary>Comparison of a count with a number.</summary>
public enum ConditionOp : byte
{
    Gte,
    Gt,
    Lte,
    Lt,
    Eq,
}

/// <summary>A rule's condition on its count: <c>count OP value</c>.</summary>
public readonly record struct RuleCondition(ConditionOp Op, long Value)
{
    public bool Holds(long count) => Op switch
    {
        ConditionOp.Gte => count >= Value,
        ConditionOp.Gt => count > Value,
        ConditionOp.Lte => count <= Value,
        ConditionOp.Lt => count < Value,
        _ => count == Value,
    };

    public override string ToString() => Op.ToString().ToLowerInvariant() + " " + Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One named step of a temporal rule: a filter, and for ordered rules how many events it needs.</summary>
public sealed record RuleStep(string Name, EventFilter Filter, int Min = 1);

/// <summary>An escalation: an event matching <see cref="Filter"/> in the same group within <see cref="Within"/> after
/// the rule fired raises a second alert of <see cref="Severity"/> (a success after a brute force).</summary>
public sealed record FollowUp(EventFilter Filter, TimeSpan Within, Severity Severity, string Summary, double Score);

/// <summary>One rule of a rules file, parsed and validated.</summary>
public sealed record RuleDefinition
{
    /// <summary>Unique within the file; the key of the rule's state across reloads and checkpoints.</summary>
    public required string Id { get; init; }

    /// <summary>The alert's <c>rule</c>; a built-in rule of the same name is replaced by this one.</summary>
    public required string Name { get; init; }

    public required RuleKind Kind { get; init; }

    /// <summary>Which events count (event_count, value_count).</summary>
    public EventFilter? Filter { get; init; }

    /// <summary>The steps of a temporal rule.</summary>
    public IReadOnlyList<RuleStep> Steps { get; init; } = [];

    /// <summary>The fields whose values form the group key (events without them are skipped).</summary>
    public required IReadOnlyList<FieldRef> GroupBy { get; init; }

    public required TimeSpan Timespan { get; init; }

    /// <summary>The condition on the count (event_count: events; value_count: distinct values). Temporal rules have none.</summary>
    public RuleCondition Condition { get; init; } = new(ConditionOp.Gte, 1);

    /// <summary>The field value_count counts distinct values of.</summary>
    public FieldRef? DistinctField { get; init; }

    public required Severity Severity { get; init; }

    /// <summary>The alert's score, 0–1.</summary>
    public double Score { get; init; }

    /// <summary>The summary template (placeholders in braces: <see cref="RuleTemplate.Placeholders"/>).</summary>
    public required string Summary { get; init; }

    /// <summary>The suppression window for this rule's alerts; null: the pipeline's default; zero: none.</summary>
    public TimeSpan? Suppression { get; init; }

    public FollowUp? FollowedBy { get; init; }

    /// <summary>Events remembered per group (bounds memory; the evidence lists at most this many).</summary>
    public int MaxEvents { get; init; } = 128;

    /// <summary>The line of the rule in its file, for messages.</summary>
    public int Line { get; init; }

    /// <summary>A hash of everything that decides the rule's behaviour (not its line): equal hashes, same rule, so
    /// its state survives a reload or a restore.</summary>
    public string Hash { get; init; } = "";

    /// <summary>True when every event of a group lives in one user partition (the group includes the user id).</summary>
    public bool IsPerUser
    {
        get
        {
            foreach (var f in GroupBy)
            {
                if (f.Field == RuleField.UserId)
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>The canonical text the <see cref="Hash"/> is taken of.</summary>
    public string Canonical()
    {
        var sb = new StringBuilder();
        sb.Append("id=").Append(Id).Append("\nname=").Append(Name).Append("\nkind=").Append(Kind).Append("\nfilter=");
        Filter?.AppendCanonical(sb);
        sb.Append("\nsteps=");
        foreach (var s in Steps)
        {
            sb.Append(s.Name).Append('x').Append(s.Min).Append(':');
            s.Filter.AppendCanonical(sb);
            sb.Append(';');
        }
        sb.Append("\ngroup=");
        foreach (var g in GroupBy)
        {
            sb.Append(g.ToString()).Append(',');
        }
        sb.Append("\ntimespan=").Append(((long)Timespan.TotalMilliseconds).ToString(CultureInfo.InvariantCulture))
            .Append("\ncondition=").Append(Condition.ToString())
            .Append("\ndistinct=").Append(DistinctField?.ToString())
            .Append("\nseverity=").Append(Severity.ToWireName())
            .Append("\nscore=").Append(Score.ToString("R", CultureInfo.InvariantCulture))
            .Append("\nsummary=").Append(Summary)
            .Append("\nsuppression=").Append(Suppression is { } sup ? ((long)sup.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) : "default")
            .Append("\nmaxEvents=").Append(MaxEvents.ToString(CultureInfo.InvariantCulture));
        if (FollowedBy is { } f)
        {
            sb.Append("\nfollowedBy=");
            f.Filter.AppendCanonical(sb);
            sb.Append(((long)f.Within.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)).Append(f.Severity.ToWireName())
                .Append(f.Score.ToString("R", CultureInfo.InvariantCulture)).Append(f.Summary);
        }
        return sb.ToString();
    }

    /// <summary>The first 16 hex digits of the SHA-256 of <paramref name="canonical"/>.</summary>
    public static string HashOf(string canonical) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))[..16];
}

/// <summary>A parsed rules file: the rules in file order, and a version that changes with any rule.</summary>
public sealed record RuleSet(IReadOnlyList<RuleDefinition> Rules, string Version)
{
    /// <summary>No rules.</summary>
    public static RuleSet Empty { get; } = new([], "empty");

    /// <summary>Where the rules came from (a path), for messages.</summary>
    public string? Source { get; init; }
}

/// <summary>Why a rules file was refused, and where.</summary>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Field">The path of the field at fault (<c>rules[1].timespan</c>), or null for a syntax error.</param>
/// <param name="Message">What is wrong.</param>
public readonly record struct RuleFileError(int Line, int Column, string? Field, string Message)
{
    public override string ToString() =>
        $"line {Line.ToString(CultureInfo.InvariantCulture)}, column {Column.ToString(CultureInfo.InvariantCulture)}: " +
        (Field is null ? "" : Field + ": ") + Message;
}
