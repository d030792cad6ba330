using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

public sealed class WatermarkTrackerTests
{
    private static WatermarkTracker Tracker(ManualTimeProvider clock, int inputs = 1, long latenessMs = 0, TimeSpan? idle = null, bool advanceAllIdle = false) =>
        new(new WatermarkOptions
        {
            OutOfOrderness = TimeSpan.FromSeconds(5),
            AllowedLateness = TimeSpan.FromMilliseconds(latenessMs),
            IdleTimeout = idle ?? Timeout.InfiniteTimeSpan,
            AdvanceWhenAllIdle = advanceAllIdle,
        }, clock, inputs);

    [Fact]
    public void OnEvent_OutOfOrderEvents_WatermarkIsMaxMinusBoundAndNeverGoesBack()
    {
        var t = Tracker(new ManualTimeProvider());
        Assert.Equal(long.MinValue, t.Watermark);
        var seen = new List<long>();
        foreach (var ts in new long[] { 10_000, 12_000, 9_000, 11_000, 20_000, 16_000 })
        {
            t.OnEvent(0, ts);
            seen.Add(t.Watermark);
        }
        Assert.Equal([5_000, 7_000, 7_000, 7_000, 15_000, 15_000], seen);
    }

    [Fact]
    public void OnEvent_TwoInputs_WatermarkIsMinimumOverInputs()
    {
        var t = Tracker(new ManualTimeProvider(), inputs: 2);
        t.OnEvent(0, 100_000);
        Assert.Equal(long.MinValue, t.Watermark);
        t.OnEvent(1, 50_000);
        Assert.Equal(45_000, t.Watermark);
        t.OnEvent(1, 200_000);
        Assert.Equal(95_000, t.Watermark);
        Assert.Equal(195_000, t.InputWatermark(1));
    }

    [Fact]
    public void Tick_InputQuietPastIdleTimeout_IsExcludedAndReactivatedByItsNextEvent()
    {
        var clock = new ManualTimeProvider();
        var t = Tracker(clock, inputs: 2, idle: TimeSpan.FromSeconds(30));
        t.OnEvent(0, 100_000);
        t.OnEvent(1, 10_000);
        t.Tick();
        Assert.Equal(5_000, t.Watermark);

        clock.Advance(TimeSpan.FromSeconds(20));
        t.OnEvent(0, 150_000);
        t.Tick();
        Assert.False(t.IsIdle(1));
        Assert.Equal(5_000, t.Watermark);

        clock.Advance(TimeSpan.FromSeconds(15));
        Assert.True(t.Tick());
        Assert.True(t.IsIdle(1));
        Assert.False(t.IsIdle(0));
        Assert.Equal(145_000, t.Watermark);
        Assert.Equal(1, t.ActiveInputs);

        // The quiet input wakes with old data: active again, its events late, the watermark holding its ground.
        Assert.Equal(EventTimeStatus.Late, t.OnEvent(1, 20_000));
        Assert.False(t.IsIdle(1));
        Assert.Equal(145_000, t.Watermark);
        t.OnEvent(0, 300_000);
        Assert.Equal(145_000, t.Watermark);
        t.OnEvent(1, 250_000);
        Assert.Equal(245_000, t.Watermark);
    }

    [Fact]
    public void Tick_AllInputsIdleWithAdvance_WatermarkFollowsTheClock()
    {
        var clock = new ManualTimeProvider();
        var t = Tracker(clock, idle: TimeSpan.FromSeconds(10), advanceAllIdle: true);
        t.OnEvent(0, 100_000);
        t.Tick();
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(t.Tick());
        Assert.Equal(100_000 - 5_000 + 10_000, t.Watermark);
        clock.Advance(TimeSpan.FromSeconds(5));
        t.Tick();
        Assert.Equal(110_000, t.Watermark);
    }

    [Fact]
    public void Tick_InfiniteIdleTimeout_NeverMarksIdle()
    {
        var clock = new ManualTimeProvider();
        var t = Tracker(clock, inputs: 2);
        t.OnEvent(0, 100_000);
        t.OnEvent(1, 10_000);
        clock.Advance(TimeSpan.FromDays(1));
        Assert.False(t.Tick());
        Assert.False(t.IsIdle(1));
        Assert.Equal(5_000, t.Watermark);
    }

    [Theory]
    [InlineData(0, 94_999, true)]
    [InlineData(0, 95_000, false)]
    [InlineData(2_000, 93_000, false)]
    [InlineData(2_000, 92_999, true)]
    public void OnEvent_OlderThanWatermarkMinusLateness_IsLateAndCounted(long latenessMs, long ts, bool late)
    {
        var t = Tracker(new ManualTimeProvider(), latenessMs: latenessMs);
        t.OnEvent(0, 100_000);
        var status = t.OnEvent(0, ts);
        Assert.Equal(late ? EventTimeStatus.Late : EventTimeStatus.OnTime, status);
        Assert.Equal(late ? 1 : 0, t.LateEvents);
        Assert.Equal(95_000, t.Watermark);
    }

    [Fact]
    public void Restore_Snapshot_SameWatermarkAndLateCount()
    {
        var t = Tracker(new ManualTimeProvider(), inputs: 2);
        t.OnEvent(0, 100_000);
        t.OnEvent(1, 90_000);
        t.OnEvent(1, 1);
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            t.Snapshot(w);
        }
        stream.Position = 0;
        var back = Tracker(new ManualTimeProvider(), inputs: 2);
        using var r = new BinaryReader(stream);
        back.Restore(r);
        Assert.Equal(t.Watermark, back.Watermark);
        Assert.Equal(1, back.LateEvents);
        Assert.Equal(95_000, back.InputWatermark(0));
    }
}
