using System.Runtime.CompilerServices;
using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

public sealed class KeyedStateTests
{
    private static KeyedState<long> State(TimeSpan ttl) => new(ttl, Int64StateSerializer.Instance);

    [Fact]
    public void GetOrAdd_StructState_UpdatedInPlace()
    {
        var s = State(TimeSpan.FromMinutes(1));
        ref var a = ref s.GetOrAdd("u-1", 1_000, out var created);
        Assert.True(created);
        a += 5;
        ref var again = ref s.GetOrAdd("u-1", 2_000, out created);
        Assert.False(created);
        again++;
        Assert.True(s.TryGetValue("u-1", out var value));
        Assert.Equal(6, value);
        Assert.True(Unsafe.IsNullRef(ref s.GetValueRefOrNullRef("u-2")));
    }

    [Fact]
    public void EvictExpired_KeysIdlePastTtl_DroppedWhileTouchedKeysStay()
    {
        var s = State(TimeSpan.FromSeconds(60));
        s.GetOrAdd("old", 0, out _);
        s.GetOrAdd("busy", 0, out _);
        s.GetOrAdd("busy", 50_000, out _);
        Assert.Equal(0, s.EvictExpired(60_000));
        var evicted = s.EvictExpired(70_000);
        Assert.Equal(1, evicted);
        Assert.False(s.ContainsKey("old"));
        Assert.True(s.ContainsKey("busy"));
        Assert.Equal(1, s.EvictExpired(200_000));
        Assert.Equal(0, s.Count);
        Assert.Equal(2, s.Evicted);
    }

    [Fact]
    public void EvictExpired_StreamOfNewKeys_KeyCountStaysBoundedByTtl()
    {
        var s = State(TimeSpan.FromSeconds(10));
        var max = 0;
        for (var i = 0; i < 100_000; i++)
        {
            // One new key per 10 ms of event time: a 10 s TTL holds about 1,000 of them.
            long ts = i * 10;
            s.GetOrAdd("k" + i, ts, out _);
            s.EvictExpired(ts - 5_000);
            max = Math.Max(max, s.Count);
        }
        Assert.InRange(max, 1_000, 1_700);
        Assert.True(s.Evicted > 98_000);
    }

    [Fact]
    public void ApproximateBytes_KeysAddedAndRemoved_TracksSize()
    {
        var s = State(Timeout.InfiniteTimeSpan);
        Assert.Equal(0, s.ApproximateBytes);
        for (var i = 0; i < 1000; i++)
        {
            s.GetOrAdd("user-" + i, i, out _);
        }
        var full = s.ApproximateBytes;
        // A long (8, no last access with an infinite TTL), the packed key (24) and its index cell (≈ 8).
        Assert.InRange(full / 1000, 32, 300);
        for (var i = 0; i < 1000; i++)
        {
            s.Remove("user-" + i);
        }
        Assert.Equal(0, s.ApproximateBytes);
    }

    [Fact]
    public void Read_WhatWriteWrote_SameKeysAndBytesAndTtlStillApplies()
    {
        var s = State(TimeSpan.FromSeconds(60));
        for (var i = 0; i < 100; i++)
        {
            s.GetOrAdd("k" + i, i * 1_000, out _) = i;
        }
        s.Remove("k3");
        var first = Write(s);
        var back = State(TimeSpan.FromSeconds(60));
        using (var r = new BinaryReader(new MemoryStream(first)))
        {
            back.Read(r);
        }
        Assert.Equal(first, Write(back));
        Assert.Equal(99, back.Count);
        Assert.True(back.TryGetValue("k42", out var v));
        Assert.Equal(42, v);
        back.EvictExpired(120_000);
        Assert.False(back.ContainsKey("k50"));
        Assert.True(back.ContainsKey("k70"));
    }

    private static byte[] Write(KeyedState<long> s)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            s.Write(w);
        }
        return stream.ToArray();
    }
}
