using Vigil.Core.Detection;

namespace Vigil.Core.Tests.Detection;

/// <summary>RAPID_ACTIVITY's window kept inside its state (no ring object): it behaves as the <see cref="EventRing"/> it
/// replaces, and reads the checkpoints that ring wrote.</summary>
public sealed class RapidWindowTests
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

    private static void AssertSame(EventRing ring, in RapidActivityState state)
    {
        Assert.Equal(ring.Count, state.WindowCount);
        for (var i = 0; i < ring.Count; i++)
        {
            Assert.Equal(ring[i].TimeMs, state.WindowEntry(i).TimeMs);
            Assert.Equal(ring[i].EventId, state.WindowEntry(i).EventId);
            Assert.Equal(ring[i].Ip, state.WindowEntry(i).Ip);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(121)]
    public void AddToWindow_DisorderedEventsAndDrops_SameEntriesAsEventRing(int capacity)
    {
        var random = new Random(capacity);
        var ring = new EventRing(capacity, RapidActivityState.InitialWindow);
        var state = RapidActivityState.Initial;
        state.OpenWindow();
        var latest = 0L;
        for (var n = 0; n < 2_000; n++)
        {
            // Mostly in order, some late, and now and then a drop of the oldest part of the window.
            var t = latest + random.Next(-300, 1_000);
            latest = Math.Max(latest, t);
            var ip = random.Next(3) == 0 ? null : $"10.0.0.{random.Next(4)}";
            ring.Add(new RingEntry(t, $"e-{n}", null, ip));
            state.AddToWindow(t, $"e-{n}", ip, capacity);
            if (random.Next(7) == 0)
            {
                var through = latest - random.Next(0, 20_000);
                ring.DropThrough(through);
                state.DropThrough(through);
            }
            AssertSame(ring, state);
        }
        Assert.True(state.HoldsWindow);
    }

    [Fact]
    public void DropThrough_EveryEventPassed_WindowStaysOpenAndEmpty()
    {
        var state = RapidActivityState.Initial;
        state.OpenWindow();
        state.AddToWindow(10, "a", "10.0.0.1", 121);
        state.AddToWindow(20, "b", null, 121);

        state.DropThrough(20);

        Assert.True(state.HoldsWindow);
        Assert.Equal(0, state.WindowCount);
        state.AddToWindow(30, "c", null, 121);
        Assert.Equal("c", state.WindowEntry(0).EventId);
        state.CloseWindow();
        Assert.False(state.HoldsWindow);
        Assert.Equal(0, state.WindowCount);
    }

    [Fact]
    public void Read_WindowWrittenAsAnEventRing_SameWindowAndBaseline()
    {
        // The layout before the window moved into the state: a flag, the ring as EventRing.Write lays it out, then the
        // baseline fields.
        var ring = new EventRing(121, 4);
        ring.Add(new RingEntry(1_000, "e-1", null, "10.0.0.1"));
        ring.Add(new RingEntry(900, "e-0", null, null));
        ring.Add(new RingEntry(1_500, "e-2", null, "2001:db8::1"));
        var old = Bytes(w =>
        {
            w.Write(true);
            ring.Write(w);
            w.Write(1_500L);
            w.Write(0L);
            w.Write(3);
            w.Write(2.5);
            w.Write(11);
            w.Write(true);
        });

        var restored = RapidActivityState.Read(Reader(old), 121);

        AssertSame(ring, restored);
        Assert.Equal(1_500L, restored.LatestMs);
        Assert.Equal(3, restored.MinuteCount);
        Assert.Equal(2.5, restored.Baseline);
        Assert.Equal(11, restored.MinutesSeen);
        Assert.True(restored.Above);
        // Written again, it reads back the same, and the same bytes come out.
        var bytes = Bytes(restored.Write);
        var again = RapidActivityState.Read(Reader(bytes), 121);
        AssertSame(ring, again);
        Assert.Equal(bytes, Bytes(again.Write));
    }

    [Fact]
    public void Read_WindowAboveCapacity_Refused()
    {
        var state = RapidActivityState.Initial;
        state.OpenWindow();
        for (var i = 0; i < 6; i++)
        {
            state.AddToWindow(i, $"e-{i}", null, 10);
        }
        var bytes = Bytes(state.Write);

        Assert.Throws<InvalidDataException>(() => RapidActivityState.Read(Reader(bytes), 5));
    }

    [Fact]
    public void Constructor_AbsoluteLimitBeyondTheWindowIndex_Refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new RapidActivityOperator(new RapidActivityOptions { AbsoluteLimit = RapidActivityState.MaxWindowCapacity }, TimeProvider.System));
    }
}
