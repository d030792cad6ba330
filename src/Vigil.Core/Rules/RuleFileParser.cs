using System.Globalization;
using Vigil.Core.Alerts;
using Vigil.Core.Events;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Vigil.Core.Rules;

/// <summary>What <see cref="RuleFileParser.Parse"/> made of a file: the rules, or the errors (never both).</summary>
public sealed record RuleFileResult(RuleSet? Rules, IReadOnlyList<RuleFileError> Errors)
{
    public bool Ok => Rules is not null;

    /// <summary>The errors, one a line, each naming its line, column and field.</summary>
    public string Message(string? source = null) =>
        string.Join(Environment.NewLine, Errors.Select(e => (source is null ? "" : source + ": ") + e.ToString()));
}

/// <summary>
/// Reads a rules file (YAML; JSON is YAML's flow style and reads the same) into validated
/// <see cref="RuleDefinition"/>s, in the spirit of Sigma correlation rules. Everything wrong is reported with its line,
/// column and field path; nothing is half-loaded.
/// </summary>
/// <remarks>
/// <code>
/// version: 1
/// filters:                      # named event selections (Sigma's base rules), for temporal rules
///   login_failed: { eventType: LOGIN_FAILED }
/// rules:
///   - id: brute-force-ip
///     name: BRUTE_FORCE_IP
///     type: event_count         # event_count | value_count | temporal | temporal_ordered
///     filter: { eventType: LOGIN_FAILED, userAgent|contains: [python, curl] }
///     group-by: [ipAddress]
///     timespan: 120s
///     condition: { gte: 8 }     # value_count: { field: account, gte: 15 }
///     severity: MEDIUM
///     summary: "{count} failed logins in {seconds} s from {ipAddress}"
/// </code>
/// </remarks>
public static class RuleFileParser
{
    /// <summary>The file format version this parser reads.</summary>
    public const int FormatVersion = 1;

    private static readonly string[] s_topKeys = ["version", "filters", "rules"];

    private static readonly string[] s_ruleKeys =
    [
        "id", "name", "description", "type", "enabled", "filter", "rules", "group-by", "timespan", "condition", "severity",
        "score", "summary", "suppression", "followed-by", "max-events",
    ];

    private static readonly string[] s_followKeys = ["filter", "within", "severity", "score", "summary"];

