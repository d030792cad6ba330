using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

/// <summary>Eviction by sweeping the pages whose lowest bucket is due (no per-key bucket lists).</summary>
public sealed class KeyedStateSweepTests
{
    // 16 s TTL: one-second buckets; a key last accessed in bucket b goes once the watermark reaches (b + 1) s + 16 s.
    private static KeyedState<long> State() => new(TimeSpan.FromSeconds(16), Int64StateSerializer.Instance);

    private static long DueAt(long lastAccessMs) => ((Math.DivRem(lastAccessMs, 1_000).Quotient + 1) * 1_000) + 16_000;

    [Fact]
    public void EvictExpired_KeysOnManyPages_EachGoesAtTheFirstWatermarkPastItsBucket()
    {
        var rng = new Random(3);
        var state = State();
        var last = new Dictionary<string, long>();
        long time = 0;
        for (var step = 0; step < 30_000; step++)
        {
            // 5,000 keys: five pages of slots, each page with keys of many ages.
            time += rng.Next(0, 12);
            var key = $"k{rng.Next(5_000)}";
            state.GetOrAdd(key, time, out _);
            last[key] = time;
            if (step % 97 == 0)
            {
                var watermark = time - rng.Next(0, 2_000);
                var expected = 0;
                foreach (var (k, t) in last)
                {
                    if (DueAt(t) <= watermark)
                    {
                        expected++;
                        last.Remove(k);
                    }
                }
                Assert.Equal(expected, state.EvictExpired(watermark));
                Assert.Equal(last.Count, state.Count);
            }
        }
        Assert.True(state.Evicted > 1_000);
        foreach (var k in last.Keys)
        {
            Assert.True(state.ContainsKey(k));
        }
    }

    [Fact]
    public void EvictExpired_OneMillisecondBeforeDue_KeepsTheKey()
    {
        var state = State();
        state.GetOrAdd("a", 1_500, out _);
        state.GetOrAdd("b", 2_000, out _);
        Assert.Equal(0, state.EvictExpired(DueAt(1_500) - 1));
        Assert.Equal(1, state.EvictExpired(DueAt(1_500)));
        Assert.False(state.ContainsKey("a"));
        Assert.Equal(0, state.EvictExpired(DueAt(2_000) - 1));
        Assert.Equal(1, state.EvictExpired(DueAt(2_000)));
        Assert.Equal(0, state.Count);
    }

    [Fact]
    public void EvictExpired_OldTimeAddedAfterItsBucketWasSwept_GoesWithTheNextBucket()
    {
        var state = State();
        state.GetOrAdd("early", 0, out _);
        Assert.Equal(1, state.EvictExpired(20_000));

        // Bucket 3 (due at 20 s) has been swept; a key last seen then is due with bucket 4, at 21 s, not at once.
        state.GetOrAdd("late", 3_000, out _);
        Assert.Equal(0, state.EvictExpired(20_000));
        Assert.Equal(0, state.EvictExpired(20_999));
        Assert.Equal(1, state.EvictExpired(21_000));
        Assert.Equal(0, state.Count);
    }

    [Fact]
    public void EvictExpired_PageWithOneOldKeyAmongFreshOnes_DropsOnlyTheOldAndKeepsSweepingOnTime()
    {
        var state = State();
        state.GetOrAdd("old", 0, out _);
        for (var i = 0; i < 2_000; i++)
        {
            state.GetOrAdd($"fresh{i}", 10_000 + i, out _);
        }
        Assert.Equal(1, state.EvictExpired(DueAt(0)));
        Assert.Equal(2_000, state.Count);

        // The page's bound is now the freshest keys' lowest bucket (10 s): nothing more goes before 27 s.
        Assert.Equal(0, state.EvictExpired(DueAt(10_000) - 1));
        Assert.Equal(1_000, state.EvictExpired(DueAt(10_999)));
        Assert.Equal(1_000, state.EvictExpired(DueAt(11_999)));
        Assert.Equal(0, state.Count);
    }

    [Fact]
    public void EvictExpired_KeyTouchedLater_NotEvictedWithItsFirstBucket()
    {
        var state = State();
        state.GetOrAdd("k", 0, out _);
        state.GetOrAdd("k", 5_000, out _);
        Assert.Equal(0, state.EvictExpired(DueAt(0)));
        Assert.True(state.ContainsKey("k"));
        Assert.Equal(0, state.EvictExpired(DueAt(5_000) - 1));
        Assert.Equal(1, state.EvictExpired(DueAt(5_000)));
    }

    [Fact]
    public void EvictExpired_AccessesFarAheadAndBehindTheBase_EvictedExactlyAndRestoredTheSame()
    {
        // Byte offsets hold 254 one-second buckets from a page's base; these times go up to 20 minutes ahead of the
        // watermark and, before the first sweep, a minute and a half behind the first key: both kept beside the page, exactly.
        var rng = new Random(11);
        var state = State();
        var last = new Dictionary<string, long>();
        var time = 100_000L;
        void Touch(string key, long at)
        {
            state.GetOrAdd(key, at, out _);
            last[key] = last.TryGetValue(key, out var before) ? Math.Max(before, at) : at;
        }
        Touch("first", time);
        Touch("behind", time - 90_000);
        for (var step = 0; step < 20_000; step++)
        {
            time += rng.Next(0, 20);
            var ahead = rng.Next(10) == 0 ? rng.Next(0, 1_200_000) : 0;
            Touch($"k{rng.Next(3_000)}", time + ahead);
            if (step == 10_000)
            {
                state = RoundTrip(state);
            }
            if (step % 101 == 0)
            {
                var expected = 0;
                foreach (var (k, t) in last)
                {
                    if (DueAt(t) <= time)
                    {
                        expected++;
                        last.Remove(k);
                    }
                }
                Assert.Equal(expected, state.EvictExpired(time));
                Assert.Equal(last.Count, state.Count);
            }
        }
        Assert.True(state.Evicted > 1_000);
        foreach (var k in last.Keys)
        {
            Assert.True(state.ContainsKey(k));
        }
        Assert.Equal(last.Count, state.EvictExpired(DueAt(time + 1_200_000)));
        Assert.Equal(0, state.Count);
        Assert.Equal(0, state.ApproximateBytes);
    }

    private static KeyedState<long> RoundTrip(KeyedState<long> state)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            state.Write(writer);
        }
        stream.Position = 0;
        var restored = State();
        restored.Read(new BinaryReader(stream));
        return restored;
    }
}
