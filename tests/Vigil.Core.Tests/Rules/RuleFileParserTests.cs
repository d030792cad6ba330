using Vigil.Core.Rules;

namespace Vigil.Core.Tests.Rules;

public sealed class RuleFileParserTests
{
    internal const string Valid = """
        version: 1
        filters:
          failed: { eventType: LOGIN_FAILED }
          success: { eventType: LOGIN_SUCCESS }
        rules:
          - id: bf-ip
            name: BRUTE_FORCE_IP
            type: event_count
            filter: { eventType: LOGIN_FAILED }
            group-by: [ipAddress]
            timespan: 120s
            condition: { gte: 8 }
            severity: MEDIUM
            summary: "{count} failures from {ipAddress}"
          - id: spray
            name: PASSWORD_SPRAY
            type: value_count
            filter: failed
            group-by: ipAddress
            timespan: 30m
            condition: { field: account, gte: 15 }
            severity: HIGH
            summary: "{distinct} accounts"
          - id: seq
            name: SEQ
            type: temporal_ordered
            rules: [{ filter: failed, min: 2 }, success]
            group-by: [userId]
            timespan: 1h
            severity: LOW
            summary: "{steps}"
        """;

    private static RuleFileError SingleError(string text)
    {
        var result = RuleFileParser.Parse(text);
        Assert.False(result.Ok);
        Assert.Null(result.Rules);
        return Assert.Single(result.Errors);
    }

    private static string WithRule(string ruleBody) => "version: 1\nrules:\n  - id: r1\n" + ruleBody;

    private const string Base = """
            name: R
            type: event_count
            filter: { eventType: LOGIN_FAILED }
            group-by: [ipAddress]
            timespan: 2m
            condition: { gte: 3 }
            severity: LOW
            summary: "x"

        """;

    [Fact]
    public void Parse_ValidFile_ReadsEveryRule()
    {
        var result = RuleFileParser.Parse(Valid);

        Assert.True(result.Ok, result.Message());
        var rules = result.Rules!.Rules;
        Assert.Equal(["bf-ip", "spray", "seq"], rules.Select(r => r.Id));
        Assert.Equal(RuleKind.EventCount, rules[0].Kind);
        Assert.Equal(TimeSpan.FromSeconds(120), rules[0].Timespan);
        Assert.Equal(new RuleCondition(ConditionOp.Gte, 8), rules[0].Condition);
        Assert.Equal(RuleField.Account, rules[1].DistinctField!.Value.Field);
        Assert.Equal(2, rules[2].Steps[0].Min);
        Assert.True(rules[2].IsPerUser);
        Assert.False(rules[0].IsPerUser);
        Assert.Equal(6, rules[0].Line);
    }

