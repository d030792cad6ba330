using Vigil.Core.Geo;

namespace Vigil.Geo.Tests;

public sealed class GeoCacheTests
{
    private static GeoLocation At(uint n) => new($"c{n}", null, "ZZ", n, -n, null, 50, n, null, false);

    [Fact]
    public void TryGet_AfterAdd_ReturnsTheSameResult()
    {
        var cache = new GeoCache(64);
        cache.Add(IpKey.FromIPv4(7), found: true, At(7));
        cache.Add(IpKey.FromIPv4(8), found: false, default);

        Assert.True(cache.TryGet(IpKey.FromIPv4(7), out var seven));
        Assert.True(seven.Found);
        Assert.Equal(At(7), seven.Location);
        Assert.True(cache.TryGet(IpKey.FromIPv4(8), out var eight));
        Assert.False(eight.Found);
        Assert.False(cache.TryGet(IpKey.FromIPv4(9), out _));
    }

    [Fact]
    public void Constructor_RoundsCapacityUpToWholeSets()
    {
        Assert.Equal(4, new GeoCache(1).Capacity);
        Assert.Equal(1024, new GeoCache(1000).Capacity);
    }

    [Fact]
    public void Add_ManyMoreKeysThanCapacity_HoldsAtMostCapacity()
    {
        var cache = new GeoCache(256);
        for (uint i = 0; i < 100_000; i++)
        {
            cache.Add(IpKey.FromIPv4(i), found: true, At(i));
        }

        int held = 0;
        for (uint i = 0; i < 100_000; i++)
        {
            if (cache.TryGet(IpKey.FromIPv4(i), out var entry))
            {
                Assert.Equal(At(i), entry.Location);
                held++;
            }
        }

        Assert.InRange(held, 1, cache.Capacity);
    }

    [Fact]
    public void Add_ScanOfOneOffKeys_KeepsTheHotKeys()
    {
        var cache = new GeoCache(1024);
        var hot = new UInt128[32];
        for (int i = 0; i < hot.Length; i++)
        {
            hot[i] = IpKey.FromIPv4(0x0A00_0000u + (uint)i);
            cache.Add(hot[i], found: true, At((uint)i));
        }

        // Hot keys are hit between bursts of one-off keys; CLOCK gives them a second chance every time.
        for (uint burst = 0; burst < 200; burst++)
        {
            foreach (var key in hot)
            {
                Assert.True(cache.TryGet(key, out _));
            }

            for (uint k = 0; k < 16; k++)
            {
                cache.Add(IpKey.FromIPv4(0xC000_0000u + (burst * 16) + k), found: true, default);
            }
        }

        int kept = 0;
        foreach (var key in hot)
        {
            kept += cache.TryGet(key, out _) ? 1 : 0;
        }

        Assert.Equal(hot.Length, kept);
    }

    [Fact]
    public void TryGet_IPv4AndIPv6KeysWithEqualLowBits_AreDistinct()
    {
        var cache = new GeoCache(64);
        var v4 = IpKey.FromIPv4(0x01020304);
        var v6 = new UInt128(0x2001_0db8_0000_0000UL, (ulong)v4);
        cache.Add(v4, found: true, At(4));
        cache.Add(v6, found: true, At(6));

        Assert.True(cache.TryGet(v4, out var a));
        Assert.True(cache.TryGet(v6, out var b));
        Assert.Equal(At(4), a.Location);
        Assert.Equal(At(6), b.Location);
    }

    [Fact]
    public void TryGet_ConcurrentReadersAndWriters_NeverSeeAWrongResult()
    {
        var cache = new GeoCache(512);
        int wrong = 0;
        Parallel.For(0, 4, worker =>
        {
            var random = new Random(worker);
            for (int i = 0; i < 200_000; i++)
            {
                uint n = (uint)random.Next(4096);
                var key = IpKey.FromIPv4(n);
                if (cache.TryGet(key, out var entry))
                {
                    if (entry.Location != At(n))
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
                else
                {
                    cache.Add(key, found: true, At(n));
                }
            }
        });

        Assert.Equal(0, wrong);
    }
}