    /// <summary>Parses and validates <paramref name="text"/>.</summary>
    /// <param name="text">The file's content.</param>
    /// <param name="source">Where it came from (a path), kept on the rule set.</param>
    public static RuleFileResult Parse(string text, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var errors = new List<RuleFileError>();
        YamlStream stream;
        try
        {
            stream = new YamlStream();
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException is { } inner && inner.Message.Length > 0 ? ex.Message + " " + inner.Message : ex.Message;
            // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (…): "; the position is reported separately.
            var cut = message.LastIndexOf("): ", StringComparison.Ordinal);
            errors.Add(new RuleFileError((int)ex.Start.Line, (int)ex.Start.Column, null, "not valid YAML: " + (cut >= 0 ? message[(cut + 3)..] : message)));
            return new RuleFileResult(null, errors);
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            var at = stream.Documents.Count == 0 ? default : stream.Documents[0].RootNode.Start;
            errors.Add(new RuleFileError(Math.Max(1, (int)at.Line), Math.Max(1, (int)at.Column), null,
                "a rules file is a mapping with 'version', 'filters' and 'rules'"));
            return new RuleFileResult(null, errors);
        }
        if (stream.Documents.Count > 1)
        {
            var at = stream.Documents[1].RootNode.Start;
            errors.Add(new RuleFileError((int)at.Line, (int)at.Column, null, "a rules file holds one YAML document"));
        }
        var p = new Reader(errors);
        p.CheckKeys(root, "", s_topKeys);
        if (p.Get(root, "version") is { } versionNode)
        {
            if (p.Int(versionNode, "version", 1, FormatVersion) is { } v && v != FormatVersion)
            {
                p.Error(versionNode, "version", $"version {v} is not supported (this Vigil reads version {FormatVersion})");
            }
        }
        else
        {
            p.Error(root, "version", "missing (write 'version: 1')");
        }
        var filters = new Dictionary<string, (EventFilter Filter, YamlNode Node)>(StringComparer.Ordinal);
        if (p.Get(root, "filters") is { } filtersNode)
        {
            if (filtersNode is not YamlMappingNode fm)
            {
                p.Error(filtersNode, "filters", "must be a mapping of name to filter");
            }
            else
            {
                foreach (var (k, v) in fm.Children)
                {
                    var name = (k as YamlScalarNode)?.Value ?? "";
                    if (!IsName(name))
                    {
                        p.Error(k, "filters", $"'{name}' is not a valid filter name (letters, digits, '_' and '-')");
                        continue;
                    }
                    if (p.Filter(v, "filters." + name) is { } f)
                    {
                        filters[name] = (f, k);
                    }
                }
            }
        }
        var rules = new List<RuleDefinition>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        if (p.Get(root, "rules") is not { } rulesNode)
        {
            p.Error(root, "rules", "missing (a list of rules)");
        }
        else if (rulesNode is not YamlSequenceNode seq)
        {
            if (rulesNode is not YamlScalarNode { Value: null or "" })
            {
                p.Error(rulesNode, "rules", "must be a list of rules");
            }
        }
        else
        {
            for (var i = 0; i < seq.Children.Count; i++)
            {
                var path = $"rules[{i.ToString(CultureInfo.InvariantCulture)}]";
                if (seq.Children[i] is not YamlMappingNode rule)
                {
                    p.Error(seq.Children[i], path, "a rule is a mapping (id, name, type, …)");
                    continue;
                }
                if (p.Rule(rule, path, filters, out var enabled) is not { } def)
                {
                    continue;
                }
                if (ids.TryGetValue(def.Id, out var firstLine))
                {
                    p.Error(p.Get(rule, "id")!, path + ".id", $"duplicate id '{def.Id}' (first used on line {firstLine.ToString(CultureInfo.InvariantCulture)})");
                    continue;
                }
                ids[def.Id] = def.Line;
                if (enabled)
                {
                    rules.Add(def);
                }
            }
        }
        if (errors.Count > 0)
        {
            errors.Sort((a, b) => a.Line != b.Line ? a.Line.CompareTo(b.Line) : a.Column.CompareTo(b.Column));
            return new RuleFileResult(null, errors);
        }
        var version = RuleDefinition.HashOf(string.Join("\n", rules.Select(r => r.Id + "=" + r.Hash)));
        return new RuleFileResult(new RuleSet(rules, version) { Source = source }, errors);
    }