    [Fact]
    public void Parse_SyntaxError_NamesLineAndColumn()
    {
        var error = SingleError("version: 1\nrules:\n  - id: x\n    name: [unclosed\n");

        Assert.Equal(5, error.Line);
        Assert.Null(error.Field);
        Assert.Contains("not valid YAML", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("line 5, column", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownType_NamesTheTypeField()
    {
        var error = SingleError(WithRule(Base.Replace("type: event_count", "type: event_cnt", StringComparison.Ordinal)));

        Assert.Equal("rules[0].type", error.Field);
        Assert.Equal(5, error.Line);
        Assert.Equal(11, error.Column);
        Assert.Contains("unknown rule type 'event_cnt'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MissingField_NamesItAtTheRule()
    {
        var error = SingleError(WithRule(Base.Replace("    timespan: 2m\n", "", StringComparison.Ordinal)));

        Assert.Equal("rules[0].timespan", error.Field);
        Assert.Equal(3, error.Line);
        Assert.Equal("missing", error.Message);
    }

    [Fact]
    public void Parse_BadDuration_NamesLineAndField()
    {
        var error = SingleError(WithRule(Base.Replace("timespan: 2m", "timespan: two minutes", StringComparison.Ordinal)));

        Assert.Equal("rules[0].timespan", error.Field);
        Assert.Equal(8, error.Line);
        Assert.Contains("not a duration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownFieldNameInFilter_NamesIt()
    {
        var error = SingleError(WithRule(Base.Replace("filter: { eventType: LOGIN_FAILED }", "filter: { eventType: LOGIN_FAILED, agent|contains: curl }", StringComparison.Ordinal)));

        Assert.Equal("rules[0].filter.agent|contains", error.Field);
        Assert.Equal(6, error.Line);
        Assert.Contains("unknown field name 'agent'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownGroupByField_NamesIt()
    {
        var error = SingleError(WithRule(Base.Replace("group-by: [ipAddress]", "group-by: [ip]", StringComparison.Ordinal)));

        Assert.Equal("rules[0].group-by", error.Field);
        Assert.Contains("unknown field name 'ip'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownRuleKey_NamesIt()
    {
        var error = SingleError(WithRule(Base + "    threshold: 5\n"));

        Assert.Equal("rules[0].threshold", error.Field);
        Assert.Equal(12, error.Line);
        Assert.Contains("unknown field", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DuplicateId_NamesBothLines()
    {
        var error = SingleError(WithRule(Base) + "  - id: r1\n" + Base);

        Assert.Equal("rules[1].id", error.Field);
        Assert.Equal(12, error.Line);
        Assert.Contains("duplicate id 'r1' (first used on line 3)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownEventTypeAndPlaceholder_ReportsBoth()
    {
        var text = WithRule(Base.Replace("LOGIN_FAILED", "LOGIN_FAIL", StringComparison.Ordinal).Replace("summary: \"x\"", "summary: \"{cuont}\"", StringComparison.Ordinal));

        var result = RuleFileParser.Parse(text);

        Assert.Equal(2, result.Errors.Count);
        Assert.Contains("unknown event type 'LOGIN_FAIL'", result.Errors[0].Message, StringComparison.Ordinal);
        Assert.Equal("rules[0].summary", result.Errors[1].Field);
        Assert.Contains("unknown placeholder '{cuont}'", result.Errors[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TemporalWithUnknownFilterName_NamesTheStep()
    {
        var error = SingleError("version: 1\nfilters:\n  a: { eventType: LOGOUT }\nrules:\n  - id: t\n    name: T\n    type: temporal\n    rules: [a, b]\n    group-by: userId\n    timespan: 1h\n    severity: LOW\n    summary: s\n");

        Assert.Equal("rules[0].rules[1]", error.Field);
        Assert.Equal(8, error.Line);
        Assert.Contains("no filter named 'b'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MissingVersion_IsRefused()
    {
        var error = SingleError("rules: []\n");

        Assert.Equal("version", error.Field);
    }

    [Fact]
    public void Hash_SameDefinitionOnAnotherLine_IsEqual_ChangedThresholdIsNot()
    {
        var a = RuleFileParser.Parse(WithRule(Base)).Rules!.Rules[0];
        var moved = RuleFileParser.Parse("# a comment\n\n" + WithRule(Base)).Rules!.Rules[0];
        var changed = RuleFileParser.Parse(WithRule(Base.Replace("gte: 3", "gte: 4", StringComparison.Ordinal))).Rules!.Rules[0];

        Assert.NotEqual(a.Line, moved.Line);
        Assert.Equal(a.Hash, moved.Hash);
        Assert.NotEqual(a.Hash, changed.Hash);
    }

    [Fact]
    public void Parse_JsonFile_ReadsTheSame()
    {
        const string json = """
            { "version": 1, "rules": [ { "id": "j", "name": "J", "type": "event_count", "filter": { "eventType": "LOGIN_FAILED" },
              "group-by": ["userId", "ipAddress"], "timespan": "2m", "condition": { "gt": 2 }, "severity": "HIGH", "summary": "{group}" } ] }
            """;

        var result = RuleFileParser.Parse(json);

        Assert.True(result.Ok, result.Message());
        Assert.Equal(2, result.Rules!.Rules[0].GroupBy.Count);
    }

    [Fact]
    public void Parse_ShippedDefaultFile_IsValid()
    {
        var path = Path.Combine(FindRoot(), "src", "Vigil.Server", "rules", "default.yaml");

        var result = RuleFileParser.ParseFile(path);

        Assert.True(result.Ok, result.Message());
        Assert.Contains(result.Rules!.Rules, r => r.Name == "BRUTE_FORCE_IP" && r.FollowedBy is not null);
        Assert.Contains(result.Rules.Rules, r => r.Name == "PASSWORD_SPRAY" && r.Kind == RuleKind.ValueCount);
        Assert.Contains(result.Rules.Rules, r => r.Kind == RuleKind.TemporalOrdered);
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Vigil.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("No Vigil.slnx above the test directory.");
    }
}
