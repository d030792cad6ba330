using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Engine;

public sealed class KeyTableTests
{
    private static KeyedState<long> State(TimeSpan ttl, KeyTable keys)
    {
        var state = new KeyedState<long>(ttl, Int64StateSerializer.Instance);
        state.ShareKeys(keys);
        return state;
    }

    [Fact]
    public void ShareKeys_TwoStates_OneSlotPerKeyAndOwnValues()
    {
        var keys = new KeyTable();
        var a = State(TimeSpan.FromMinutes(1), keys);
        var b = State(TimeSpan.FromMinutes(1), keys);
        a.GetOrAdd("u-1", 0, out _) = 1;
        b.GetOrAdd("u-1", 0, out _) = 2;
        b.GetOrAdd("u-2", 0, out _) = 3;
        Assert.Equal(2, keys.Count);
        Assert.Equal(1, a.Count);
        Assert.True(a.TryGetValue("u-1", out var av));
        Assert.Equal(1, av);
        Assert.True(b.TryGetValue("u-1", out var bv));
        Assert.Equal(2, bv);
        Assert.False(a.ContainsKey("u-2"));
    }

    [Fact]
    public void Remove_OtherStateStillHoldsKey_SlotKeptUntilLastHolderLetsGo()
    {
        var keys = new KeyTable();
        var a = State(TimeSpan.FromMinutes(1), keys);
        var b = State(TimeSpan.FromMinutes(1), keys);
        a.GetOrAdd("u-1", 0, out _) = 1;
        b.GetOrAdd("u-1", 0, out _) = 2;
        Assert.True(a.Remove("u-1"));
        Assert.Equal(1, keys.Count);
        Assert.True(b.TryGetValue("u-1", out var bv));
        Assert.Equal(2, bv);
        Assert.True(b.Remove("u-1"));
        Assert.Equal(0, keys.Count);
        // A freed slot is reused by the next key, and the new key starts empty in both states.
        Assert.True(a.GetOrAdd(new string("u-9"), 5, out var created) == 0 && created);
        Assert.False(b.ContainsKey("u-9"));
    }

    [Fact]
    public void EvictExpired_DifferentTtlsOnSharedKeys_EachStateEvictsOnItsOwn()
    {
        var keys = new KeyTable();
        var shortLived = State(TimeSpan.FromSeconds(10), keys);
        var longLived = State(TimeSpan.FromHours(1), keys);
        shortLived.GetOrAdd("u-1", 0, out _) = 7;
        longLived.GetOrAdd("u-1", 0, out _) = 8;
        Assert.Equal(1, shortLived.EvictExpired(60_000));
        Assert.False(shortLived.ContainsKey("u-1"));
        Assert.True(longLived.TryGetValue("u-1", out var v));
        Assert.Equal(8, v);
        Assert.Equal(1, keys.Count);
        Assert.Equal(1, longLived.EvictExpired(10_000_000));
        Assert.Equal(0, keys.Count);
    }

    [Fact]
    public void EvictExpired_SlotReusedByAnotherKey_StaleBucketEntryDoesNotEvictIt()
    {
        var keys = new KeyTable();
        var s = State(TimeSpan.FromSeconds(16), keys);
        s.GetOrAdd("old", 0, out _);
        s.Remove("old");
        // "new" takes the freed slot, filed in a later bucket than the stale entry of "old".
        s.GetOrAdd("new", 15_000, out _);
        Assert.Equal(0, s.EvictExpired(20_000));
        Assert.True(s.ContainsKey("new"));
        Assert.Equal(1, s.EvictExpired(40_000));
    }

    [Fact]
    public void Read_SharedTable_RestoresEachStateAndSharesSlots()
    {
        var keys = new KeyTable();
        var a = State(TimeSpan.FromMinutes(1), keys);
        var b = State(TimeSpan.FromMinutes(1), keys);
        for (var i = 0; i < 50; i++)
        {
            a.GetOrAdd("k" + i, i, out _) = i;
            if (i % 2 == 0)
            {
                b.GetOrAdd("k" + i, i, out _) = -i;
            }
        }
        var (bytesA, bytesB) = (Write(a), Write(b));
        var restored = new KeyTable();
        var a2 = State(TimeSpan.FromMinutes(1), restored);
        var b2 = State(TimeSpan.FromMinutes(1), restored);
        Read(a2, bytesA);
        Read(b2, bytesB);
        Assert.Equal(50, restored.Count);
        Assert.Equal(bytesA, Write(a2));
        Assert.Equal(bytesB, Write(b2));
        Assert.True(b2.TryGetValue("k10", out var v));
        Assert.Equal(-10, v);
    }

    [Fact]
    public void ShareKeys_StateNotEmpty_Throws()
    {
        var s = new KeyedState<long>(TimeSpan.FromMinutes(1), Int64StateSerializer.Instance);
        s.GetOrAdd("u", 0, out _);
        Assert.Throws<InvalidOperationException>(() => s.ShareKeys(new KeyTable()));
    }

    [Fact]
    public void PartitionRuntime_UserKeyedRules_ShareOneKeyTableAndIpRulesHaveTheirOwn()
    {
        var clock = TimeProvider.System;
        var bruteForce = new BruteForceOperator(new BruteForceOptions(), clock);
        var rapid = new RapidActivityOperator(new RapidActivityOptions(), clock);
        var spray = new PasswordSprayOperator(new PasswordSprayOptions(), clock);
        var runtime = new PartitionRuntime<UserEvent, Alert>([bruteForce, rapid, spray]);
        Assert.Same(bruteForce.State.Keys, rapid.State.Keys);
        Assert.NotSame(bruteForce.State.Keys, spray.State.Keys);
        Assert.Same(runtime.KeyTables[KeySpaces.User], rapid.State.Keys);
        Assert.Same(runtime.KeyTables[KeySpaces.Ip], spray.State.Keys);
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

    private static void Read(KeyedState<long> s, byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        s.Read(r);
    }
}
