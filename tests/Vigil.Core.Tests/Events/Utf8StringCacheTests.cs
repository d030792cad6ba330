using System.Text;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Events;

public sealed class Utf8StringCacheTests
{
    [Fact]
    public void Get_ManyDistinctValues_ReturnsEachTextAndKeepsItsSize()
    {
        var cache = new Utf8StringCache(64);
        var random = new Random(3);
        for (int i = 0; i < 50_000; i++)
        {
            string text = $"id-{random.NextInt64():x}";
            Assert.Equal(text, cache.Get(Encoding.ASCII.GetBytes(text)));
        }

        Assert.Equal(64, cache.Size);
    }

    [Fact]
    public void Get_RecurringValue_ReturnsTheCachedInstance()
    {
        var cache = new Utf8StringCache(1000);
        var first = cache.Get("Mozilla/5.0 (X11; Linux x86_64)"u8);

        Assert.Same(first, cache.Get("Mozilla/5.0 (X11; Linux x86_64)"u8));
        Assert.Equal(1024, cache.Size);
    }

    [Fact]
    public void Get_NonAscii_DecodedButNotCached()
    {
        var cache = new Utf8StringCache(16);
        var bytes = Encoding.UTF8.GetBytes("café");

        var first = cache.Get(bytes);

        Assert.Equal("café", first);
        Assert.NotSame(first, cache.Get(bytes));
    }

    [Fact]
    public void Get_SameLengthNeighbours_NeverConfused()
    {
        var cache = new Utf8StringCache(2);
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 100; i++)
            {
                string text = $"u-{i:D6}";
                Assert.Equal(text, cache.Get(Encoding.ASCII.GetBytes(text)));
            }
        }
    }
}

public sealed class PropertyMapTests
{
    [Fact]
    public void PropertyMap_Lookups_BehaveAsADictionaryInArrivalOrder()
    {
        var map = PropertyMap.Create(["b", "2", "a", "1"])!;

        Assert.Equal(2, map.Count);
        Assert.Equal("1", map["a"]);
        Assert.True(map.ContainsKey("b"));
        Assert.False(map.TryGetValue("c", out _));
        Assert.Equal(["b", "a"], map.Keys);
        Assert.Equal(["2", "1"], map.Values);
        Assert.Equal([new("b", "2"), new KeyValuePair<string, string>("a", "1")], map);
        Assert.Throws<KeyNotFoundException>(() => map["c"]);
    }
}
