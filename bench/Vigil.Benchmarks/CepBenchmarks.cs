using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Vigil.Core.Engine.Cep;
using Vigil.Core.Events;

namespace Vigil.Benchmarks;

/// <summary>
/// The brute-force pattern "≥ 5 LOGIN_FAILED then LOGIN_SUCCESS within 10 minutes", keyed by user, over pre-decoded
/// events: 100k users, mostly page views, searches and successful logins, with scattered failures and attack bursts.
/// One operation is one event (OperationsPerInvoke), so the mean is the cost per event and Allocated is bytes per
/// event. The operator lives across invocations (timestamps shifted each pass) so the figures are steady state.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcess))]
public class CepBenchmarks
{
    /// <summary>A short in-process job: the machine is shared, and one pass is a million events already.</summary>
    private sealed class ShortInProcess : ManualConfig
    {
        public ShortInProcess() => AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
            .WithStrategy(RunStrategy.Throughput).WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(8));
    }

    private const int EventCount = 1_000_000;
    private const int Users = 100_000;
    private const long Minute = 60_000;

    private UserEvent[] _events = [];
    private long _span;
    private long _offset;
    private KeyedPatternOperator<UserEvent> _arrival = null!;
    private KeyedPatternOperator<UserEvent> _eventTime = null!;
    private KeyedPatternOperator<UserEvent> _greedy = null!;
    private KeyedPatternOperator<UserEvent> _withTimeouts = null!;
    private readonly List<PatternMatch<UserEvent>> _matches = [];
    private readonly List<TimedOutMatch<UserEvent>> _timeouts = [];

    /// <summary>Matches found in the last pass, printed so a reader can see the workload is not trivial.</summary>
    public static long LastMatches { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var rnd = new Random(42);
        var users = new string[Users];
        for (var i = 0; i < Users; i++)
        {
            users[i] = $"user-{i:D6}";
        }
        var events = new List<UserEvent>(EventCount);
        var ts = 1_700_000_000_000L;
        var n = 0;
        while (events.Count < EventCount)
        {
            ts += rnd.Next(0, 8); // ~285 events/s on average: about an hour of traffic for 100k users
            if (rnd.Next(1000) < 3)
            {
                // An attack burst on one account: 5–12 failures 200 ms apart, then a success half the time.
                var victim = users[rnd.Next(Users)];
                var burst = rnd.Next(5, 13);
                for (var i = 0; i < burst && events.Count < EventCount; i++)
                {
                    events.Add(Evt(victim, EventType.LoginFailed, ts + (i * 200), n++));
                }
                if (rnd.Next(2) == 0 && events.Count < EventCount)
                {
                    events.Add(Evt(victim, EventType.LoginSuccess, ts + (burst * 200), n++));
                }
                continue;
            }
            var roll = rnd.Next(100);
            var type = roll switch
            {
                < 55 => EventType.PageView,
                < 75 => EventType.Search,
                < 92 => EventType.LoginSuccess,
                < 97 => EventType.LoginFailed,
                _ => EventType.Logout,
            };
            events.Add(Evt(users[rnd.Next(Users)], type, ts, n++));
        }
        _events = [.. events];
        // Burst events carry later timestamps than their neighbours: the stream is mildly disordered, as real input is.
        _span = (ts - _events[0].TimestampMs) + (60 * Minute);

        var rule = Pattern<UserEvent>.Begin("fails").Where(e => e.Type == EventType.LoginFailed).TimesOrMore(5)
            .FollowedBy("success").Where(e => e.Type == EventType.LoginSuccess)
            .Within(TimeSpan.FromMinutes(10));
        var options = new PatternOptions { SkipStrategy = AfterMatchSkip.SkipPastLastEvent, MaxPartialMatches = 1000 };
        var compiled = rule.Compile(options);
        _arrival = new KeyedPatternOperator<UserEvent>(compiled, e => e.SubjectKey, e => e.TimestampMs + _offset);
        _withTimeouts = new KeyedPatternOperator<UserEvent>(compiled, e => e.SubjectKey, e => e.TimestampMs + _offset);
        _eventTime = new KeyedPatternOperator<UserEvent>(compiled, e => e.SubjectKey, e => e.TimestampMs + _offset,
            new KeyedPatternOptions { Ordering = CepOrdering.EventTimeOrdered });
        var greedy = Pattern<UserEvent>.Begin("fails").Where(e => e.Type == EventType.LoginFailed).TimesOrMore(5).Greedy()
            .FollowedBy("success").Where(e => e.Type == EventType.LoginSuccess)
            .Within(TimeSpan.FromMinutes(10)).Compile(options);
        _greedy = new KeyedPatternOperator<UserEvent>(greedy, e => e.SubjectKey, e => e.TimestampMs + _offset);
    }

    /// <summary>The rule as deployed: matches only (FlinkCEP also builds timed-out matches only when asked).</summary>
    [Benchmark(OperationsPerInvoke = EventCount, Description = "keyed >=5 fails then success, arrival order")]
    public long ArrivalOrder() => Pass(_arrival, reportTimeouts: false);

    /// <summary>The same, with every expired partial match reported as a timed-out match.</summary>
    [Benchmark(OperationsPerInvoke = EventCount, Description = "same, timed-out partial matches reported")]
    public long ArrivalOrderWithTimeouts() => Pass(_withTimeouts, reportTimeouts: true);

    [Benchmark(OperationsPerInvoke = EventCount, Description = "same, greedy loop")]
    public long ArrivalOrderGreedy() => Pass(_greedy, reportTimeouts: false);

    [Benchmark(OperationsPerInvoke = EventCount, Description = "same, event-time ordered (5 s watermark bound)")]
    public long EventTimeOrdered() => Pass(_eventTime, reportTimeouts: false);

    private long Pass(KeyedPatternOperator<UserEvent> op, bool reportTimeouts)
    {
        var timeouts = reportTimeouts ? _timeouts : null;
        var events = _events;
        var found = 0L;
        var maxTs = long.MinValue;
        for (var i = 0; i < events.Length; i++)
        {
            var e = events[i];
            op.Process(e, _matches, timeouts);
            maxTs = Math.Max(maxTs, e.TimestampMs + _offset);
            if ((i & 1023) == 1023)
            {
                // A bounded-out-of-orderness watermark, as the engine would send.
                op.AdvanceTime(maxTs - 5_000, _matches, timeouts);
                found += _matches.Count;
                _matches.Clear();
                _timeouts.Clear();
            }
        }
        op.AdvanceTime(maxTs, _matches, timeouts);
        found += _matches.Count;
        _matches.Clear();
        _timeouts.Clear();
        _offset += _span;
        LastMatches = found;
        return found;
    }

    private static UserEvent Evt(string user, EventType type, long ts, int n) =>
        new() { EventId = $"e{n}", Type = type, TimestampMs = ts, UserId = user };
}