    /// <summary>Reads and parses a file; a missing or unreadable file is an error at line 1.</summary>
    public static RuleFileResult ParseFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new RuleFileResult(null, [new RuleFileError(1, 1, null, "cannot read the file: " + ex.Message)]);
        }
        return Parse(text, path);
    }

    private static bool IsName(string s)
    {
        if (s.Length is 0 or > 128)
        {
            return false;
        }
        foreach (var c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '_' and not '-' and not '.')
            {
                return false;
            }
        }
        return true;
    }

    private sealed class Reader(List<RuleFileError> errors)
    {
        public void Error(YamlNode node, string? field, string message) =>
            errors.Add(new RuleFileError((int)node.Start.Line, (int)node.Start.Column, field, message));

        public YamlNode? Get(YamlMappingNode map, string key) =>
            map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

        public void CheckKeys(YamlMappingNode map, string path, string[] known)
        {
            foreach (var (k, _) in map.Children)
            {
                var name = (k as YamlScalarNode)?.Value ?? "?";
                if (Array.IndexOf(known, name) < 0)
                {
                    Error(k, Join(path, name), $"unknown field (known: {string.Join(", ", known)})");
                }
            }
        }

        private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

        public string? Text(YamlNode node, string path)
        {
            if (node is YamlScalarNode { Value: { Length: > 0 } s })
            {
                return s;
            }
            Error(node, path, "must be a non-empty text");
            return null;
        }

        public long? Int(YamlNode node, string path, long min, long max)
        {
            if (node is YamlScalarNode { Value: { } s } && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            {
                if (v < min || v > max)
                {
                    Error(node, path, $"{v} is out of range ({min}–{max})");
                    return null;
                }
                return v;
            }
            Error(node, path, $"must be a whole number, not '{(node as YamlScalarNode)?.Value ?? node.NodeType.ToString()}'");
            return null;
        }

        public double? Fraction(YamlNode node, string path)
        {
            if (node is YamlScalarNode { Value: { } s } && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is >= 0 and <= 1)
            {
                return v;
            }
            Error(node, path, $"must be a number from 0 to 1, not '{(node as YamlScalarNode)?.Value}'");
            return null;
        }

        public TimeSpan? Duration(YamlNode node, string path, bool allowZero = false)
        {
            var s = (node as YamlScalarNode)?.Value;
            if (allowZero && s is "0" or "none" or "off")
            {
                return TimeSpan.Zero;
            }
            if (Durations.TryParse(s, out var d))
            {
                if (d > TimeSpan.FromDays(30))
                {
                    Error(node, path, $"'{s}' is longer than 30 days");
                    return null;
                }
                return d;
            }
            Error(node, path, $"'{s}' is not a duration (such as 90s, 10m, 1h{(allowZero ? ", or none" : "")})");
            return null;
        }

        public Severity? SeverityOf(YamlNode node, string path)
        {
            var s = (node as YamlScalarNode)?.Value;
            if (AlertNames.TryParseSeverity(s, out var sev))
            {
                return sev;
            }
            Error(node, path, $"'{s}' is not a severity (LOW, MEDIUM, HIGH, CRITICAL)");
            return null;
        }

        public string? Summary(YamlNode node, string path)
        {
            if (Text(node, path) is not { } s)
            {
                return null;
            }
            if (RuleTemplate.Validate(s) is { } problem)
            {
                Error(node, path, problem);
                return null;
            }
            return s;
        }

        public FieldRef? Field(YamlNode node, string path)
        {
            var s = (node as YamlScalarNode)?.Value ?? "";
            if (FieldRef.TryParse(s, out var f))
            {
                return f;
            }
            Error(node, path, $"unknown field name '{s}' (known: {string.Join(", ", FieldRef.Names)})");
            return null;
        }

        public EventFilter? Filter(YamlNode node, string path)
        {
            if (node is not YamlMappingNode map || map.Children.Count == 0)
            {
                Error(node, path, "a filter is a non-empty mapping of field to value, such as { eventType: LOGIN_FAILED }");
                return null;
            }
            var ok = true;
            var matches = new List<FieldMatch>();
            HashSet<EventType>? types = null;
            foreach (var (k, v) in map.Children)
            {
                var key = (k as YamlScalarNode)?.Value ?? "";
                var bar = key.IndexOf('|', StringComparison.Ordinal);
                var fieldName = bar < 0 ? key : key[..bar];
                var modifier = bar < 0 ? "" : key[(bar + 1)..];
                var fpath = path + "." + key;
                if (!FieldRef.TryParse(fieldName, out var field))
                {
                    Error(k, fpath, $"unknown field name '{fieldName}' (known: {string.Join(", ", FieldRef.Names)})");
                    ok = false;
                    continue;
                }
                MatchKind? kind = modifier switch
                {
                    "" => MatchKind.Equals,
                    "contains" => MatchKind.Contains,
                    "startswith" => MatchKind.StartsWith,
                    "not" => MatchKind.NotEquals,
                    _ => null,
                };
                if (kind is null)
                {
                    Error(k, fpath, $"unknown modifier '|{modifier}' (known: |contains, |startswith, |not)");
                    ok = false;
                    continue;
                }
                var values = new List<string>();
                if (v is YamlScalarNode { Value: { } one })
                {
                    values.Add(one);
                }
                else if (v is YamlSequenceNode list && list.Children.Count > 0)
                {
                    foreach (var item in list.Children)
                    {
                        if (item is YamlScalarNode { Value: { } s })
                        {
                            values.Add(s);
                        }
                        else
                        {
                            Error(item, fpath, "values are texts");
                            ok = false;
                        }
                    }
                }
                else
                {
                    Error(v, fpath, "must be a value or a non-empty list of values");
                    ok = false;
                    continue;
                }
                if (field.Field == RuleField.EventType)
                {
                    if (kind is not (MatchKind.Equals or MatchKind.NotEquals))
                    {
                        Error(k, fpath, "eventType takes a name or a list of names (or |not), not |" + modifier);
                        ok = false;
                        continue;
                    }
                    var named = new HashSet<EventType>();
                    foreach (var name in values)
                    {
                        var t = EventTypeOf(name);
                        if (t is null)
                        {
                            Error(v, fpath, $"unknown event type '{name}' (known: {string.Join(", ", EventTypes.WireNames)}, OTHER)");
                            ok = false;
                            continue;
                        }
                        named.Add(t.Value);
                    }
                    if (kind == MatchKind.NotEquals)
                    {
                        var all = new HashSet<EventType>();
                        for (var t = EventType.Other; t <= EventType.UserDeleted; t++)
                        {
                            if (!named.Contains(t))
                            {
                                all.Add(t);
                            }
                        }
                        named = all;
                    }
                    types = types is null ? named : [.. types.Intersect(named)];
                    continue;
                }
                matches.Add(new FieldMatch(field, kind.Value, values));
            }
            if (!ok)
            {
                return null;
            }
            return new EventFilter(matches) { Types = types };
        }

        private static EventType? EventTypeOf(string name)
        {
            if (string.Equals(name, "OTHER", StringComparison.Ordinal))
            {
                return EventType.Other;
            }
            for (var t = EventType.UserRegistered; t <= EventType.UserDeleted; t++)
            {
                if (string.Equals(t.ToWireName(), name, StringComparison.Ordinal))
                {
                    return t;
                }
            }
            return null;
        }

        public RuleDefinition? Rule(YamlMappingNode rule, string path, Dictionary<string, (EventFilter Filter, YamlNode Node)> filters, out bool enabled)
        {
            enabled = true;
            var before = errors.Count;
            CheckKeys(rule, path, s_ruleKeys);
            string? Required(string key) => Get(rule, key) is { } n ? Text(n, path + "." + key) : Missing(key);
            string? Missing(string key)
            {
                Error(rule, path + "." + key, "missing");
                return null;
            }
            T? Absent<T>(string key) where T : struct
            {
                Missing(key);
                return null;
            }
            var id = Required("id");
            if (id is not null && !IsName(id))
            {
                Error(Get(rule, "id")!, path + ".id", $"'{id}' is not a valid id (letters, digits, '_', '-' and '.')");
            }
            var name = Required("name");
            if (Get(rule, "enabled") is { } en)
            {
                var s = (en as YamlScalarNode)?.Value;
                if (s is "true" or "false")
                {
                    enabled = s == "true";
                }
                else
                {
                    Error(en, path + ".enabled", "must be true or false");
                }
            }
            RuleKind? kind = null;
            if (Required("type") is { } typeText)
            {
                kind = typeText switch
                {
                    "event_count" => RuleKind.EventCount,
                    "value_count" => RuleKind.ValueCount,
                    "temporal" => RuleKind.Temporal,
                    "temporal_ordered" => RuleKind.TemporalOrdered,
                    _ => null,
                };
                if (kind is null)
                {
                    Error(Get(rule, "type")!, path + ".type", $"unknown rule type '{typeText}' (known: event_count, value_count, temporal, temporal_ordered)");
                }
            }
            var counting = kind is RuleKind.EventCount or RuleKind.ValueCount;
            EventFilter? filter = null;
            var steps = new List<RuleStep>();
            if (kind is not null)
            {
                if (counting)
                {
                    if (Get(rule, "rules") is { } stray)
                    {
                        Error(stray, path + ".rules", "only temporal rules take 'rules'; counting rules take 'filter'");
                    }
                    if (Get(rule, "filter") is { } fnode)
                    {
                        filter = FilterOrName(fnode, path + ".filter", filters);
                    }
                    else
                    {
                        Missing("filter");
                    }
                }
                else
                {
                    if (Get(rule, "filter") is { } stray)
                    {
                        Error(stray, path + ".filter", "temporal rules take 'rules' (names of filters), not 'filter'");
                    }
                    if (Get(rule, "rules") is not { } rnode)
                    {
                        Missing("rules");
                    }
                    else
                    {
                        Steps(rnode, path + ".rules", filters, kind == RuleKind.TemporalOrdered, steps);
                    }
                }
            }
            var groupBy = new List<FieldRef>();
            if (Get(rule, "group-by") is not { } gnode)
            {
                Missing("group-by");
            }
            else
            {
                var items = gnode is YamlSequenceNode gs ? gs.Children : (IList<YamlNode>)[gnode];
                if (items.Count == 0)
                {
                    Error(gnode, path + ".group-by", "needs at least one field (userId, ipAddress, …)");
                }
                foreach (var item in items)
                {
                    if (Field(item, path + ".group-by") is { } f)
                    {
                        if (groupBy.Contains(f))
                        {
                            Error(item, path + ".group-by", $"'{f}' is listed twice");
                        }
                        else
                        {
                            groupBy.Add(f);
                        }
                    }
                }
            }
            var timespan = Get(rule, "timespan") is { } tnode ? Duration(tnode, path + ".timespan") : Absent<TimeSpan>("timespan");
            RuleCondition condition = new(ConditionOp.Gte, 1);
            FieldRef? distinct = null;
            if (Get(rule, "condition") is { } cnode)
            {
                if (kind is null)
                {
                }
                else if (!counting)
                {
                    Error(cnode, path + ".condition", "temporal rules fire when every step matched; they take no condition");
                }
                else if (Condition(cnode, path + ".condition", kind == RuleKind.ValueCount, out distinct) is { } c)
                {
                    condition = c;
                }
            }
            else if (counting)
            {
                Missing("condition");
            }
            var severity = Get(rule, "severity") is { } snode ? SeverityOf(snode, path + ".severity") : Absent<Severity>("severity");
            var summary = Get(rule, "summary") is { } sumNode ? Summary(sumNode, path + ".summary") : Missing("summary");
            double? score = Get(rule, "score") is { } scNode ? Fraction(scNode, path + ".score") : null;
            TimeSpan? suppression = Get(rule, "suppression") is { } supNode ? Duration(supNode, path + ".suppression", allowZero: true) : null;
            var maxEvents = Get(rule, "max-events") is { } meNode ? Int(meNode, path + ".max-events", 1, 100_000) : 128;
            FollowUp? follow = null;
            if (Get(rule, "followed-by") is { } fbNode)
            {
                if (!counting)
                {
                    Error(fbNode, path + ".followed-by", "only counting rules take 'followed-by' (write the sequence as temporal_ordered)");
                }
                else
                {
                    follow = FollowedBy(fbNode, path + ".followed-by", filters);
                }
            }
            if (counting && maxEvents is { } cap && condition.Op is ConditionOp.Gte or ConditionOp.Gt or ConditionOp.Eq
                && condition.Value + (condition.Op == ConditionOp.Gt ? 1 : 0) > cap)
            {
                Error(Get(rule, "condition")!, path + ".condition", $"counts to {condition.Value}, more than max-events ({cap}) remembers");
            }
            if (errors.Count > before || id is null || name is null || kind is null || timespan is null || severity is null || summary is null || maxEvents is null)
            {
                return null;
            }
            var def = new RuleDefinition
            {
                Id = id,
                Name = name,
                Kind = kind.Value,
                Filter = filter,
                Steps = steps,
                GroupBy = groupBy,
                Timespan = timespan.Value,
                Condition = condition,
                DistinctField = distinct,
                Severity = severity.Value,
                Score = score ?? DefaultScore(severity.Value),
                Summary = summary,
                Suppression = suppression,
                FollowedBy = follow,
                MaxEvents = (int)maxEvents.Value,
                Line = (int)rule.Start.Line,
            };
            return def with { Hash = RuleDefinition.HashOf(def.Canonical()) };
        }

        private static double DefaultScore(Severity s) => s switch
        {
            Severity.Low => 0.3,
            Severity.Medium => 0.6,
            Severity.High => 0.8,
            _ => 0.95,
        };

        private EventFilter? FilterOrName(YamlNode node, string path, Dictionary<string, (EventFilter Filter, YamlNode Node)> filters)
        {
            if (node is YamlScalarNode { Value: { } name })
            {
                if (filters.TryGetValue(name, out var f))
                {
                    return f.Filter;
                }
                Error(node, path, $"no filter named '{name}' under 'filters'");
                return null;
            }
            return Filter(node, path);
        }

        private void Steps(YamlNode node, string path, Dictionary<string, (EventFilter Filter, YamlNode Node)> filters, bool ordered, List<RuleStep> steps)
        {
            if (node is not YamlSequenceNode seq || seq.Children.Count < 2)
            {
                Error(node, path, "must list at least two filter names");
                return;
            }
            for (var i = 0; i < seq.Children.Count; i++)
            {
                var item = seq.Children[i];
                var ipath = $"{path}[{i.ToString(CultureInfo.InvariantCulture)}]";
                string? name = null;
                YamlNode nameNode = item;
                long min = 1;
                if (item is YamlScalarNode { Value: { } s })
                {
                    name = s;
                }
                else if (item is YamlMappingNode m)
                {
                    CheckKeys(m, ipath, ["filter", "min"]);
                    if (Get(m, "filter") is { } fn)
                    {
                        name = Text(fn, ipath + ".filter");
                        nameNode = fn;
                    }
                    else
                    {
                        Error(m, ipath + ".filter", "missing");
                    }
                    if (Get(m, "min") is { } mn)
                    {
                        if (!ordered)
                        {
                            Error(mn, ipath + ".min", "only temporal_ordered steps take 'min'");
                        }
                        else
                        {
                            min = Int(mn, ipath + ".min", 1, 1000) ?? 1;
                        }
                    }
                }
                else
                {
                    Error(item, ipath, "a step is a filter name or { filter: NAME, min: N }");
                    continue;
                }
                if (name is null)
                {
                    continue;
                }
                if (!filters.TryGetValue(name, out var f))
                {
                    Error(nameNode, ipath, $"no filter named '{name}' under 'filters'");
                    continue;
                }
                if (!ordered && steps.Exists(x => x.Name == name))
                {
                    Error(nameNode, ipath, $"'{name}' is listed twice");
                    continue;
                }
                steps.Add(new RuleStep(name, f.Filter, (int)min));
            }
        }

        private RuleCondition? Condition(YamlNode node, string path, bool distinct, out FieldRef? field)
        {
            field = null;
            if (node is not YamlMappingNode map)
            {
                Error(node, path, "a condition is a mapping such as { gte: 8 }");
                return null;
            }
            CheckKeys(map, path, distinct ? ["field", "gte", "gt", "lte", "lt", "eq"] : ["gte", "gt", "lte", "lt", "eq"]);
            RuleCondition? result = null;
            var ops = 0;
            foreach (var (k, v) in map.Children)
            {
                var key = (k as YamlScalarNode)?.Value;
                ConditionOp? op = key switch
                {
                    "gte" => ConditionOp.Gte,
                    "gt" => ConditionOp.Gt,
                    "lte" => ConditionOp.Lte,
                    "lt" => ConditionOp.Lt,
                    "eq" => ConditionOp.Eq,
                    _ => null,
                };
                if (op is null)
                {
                    continue;
                }
                ops++;
                if (Int(v, path + "." + key, 0, 1_000_000) is { } n)
                {
                    result = new RuleCondition(op.Value, n);
                }
            }
            if (ops != 1)
            {
                Error(node, path, "needs exactly one of gte, gt, lte, lt, eq");
                return null;
            }
            if (distinct)
            {
                if (Get(map, "field") is { } fn)
                {
                    field = Field(fn, path + ".field");
                }
                else
                {
                    Error(node, path + ".field", "missing (the field whose distinct values are counted)");
                }
            }
            return result;
        }

        private FollowUp? FollowedBy(YamlNode node, string path, Dictionary<string, (EventFilter Filter, YamlNode Node)> filters)
        {
            if (node is not YamlMappingNode map)
            {
                Error(node, path, "must be a mapping (filter, within, severity, summary)");
                return null;
            }
            var before = errors.Count;
            CheckKeys(map, path, s_followKeys);
            EventFilter? filter = Get(map, "filter") is { } fn ? FilterOrName(fn, path + ".filter", filters) : null;
            TimeSpan? within = Get(map, "within") is { } wn ? Duration(wn, path + ".within") : null;
            Severity? severity = Get(map, "severity") is { } sn ? SeverityOf(sn, path + ".severity") : null;
            string? summary = Get(map, "summary") is { } mn ? Summary(mn, path + ".summary") : null;
            double? score = Get(map, "score") is { } scn ? Fraction(scn, path + ".score") : null;
            foreach (var key in new[] { "filter", "within", "severity", "summary" })
            {
                if (Get(map, key) is null)
                {
                    Error(node, path + "." + key, "missing");
                }
            }
            if (errors.Count > before || filter is null || within is null || severity is null || summary is null)
            {
                return null;
            }
            return new FollowUp(filter, within.Value, severity.Value, summary, score ?? DefaultScore(severity.Value));
        }
    }
}
