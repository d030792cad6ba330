using Vigil.Core.Detection;

namespace Vigil.Core.Tests.Detection;

/// <summary>The struct ring kept inline in BRUTE_FORCE_IP's and PASSWORD_SPRAY's states: it behaves as
/// <see cref="EventRing"/> and shares its checkpoint layout both ways.</summary>
public sealed class InlineEventRingTests
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

    private static void AssertSame(EventRing expected, in InlineEventRing actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.LatestMs, actual.LatestMs);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void Add_DisorderedEventsAndDrops_SameAsEventRing(int capacity)
    {
        var random = new Random(capacity);
        var ring = new EventRing(capacity, 1);
        var inline = InlineEventRing.Empty;
        var latest = 0L;
        for (var n = 0; n < 2_000; n++)
        {
            var t = latest + random.Next(-300, 1_000);
            latest = Math.Max(latest, t);
            var entry = new RingEntry(t, $"e-{n}", random.Next(4) == 0 ? null : $"u-{random.Next(5)}", $"10.0.0.{random.Next(3)}");
            ring.Add(entry);
            inline.Add(entry, capacity);
            Assert.Equal(ring.FirstAfter(latest - 5_000), inline.FirstAfter(latest - 5_000));
            if (random.Next(6) == 0)
            {
                var through = latest - random.Next(0, 20_000);
                ring.DropThrough(through);
                inline.DropThrough(through);
            }
            AssertSame(ring, inline);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Add_OneThenALateOne_SameAsEventRing(int capacity)
    {
        var ring = new EventRing(capacity, 1);
        var inline = InlineEventRing.Empty;
        foreach (var entry in new[] { new RingEntry(100, "e-1", "u", null), new RingEntry(50, "e-0", null, "10.0.0.1") })
        {
            ring.Add(entry);
            inline.Add(entry, capacity);
            AssertSame(ring, inline);
        }
        ring.DropThrough(60);
        inline.DropThrough(60);
        AssertSame(ring, inline);
    }

    [Fact]
    public void Empty_NothingAdded_NoEntriesAndLatestBelowAnyTime()
    {
        var inline = InlineEventRing.Empty;
        inline.DropThrough(long.MaxValue);

        Assert.Equal(0, inline.Count);
        Assert.Equal(long.MinValue, inline.LatestMs);
        Assert.Equal(0, inline.FirstAfter(0));
        Assert.Equal(Bytes(new EventRing(8).Write), Bytes(inline.Write));
    }

    [Fact]
    public void Write_SameEntries_SameBytesAsEventRingBothWays()
    {
        var ring = new EventRing(64, 1);
        ring.Add(new RingEntry(1_000, "e-1", "u-1", "10.0.0.1"));
        ring.Add(new RingEntry(900, "e-0", null, null));
        ring.Add(new RingEntry(1_500, "e-2", "alice", "2001:db8::1"));
        ring.DropThrough(950);
        var ringBytes = Bytes(ring.Write);

        var inline = InlineEventRing.Read(Reader(ringBytes), 64);

        AssertSame(ring, inline);
        Assert.Equal(ringBytes, Bytes(inline.Write));
        AssertSame(EventRing.Read(Reader(Bytes(inline.Write)), 64), inline);
    }

    [Fact]
    public void Read_MoreThanTheCapacity_Refused()
    {
        var ring = new EventRing(8, 1);
        for (var i = 0; i < 5; i++)
        {
            ring.Add(new RingEntry(i, $"e-{i}", null, null));
        }

        Assert.Throws<InvalidDataException>(() => InlineEventRing.Read(Reader(Bytes(ring.Write)), 4));
    }

    [Fact]
    public void States_InlineInThePage_64And80Bytes()
    {
        Assert.Equal(56, System.Runtime.CompilerServices.Unsafe.SizeOf<InlineEventRing>());
        Assert.Equal(64, System.Runtime.CompilerServices.Unsafe.SizeOf<PasswordSprayState>());
        Assert.Equal(80, System.Runtime.CompilerServices.Unsafe.SizeOf<BruteForceIpState>());
    }

    [Fact]
    public void BruteForceIpState_WithRingAndAlert_RoundTripsByteForByte()
    {
        var state = BruteForceIpState.Initial;
        state.Failures.Add(new RingEntry(10, "e-1", "u-1", "10.0.0.9"), 64);
        state.Failures.Add(new RingEntry(20, "e-2", "u-2", "10.0.0.9"), 64);
        state.AlertId = "a-1";
        state.AlertTimeMs = 20;
        state.AlertFailures = 2;
        var bytes = Bytes(state.Write);

        var restored = BruteForceIpState.Read(Reader(bytes), 64);

        Assert.Equal(2, restored.Failures.Count);
        Assert.Equal("e-2", restored.Failures[1].EventId);
        Assert.Equal("a-1", restored.AlertId);
        Assert.Equal(bytes, Bytes(restored.Write));
    }

    [Fact]
    public void BruteForceState_EarlierLayout_ReadAndWrittenByteForByte()
    {
        // The layout of the class state with three arrays: count, (time, id, ip flag, ip) oldest first, the latest
        // failure time, then the open alert.
        var old = Bytes(w =>
        {
            w.Write(2);
            w.Write(100L);
            w.Write("e-1");
            w.Write(true);
            w.Write("10.0.0.1");
            w.Write(200L);
            w.Write("e-2");
            w.Write(false);
            w.Write(250L);
            w.Write(true);
            w.Write("a-1");
            w.Write(200L);
            w.Write(2);
        });
        var serializer = new BruteForceState.Serializer(64);

        var state = serializer.Read(Reader(old));

        Assert.Equal(250L, state.LatestFailureMs);
        Assert.Equal(2, state.Count(200, 1_000));
        Assert.Equal(1, state.Count(200, 100));
        var (ids, ips, firstMs) = state.InWindow(200, 1_000);
        Assert.Equal(["e-1", "e-2"], ids);
        Assert.Equal(["10.0.0.1"], ips);
        Assert.Equal(100L, firstMs);
        Assert.Equal("a-1", state.AlertId);
        Assert.Equal(old, Bytes(w => serializer.Write(w, state)));
        Assert.Equal(80, System.Runtime.CompilerServices.Unsafe.SizeOf<BruteForceState>());
    }

    [Fact]
    public void BruteForceState_PastCapacityThenLate_OldestDroppedLateSortedFirst()
    {
        var state = BruteForceState.Initial;
        for (var i = 0; i < 10; i++)
        {
            state.Add(i * 10, $"e-{i}", null, 4);
        }
        state.Add(5, "late", null, 4);

        Assert.Equal(90L, state.LatestFailureMs);
        var (ids, _, firstMs) = state.InWindow(90, 1_000);
        // The oldest (60) made room, and the late failure sorted in first, as the arrays did.
        Assert.Equal(["late", "e-7", "e-8", "e-9"], ids);
        Assert.Equal(4, state.Count(90, 1_000));
        Assert.Equal(5L, firstMs);
    }
}
