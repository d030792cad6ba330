using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Detection;

/// <summary>The rule states kept as structs inline in the keyed-state pages: each behaves as the list it replaces,
/// survives a checkpoint byte for byte, and a rule restarted from checkpoints alerts exactly as one that ran through.</summary>
public sealed class CompactRuleStateTests
{
    private static byte[] Bytes(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            write(writer);
        }
        return stream.ToArray();
    }

    private static BinaryReader Reader(byte[] bytes) => new(new MemoryStream(bytes));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(16)]
    public void AccountTakeoverRemember_RandomSequence_BehavesAsAMostRecentList(int max)
    {
        var rng = new Random(max);
        var state = default(AccountTakeoverState);
        var ips = new List<ulong>();
        var countries = new List<ushort>();
        string[] names = ["FR", "US", "JP", "DE", "BR", "NZ"];
        for (var i = 0; i < 400; i++)
        {
            var ip = (ulong)rng.Next(6) * 0x9E3779B97F4A7C15UL;
            state.RememberIp(ip, max);
            Remember(ips, ip, max);
            var country = CountryCodes.Pack(names[rng.Next(names.Length)]);
            state.RememberCountry(country, max);
            Remember(countries, country, max);

            Assert.Equal(ips.Count, state.KnownIpCount);
            Assert.Equal(countries.Count, state.KnownCountryCount);
            for (var v = 0; v < 6; v++)
            {
                Assert.Equal(ips.Contains((ulong)v * 0x9E3779B97F4A7C15UL), state.KnowsIp((ulong)v * 0x9E3779B97F4A7C15UL));
                Assert.Equal(countries.Contains(CountryCodes.Pack(names[v])), state.KnowsCountry(CountryCodes.Pack(names[v])));
            }
        }
        // The checkpoint lists them least recent first, as the arrays did.
        using var reader = Reader(Bytes(state.Write));
        Assert.Equal(ips.Count, reader.ReadInt32());
        foreach (var ip in ips)
        {
            Assert.Equal(ip, reader.ReadUInt64());
        }
        Assert.Equal(countries.Count, reader.ReadInt32());
        foreach (var country in countries)
        {
            Assert.Equal(CountryCodes.Unpack(country), reader.ReadString());
        }
    }

    private static void Remember<T>(List<T> list, T value, int max)
    {
        list.Remove(value);
        list.Add(value);
        if (list.Count > max)
        {
            list.RemoveAt(0);
        }
    }

    [Fact]
    public void AccountTakeoverState_WithFailuresAndPending_RoundTripsThroughACheckpoint()
    {
        var state = default(AccountTakeoverState);
        state.RememberIp(11, 16);
        state.RememberCountry(CountryCodes.Pack("FR"), 16);
        state.AddFailure(new RingEntry(1_000, "e-1", null, "203.0.113.7"), 32, 1_800_000);
        state.AddFailure(new RingEntry(2_000, "e-2", null, "203.0.113.7"), 32, 1_800_000);
        state.Pending = new PendingTakeover(3_000, "e-3", "203.0.113.7", "s-1", "JP", true, true, 1, ["e-1", "e-2"], false, null);
        var bytes = Bytes(state.Write);

        var restored = AccountTakeoverState.Read(Reader(bytes), 16);

        Assert.Equal(bytes, Bytes(restored.Write));
        Assert.True(restored.HasFailures);
        Assert.Equal(2, restored.Failures.Count);
        Assert.Equal("e-2", restored.Failures[1].EventId);
        Assert.Equal("e-3", restored.Pending!.SuccessEventId);
        Assert.True(restored.KnowsIp(11));
        Assert.True(restored.KnowsCountry(CountryCodes.Pack("FR")));
    }

    [Fact]
    public void AccountTakeoverState_FailuresWrittenAsAnEventRing_ReadAndWrittenByteForByte()
    {
        // The layout from when the failures were an EventRing object: the same bytes must come back.
        var ring = new EventRing(32, 1);
        ring.Add(new RingEntry(1_000, "e-1", null, "203.0.113.7"));
        ring.Add(new RingEntry(2_000, "e-2", null, null));
        ring.DropThrough(1_500);
        var bytes = Bytes(w =>
        {
            w.Write(0);
            w.Write(0);
            w.Write(true);
            ring.Write(w);
            w.Write(false);
        });

        var restored = AccountTakeoverState.Read(Reader(bytes), 16);

        Assert.True(restored.HasFailures);
        Assert.Equal(1, restored.Failures.Count);
        Assert.Equal(2_000, restored.Failures.LatestMs);
        Assert.Equal(bytes, Bytes(restored.Write));
    }

    [Fact]
    public void AccountTakeoverState_FailuresOutsideTheWindow_DroppedAsTheyCome()
    {
        var state = default(AccountTakeoverState);
        state.AddFailure(new RingEntry(0, "e-0", null, null), 32, 1_000);
        state.AddFailure(new RingEntry(500, "e-1", null, null), 32, 1_000);
        state.AddFailure(new RingEntry(1_200, "e-2", null, null), 32, 1_000);

        Assert.Equal(2, state.Failures.Count);
        Assert.Equal("e-1", state.Failures[0].EventId);
    }

    [Fact]
    public void AccountTakeoverState_FailuresAndPendingCleared_IsWrittenAsAStateThatNeverHadThem()
    {
        var state = default(AccountTakeoverState);
        state.RememberIp(11, 16);
        var plain = Bytes(state.Write);
        state.AddFailure(new RingEntry(1_000, "e-1", null, null), 32, 1_800_000);
        state.Pending = new PendingTakeover(3_000, "e-3", null, null, null, true, false, 1, [], false, null);

        state.ClearFailures();
        state.Pending = null;

        Assert.Equal(plain, Bytes(state.Write));
        Assert.False(state.HasFailures);
        Assert.Equal(0, state.Failures.Count);
        Assert.Null(state.Pending);
    }

    [Fact]
    public void GeoLoginAdd_RandomOutOfOrderLogins_KeepsTheLatestFourInTimeOrderAndDropsOldIds()
    {
        var rng = new Random(3);
        var state = default(GeoLoginState);
        var model = new List<(long Time, string? Id, ushort Country)>();
        string[] names = ["FR", "US", "JP"];
        for (var i = 0; i < 300; i++)
        {
            var time = (i * 1_000L) + rng.Next(-5_000, 5_000);
            var country = CountryCodes.Pack(names[rng.Next(names.Length)]);
            var id = rng.Next(4) == 0 ? $"login {i}" : $"e-{i}";
            var idsNeededAfter = (i * 1_000L) - rng.Next(0, 8_000);
            var login = new PackedLogin(time, CompactId.From(id), CompactIp.From($"10.0.0.{i % 256}"));

            var (before, after) = state.Neighbours(time);
            var expectedBefore = model.FindLast(m => m.Time <= time);
            var expectedAfter = model.Find(m => m.Time > time);
            Assert.Equal(expectedBefore == default ? null : expectedBefore.Time, before?.TimeMs);
            Assert.Equal(expectedAfter == default ? null : expectedAfter.Time, after?.TimeMs);

            state.Add(login, country, 16, idsNeededAfter);
            var pos = model.Count;
            while (pos > 0 && model[pos - 1].Time > time)
            {
                pos--;
            }
            model.Insert(pos, (time, id, country));
            if (model.Count > 4)
            {
                model.RemoveAt(0);
            }
            for (var k = 0; k < model.Count; k++)
            {
                if (model[k].Time <= idsNeededAfter)
                {
                    model[k] = model[k] with { Id = null };
                }
            }

            Assert.Equal(i + 1, state.Logins);
            Assert.Equal(model.Count, state.RecentCount);
            for (var k = 0; k < model.Count; k++)
            {
                Assert.Equal(model[k].Time, state.Recent(k).TimeMs);
                Assert.Equal(model[k].Id, state.Recent(k).EventId.ToString());
            }
        }
        Assert.Equal(3, state.CountryCount);
    }

    [Fact]
    public void GeoLoginState_OneLoginAndSeveral_RoundTripThroughACheckpoint()
    {
        var state = default(GeoLoginState);
        state.Add(new PackedLogin(1_000, CompactId.From("e-1"), CompactIp.From("198.51.100.1")), CountryCodes.Pack("FR"), 16);
        var one = Bytes(state.Write);
        Assert.Equal(one, Bytes(GeoLoginState.Read(Reader(one), 16).Write));

        state.Add(new PackedLogin(2_000, CompactId.From("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), CompactIp.From("2001:db8::1")),
            CountryCodes.Pack("US"), 16);
        state.Add(new PackedLogin(1_500, default, CompactIp.From("198.51.100.1")), CountryCodes.Pack("FR"), 16);
        var several = Bytes(state.Write);
        var restored = GeoLoginState.Read(Reader(several), 16);

        Assert.Equal(several, Bytes(restored.Write));
        Assert.Equal(3, restored.RecentCount);
        Assert.Equal("2001:db8::1", restored.Recent(2).Ip.ToString());
        Assert.Equal(new List<string> { "US", "FR" }, restored.CountryNames());
    }

    [Theory]
    [InlineData("198.51.100.1")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("10.0.0.01")]
    [InlineData("2001:db8::1")]
    public void CompactIpAsSpan_AnyAddress_GivesTheSameCharactersWithoutAString(string ip)
    {
        Span<char> scratch = stackalloc char[16];

        Assert.Equal(ip, CompactIp.From(ip).AsSpan(scratch).ToString());
        Assert.True(CompactIp.From(null).AsSpan(scratch).IsEmpty);
    }

    [Fact]
    public void RapidActivityState_Initial_StartsBelowAnyTimeAndRoundTrips()
    {
        var state = RapidActivityState.Initial;
        var bytes = Bytes(state.Write);

        var restored = RapidActivityState.Read(Reader(bytes), 121);

        Assert.Equal(long.MinValue, restored.LatestMs);
        Assert.Equal(long.MinValue, restored.Minute);
        Assert.False(restored.HoldsWindow);
        Assert.Equal(bytes, Bytes(restored.Write));
    }

    [Theory]
    [InlineData(0L, 0L)]
    [InlineData(59_999L, 0L)]
    [InlineData(60_000L, 1L)]
    [InlineData(1_700_000_123_456L, 28_333_335L)]
    [InlineData(-1L, -1L)]
    [InlineData(-60_000L, -1L)]
    [InlineData(-60_001L, -2L)]
    public void RapidActivityState_Minute_IsTheLatestEventsAndRoundTripsIn40Bytes(long latestMs, long minute)
    {
        var state = RapidActivityState.Initial;
        state.LatestMs = latestMs;
        state.MinuteCount = 3;

        var restored = RapidActivityState.Read(Reader(Bytes(state.Write)), 121);

        Assert.Equal(minute, state.Minute);
        Assert.Equal(minute, restored.Minute);
        Assert.Equal(3, restored.MinuteCount);
        Assert.Equal(40, System.Runtime.CompilerServices.Unsafe.SizeOf<RapidActivityState>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnWatermark_ManyUsersIdle_EveryRingLetGoByTheSlotQueue(bool restartBetween)
    {
        var rule = new RapidActivityOperator(new RapidActivityOptions(), RuleDriver.Clock);
        var d = new RuleDriver(() => rule);
        // 3,000 users, one page view each, then (after an optional restart) a second round for a third of them, whose
        // rings must survive the first release.
        d.Feed(Enumerable.Range(0, 3_000).Select(u => d.Event(EventType.PageView, u * 0.01, user: $"u-{u}")));
        if (restartBetween)
        {
            rule = new RapidActivityOperator(new RapidActivityOptions(), RuleDriver.Clock);
            d.Restart();
        }
        d.Feed(Enumerable.Range(0, 1_000).Select(u => d.Event(EventType.PageView, 700 + (u * 0.01), user: $"u-{u * 3}")));

        var holding = 0;
        rule.State.ForEach(0, (_, _, in state) => holding += state.HoldsWindow ? 1 : 0);
        Assert.Equal(1_000, holding);
        Assert.Equal(3_000, rule.State.Count);

        d.Feed(d.Event(EventType.PageView, 2_000, user: "u-clock"));
        holding = 0;
        rule.State.ForEach(0, (_, _, in state) => holding += state.HoldsWindow ? 1 : 0);
        // Only the clock user's own ring is left; every user is still held (the baseline lives on).
        Assert.Equal(1, holding);
        Assert.Equal(3_001, rule.State.Count);
    }

    public static TheoryData<string> Rules => ["ACCOUNT_TAKEOVER", "GEO_LOGIN", "RAPID_ACTIVITY"];

    [Theory]
    [MemberData(nameof(Rules))]
    public void Restart_EverySeventhEvent_SameAlertsAsOneRun(string rule)
    {
        Func<Vigil.Core.Engine.IOperator<UserEvent, Alert>> factory = rule switch
        {
            "ACCOUNT_TAKEOVER" => () => new AccountTakeoverOperator(new AccountTakeoverOptions(), FakeGeo.World(), RuleDriver.Clock),
            "GEO_LOGIN" => () => new GeoLoginOperator(new GeoLoginOptions(), FakeGeo.World(), RuleDriver.Clock),
            _ => () => new RapidActivityOperator(new RapidActivityOptions { AbsoluteLimit = 20 }, RuleDriver.Clock),
        };
        var once = new RuleDriver(factory);
        var restarted = new RuleDriver(factory);
        var events = Stream(once, rule == "RAPID_ACTIVITY");
        var copies = Stream(restarted, rule == "RAPID_ACTIVITY");

        once.Feed(events);
        for (var i = 0; i < copies.Count; i += 7)
        {
            restarted.Feed(copies.Skip(i).Take(7));
            restarted.Restart();
        }

        Assert.NotEmpty(once.Alerts);
        Assert.Equal(RuleDriver.Describe(once.Alerts), RuleDriver.Describe(restarted.Alerts));
    }

    /// <summary>Five users over a few hours: failures, logins from the fake world's places, changes and bursts.</summary>
    private static List<UserEvent> Stream(RuleDriver d, bool bursts)
    {
        var rng = new Random(11);
        string[] ips = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "203.0.113.50", "192.0.2.80", "203.0.113.90"];
        EventType[] types = [EventType.LoginFailed, EventType.LoginFailed, EventType.LoginSuccess, EventType.LoginSuccess,
            EventType.EmailChanged, EventType.PasswordChanged, EventType.PageView, EventType.PasswordResetRequested];
        var events = new List<UserEvent>();
        var t = 0.0;
        for (var i = 0; i < 600; i++)
        {
            var burst = bursts && i % 100 < 40;
            t += burst ? 0.5 : rng.Next(1, 120);
            var user = burst ? "u-0" : $"u-{rng.Next(5)}";
            var type = bursts ? EventType.PageView : types[rng.Next(types.Length)];
            events.Add(d.Event(type, t, user: user, ip: ips[rng.Next(ips.Length)], session: $"s-{user}-{rng.Next(2)}"));
        }
        return events;
    }
}
