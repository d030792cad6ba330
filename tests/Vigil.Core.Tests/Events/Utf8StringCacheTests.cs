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

    [Fact]
    public void Get_ValuesDifferingInOneByte_NeverConfusedAtAnyLength()
    {
        // Short values are compared as packed words in the entry: every byte of every length must count.
        var cache = new Utf8StringCache(4096);
        for (int length = 1; length <= Utf8StringCache.InlineBytes + 8; length++)
        {
            var bytes = new byte[length];
            bytes.AsSpan().Fill((byte)'a');
            Assert.Equal(new string('a', length), cache.Get(bytes));
            for (int at = 0; at < length; at++)
            {
                bytes[at] = (byte)'b';
                string expected = Encoding.ASCII.GetString(bytes);
                Assert.Equal(expected, cache.Get(bytes));
                Assert.Equal(expected, cache.Get(bytes));
                bytes[at] = (byte)'a';
            }

            Assert.Equal(new string('a', length), cache.Get(bytes));
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(40)]
    public async Task Get_ConcurrentReadersAndWriters_NeverReturnAnotherValue(int length)
    {
        // Three values of one length over one set of two entries: lookups hit often, and as often race with a writer
        // replacing the entry they read (inline-compared and string-compared lengths both).
        var cache = new Utf8StringCache(2);
        var values = new byte[3][];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Encoding.ASCII.GetBytes(new string((char)('a' + i), length));
        }

        var workers = new Task<int>[Math.Max(2, Environment.ProcessorCount)];
        for (int w = 0; w < workers.Length; w++)
        {
            int seed = w;
            workers[w] = Task.Run(() =>
            {
                var random = new Random(seed);
                int wrong = 0;
                for (int k = 0; k < 1_000_000; k++)
                {
                    int which = random.Next(values.Length);
                    string text = cache.Get(values[which]);
                    if (text.Length != length || text[0] != (char)('a' + which))
                    {
                        wrong++;
                    }
                }

                return wrong;
            });
        }

        int[] wrongs = await Task.WhenAll(workers);

        Assert.All(wrongs, wrong => Assert.Equal(0, wrong));
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

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Create_AnyNumberOfEntries_BehavesAsADictionaryInArrivalOrder(int count)
    {
        var items = new string[count * 2];
        for (int i = 0; i < count; i++)
        {
            items[i * 2] = $"k{count - i}";
            items[(i * 2) + 1] = $"v{i}";
        }

        var map = PropertyMap.Create(items);

        if (count == 0)
        {
            Assert.Null(map);
            return;
        }

        Assert.Equal(count, map!.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal($"v{i}", map[$"k{count - i}"]);
            Assert.True(map.ContainsKey($"k{count - i}"));
        }

        Assert.False(map.TryGetValue("k0", out _));
        Assert.False(map.ContainsKey("v0"));
        Assert.Equal(items.Where((_, i) => i % 2 == 0), map.Keys);
        Assert.Equal(items.Where((_, i) => i % 2 == 1), map.Values);
        Assert.Throws<ArgumentNullException>(() => map.TryGetValue(null!, out _));
    }
}
