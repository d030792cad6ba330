using Vigil.Core.Engine;
using Vigil.Core.Engine.Cep;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Engine.Cep;

/// <summary>The threat rule the engine exists for: at least five failed logins, then a success, within ten minutes.</summary>
public sealed class BruteForcePatternTests
{
    private const long Minute = 60_000;

    private static readonly CompiledPattern<UserEvent> Rule = Pattern<UserEvent>.Begin("fails")
        .Where(e => e.Type == EventType.LoginFailed).TimesOrMore(5)
        .FollowedBy("success").Where(e => e.Type == EventType.LoginSuccess)
        .Within(TimeSpan.FromMinutes(10))
        .Compile(new PatternOptions { SkipStrategy = AfterMatchSkip.SkipPastLastEvent });

    private static UserEvent Evt(string user, EventType type, long ts, int n) =>
        new() { EventId = $"{user}-{n}", Type = type, TimestampMs = ts, UserId = user };

    private static KeyedPatternOperator<UserEvent> Operator() => new(Rule, e => e.SubjectKey, e => e.TimestampMs);

    [Fact]
    public void FiveFailuresThenSuccess_OneMatchWithAllEvidence()
    {
        var op = Operator();
        var matches = new List<PatternMatch<UserEvent>>();
        for (var i = 0; i < 7; i++)
        {
            op.Process(Evt("mallory", EventType.LoginFailed, i * 1000, i), matches);
            op.Process(Evt("alice", EventType.PageView, i * 1000, i), matches);
        }
        op.Process(Evt("mallory", EventType.LoginSuccess, 9000, 99), matches);

        var m = Assert.Single(matches);
        Assert.Equal("mallory", m.Key);
        Assert.Equal(7, m.Events("fails").Count);
        Assert.Equal("mallory-99", Assert.Single(m.Events("success")).EventId);
        Assert.Equal(0, m.FirstTimestampMs);
        Assert.Equal(0, op.KeyCount);
    }

    [Fact]
    public void FourFailuresThenSuccess_NoMatch()
    {
        var op = Operator();
        var matches = new List<PatternMatch<UserEvent>>();
        for (var i = 0; i < 4; i++)
        {
            op.Process(Evt("u", EventType.LoginFailed, i * 1000, i), matches);
        }
        op.Process(Evt("u", EventType.LoginSuccess, 5000, 9), matches);
        Assert.Empty(matches);
    }

    [Fact]
    public void FailuresSpreadOverMoreThanTenMinutes_NoMatchAndTimeoutsReported()
    {
        var op = Operator();
        var matches = new List<PatternMatch<UserEvent>>();
        var timeouts = new List<TimedOutMatch<UserEvent>>();
        for (var i = 0; i < 5; i++)
        {
            op.Process(Evt("u", EventType.LoginFailed, i * 3 * Minute, i), matches, timeouts);
        }
        op.Process(Evt("u", EventType.LoginSuccess, 13 * Minute, 9), matches, timeouts);
        Assert.Empty(matches);
        Assert.NotEmpty(timeouts);
        op.AdvanceTime(60 * Minute, matches, timeouts);
        Assert.Equal(0, op.KeyCount);
        Assert.Equal(0, op.PartialMatchCount);
    }

    [Fact]
    public void TwoBursts_TwoMatches()
    {
        var op = Operator();
        var matches = new List<PatternMatch<UserEvent>>();
        var n = 0;
        for (var burst = 0; burst < 2; burst++)
        {
            var t0 = burst * 30 * Minute;
            for (var i = 0; i < 6; i++)
            {
                op.Process(Evt("u", EventType.LoginFailed, t0 + (i * 1000), n++), matches);
            }
            op.Process(Evt("u", EventType.LoginSuccess, t0 + 10_000, n++), matches);
        }
        Assert.Equal(2, matches.Count);
        Assert.All(matches, m => Assert.Equal(6, m.Events("fails").Count));
    }

    [Fact]
    public void Snapshot_WithUserEventSerializer_RestoresAndCompletes()
    {
        var op = Operator();
        var matches = new List<PatternMatch<UserEvent>>();
        for (var i = 0; i < 5; i++)
        {
            op.Process(Evt("u", EventType.LoginFailed, i * 1000, i), matches);
        }
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            op.Snapshot(writer, UserEventSerializer.Instance);
        }
        stream.Position = 0;
        var restored = Operator();
        using (var reader = new BinaryReader(stream))
        {
            restored.Restore(reader, UserEventSerializer.Instance);
        }
        Assert.Equal(op.PartialMatchCount, restored.PartialMatchCount);
        restored.Process(Evt("u", EventType.LoginSuccess, 6000, 9), matches);
        var m = Assert.Single(matches);
        Assert.Equal(["u-0", "u-1", "u-2", "u-3", "u-4"], m.Events("fails").Select(e => e.EventId));
    }
}
