using Vigil.Core.Detection;
using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

/// <summary>The key table keeps keys packed behind an open-addressing index: every form of key is found, given back
/// exactly, freed and checkpointed as a dictionary of strings would.</summary>
public sealed class KeyTablePackingTests
{
    // Every form: six-bit packed, the longest packed, too long, other characters, UUIDs (canonical or not; the RFC 4122
    // variant with the last byte's top bit set or clear, and variants the table keeps as text), IPv4 (canonical or
    // not), the empty string.
    private static readonly string[] Forms =
    [
        "u-004705", "e-797f54cc048cf653", "abcdefghijABCDEFGHIJ", "abcdefghijABCDEFGHIJK", "alice@example.com", "évé",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "3F2504E0-4F89-41D3-9A0C-0305E82C3301", "81.0.3.7", "255.255.255.255",
        "0.0.0.0", "010.0.0.1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "2001:db8::1", "",
        "ffffffff-ffff-4fff-bfff-ffffffffffff", "3f2504e0-4f89-41d3-7a0c-0305e82c3301", "00000000-0000-0000-0000-000000000000",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3380",
    ];

    [Fact]
    public void TableKey_EveryForm_SixteenBytesAndBackToTheSamePackedKey()
    {
        Assert.Equal(16, System.Runtime.CompilerServices.Unsafe.SizeOf<TableKey>());
        foreach (var key in Forms)
        {
            var table = TableKey.From(key, out var text);
            Assert.False(table.IsNone);
            Assert.Equal(text is not null, table.IsText);
            Assert.Equal(key, table.ToPacked(text).ToString());
            if (!table.IsText)
            {
                Assert.True(PackedKey.From(key).Equals(table.ToPacked(text)), key);
            }
        }
        // Of the UUIDs, only those outside the RFC 4122 variants are kept as text in the table.
        Assert.False(TableKey.From("3f2504e0-4f89-41d3-9a0c-0305e82c3301", out _).IsText);
        Assert.False(TableKey.From("ffffffff-ffff-4fff-bfff-ffffffffffff", out _).IsText);
        Assert.True(TableKey.From("3f2504e0-4f89-41d3-7a0c-0305e82c3301", out _).IsText);
    }

    /// <summary>The packed bits are a checkpointed and hashed layout: character i's six-bit code at bit 6·i of one
    /// 128-bit number, the length at bit 120. Computed here the slow way, over every length and every character of the
    /// alphabet at every position, plus characters just outside it, which must not pack.</summary>
    [Fact]
    public void PackedKeyFrom_EveryLengthAndCharacter_BitsAreCodeAtSixTimesPosition()
    {
        const string alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
        var random = new Random(7);
        for (var length = 1; length <= 20; length++)
        {
            for (var trial = 0; trial < 64; trial++)
            {
                var chars = new char[length];
                for (var i = 0; i < length; i++)
                {
                    chars[i] = alphabet[(trial + (i * 7) + random.Next(64)) % 64];
                }
                var text = new string(chars);
                var expected = (UInt128)(uint)length << 120;
                for (var i = 0; i < length; i++)
                {
                    expected |= (UInt128)(uint)alphabet.IndexOf(text[i], StringComparison.Ordinal) << (6 * i);
                }
                var key = PackedKey.From(text);
                Assert.Equal(PackedKind.Packed, key.Kind);
                Assert.Equal((ulong)expected, key.Low);
                Assert.Equal((ulong)(expected >> 64), key.High);
                Assert.Equal(text, key.ToString());
            }
        }
        foreach (var outside in "/:@[`{.é\u0100\uFFFF\0 ")
        {
            for (var at = 0; at < 20; at++)
            {
                var chars = Enumerable.Repeat('a', 20).ToArray();
                chars[at] = outside;
                Assert.NotEqual(PackedKind.Packed, PackedKey.From(new string(chars)).Kind);
            }
        }
    }

    [Theory]
    [InlineData("81.0.3.7")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("010.0.0.1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("256.1.1.1")]
    public void CompactIdToString_AddressLikeIds_GiveBackTheSameText(string id) =>
        Assert.Equal(id, CompactId.From(id).ToString());

    [Fact]
    public void CompactIdEquals_SameTextAndOtherText_ComparesByText()
    {
        foreach (var a in Forms)
        {
            foreach (var b in Forms)
            {
                Assert.Equal(a == b, CompactId.From(a) == CompactId.From(new string(b.AsSpan())));
            }
        }
    }

    [Fact]
    public void KeyAt_EveryForm_GivesBackTheKey()
    {
        var keys = new KeyTable();
        var slots = new Dictionary<string, int>();
        foreach (var key in Forms)
        {
            slots[key] = keys.GetOrAddSlot(key);
        }

        Assert.Equal(Forms.Length, keys.Count);
        foreach (var key in Forms)
        {
            Assert.Equal(key, keys.KeyAt(slots[key]));
            // Found by value, not by the reference last resolved.
            Assert.True(keys.TryGetSlot(new string(key.AsSpan()), out var slot));
            Assert.Equal(slots[key], slot);
        }
        Assert.False(keys.TryGetSlot("u-004706", out _));
    }

    [Fact]
    public void GetOrAddAndRemove_RandomOperations_MatchADictionary()
    {
        var rng = new Random(5);
        var state = new KeyedState<long>(Timeout.InfiniteTimeSpan, Int64StateSerializer.Instance);
        var model = new Dictionary<string, long>(StringComparer.Ordinal);
        var pool = new List<string>(Forms);
        for (var i = 0; i < 3_000; i++)
        {
            pool.Add(rng.Next(3) switch
            {
                0 => $"u-{i:D6}",
                1 => $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                _ => $"user {i}@example.com",
            });
        }
        for (var step = 0; step < 40_000; step++)
        {
            // Fresh string instances, so lookups go through the index rather than the last-key cache.
            var key = new string(pool[rng.Next(pool.Count)].AsSpan());
            if (rng.Next(3) == 0)
            {
                Assert.Equal(model.Remove(key), state.Remove(key));
            }
            else
            {
                state.GetOrAdd(key, step, out var created) = step;
                Assert.Equal(!model.ContainsKey(key), created);
                model[key] = step;
            }
            if (step % 997 == 0)
            {
                Assert.Equal(model.Count, state.Count);
                Assert.Equal(model.Count, state.Keys.Count);
                foreach (var (k, v) in model)
                {
                    Assert.True(state.TryGetValue(new string(k.AsSpan()), out var held));
                    Assert.Equal(v, held);
                }
            }
        }
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        state.ForEach(seen, static (map, key, in value) => map.Add(key, value));
        Assert.Equal(model.OrderBy(p => p.Key, StringComparer.Ordinal), seen.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void WriteRead_EveryForm_RestoresTheSameKeysAndValues()
    {
        var state = new KeyedState<long>(TimeSpan.FromMinutes(10), Int64StateSerializer.Instance);
        for (var i = 0; i < Forms.Length; i++)
        {
            state.GetOrAdd(Forms[i], i * 1_000L, out _) = i;
        }
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            state.Write(writer);
        }

        var restored = new KeyedState<long>(TimeSpan.FromMinutes(10), Int64StateSerializer.Instance);
        stream.Position = 0;
        restored.Read(new BinaryReader(stream));

        Assert.Equal(Forms.Length, restored.Count);
        for (var i = 0; i < Forms.Length; i++)
        {
            Assert.True(restored.TryGetValue(Forms[i], out var value));
            Assert.Equal(i, value);
        }
    }

    [Fact]
    public void EvictExpired_EveryForm_EvictsOnTimeAndEmptiesTheTable()
    {
        var state = new KeyedState<long>(TimeSpan.FromSeconds(16), Int64StateSerializer.Instance);
        for (var i = 0; i < Forms.Length; i++)
        {
            state.GetOrAdd(Forms[i], i < 8 ? 0 : 60_000, out _);
        }

        Assert.Equal(8, state.EvictExpired(30_000));
        Assert.False(state.ContainsKey(Forms[0]));
        Assert.True(state.ContainsKey(Forms[8]));
        Assert.Equal(Forms.Length - 8, state.Keys.Count);
        Assert.Equal(Forms.Length - 8, state.EvictExpired(100_000));
        Assert.Equal(0, state.Keys.Count);
        Assert.Equal(0, state.ApproximateBytes);
    }
}

/// <summary>The last access kept as a 32-bit bucket: eviction and checkpoints behave as with the exact time.</summary>
public sealed class KeyedStateAccessTests
{
    private static KeyedState<long> State() => new(TimeSpan.FromSeconds(16), Int64StateSerializer.Instance);

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

    [Fact]
    public void EvictExpired_RestoredMidway_EvictsTheSameKeysAtTheSameWatermarks()
    {
        var rng = new Random(9);
        var once = State();
        KeyedState<long>? restored = null;
        var shadow = State();
        long time = 1_700_000_000_000;
        for (var step = 0; step < 20_000; step++)
        {
            time += rng.Next(0, 40);
            var key = $"u-{rng.Next(400)}";
            var at = time - rng.Next(0, 3_000);
            once.GetOrAdd(key, at, out _) = step;
            (restored ?? shadow).GetOrAdd(key, at, out _) = step;
            if (step == 9_000)
            {
                restored = RoundTrip(shadow);
            }
            if (step % 50 == 0)
            {
                Assert.Equal(once.EvictExpired(time - 2_000), (restored ?? shadow).EvictExpired(time - 2_000));
                Assert.Equal(once.Count, (restored ?? shadow).Count);
            }
        }
        Assert.NotNull(restored);
        Assert.True(once.Evicted > 1_000);
        for (var u = 0; u < 400; u++)
        {
            Assert.Equal(once.ContainsKey($"u-{u}"), restored.ContainsKey($"u-{u}"));
        }
    }

    [Fact]
    public void EvictExpired_KeyRefiledFiftyYearsOnWithinOneTtl_NotEvictedEarly()
    {
        // One-second buckets: fifty years on is 1.6·10^9 buckets from the first key, inside the 32-bit range.
        const long FiftyYears = 50L * 365 * 24 * 3_600_000;
        var state = State();
        state.GetOrAdd("first", 0, out _);
        state.GetOrAdd("later", FiftyYears, out _);
        state.GetOrAdd("later", FiftyYears + 5_000, out _);

        // The stale entry of "later" in its first bucket is due at +17 s; its last access only at +21 s.
        Assert.Equal(1, state.EvictExpired(FiftyYears + 18_000));
        Assert.True(state.ContainsKey("later"));
        Assert.Equal(1, state.EvictExpired(FiftyYears + 23_000));
        Assert.Equal(0, state.Count);
    }
}

/// <summary>A packed key is written into checkpoints byte for byte as its string would be.</summary>
public sealed class PackedKeyWriteTests
{
    [Theory]
    [InlineData("u-004705")]
    [InlineData("abcdefghijABCDEFGHIJ")]
    [InlineData("3f2504e0-4f89-41d3-9a0c-0305e82c3301")]
    [InlineData("81.0.3.7")]
    [InlineData("255.255.255.255")]
    [InlineData("alice@example.com")]
    [InlineData("évé")]
    [InlineData("")]
    public void WriteKey_EveryForm_SameBytesAsTheString(string key)
    {
        var keys = new KeyTable();
        var slot = keys.GetOrAddSlot(key);

        Assert.Equal(Bytes(w => w.Write(key)), Bytes(w => keys.WriteKey(w, slot)));
    }

    private static byte[] Bytes(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            write(writer);
        }
        return stream.ToArray();
    }
}

/// <summary>The key table gives back the room of keys that went.</summary>
public sealed class KeyTablePageTests
{
    [Fact]
    public void Release_PeakOfKeysGone_EmptyPagesDroppedAndFreedSlotsReusable()
    {
        var state = new KeyedState<long>(Timeout.InfiniteTimeSpan, Int64StateSerializer.Instance);
        for (var i = 0; i < 5_000; i++)
        {
            state.GetOrAdd($"u-{i}", 0, out _) = i;
        }
        Assert.Equal(5, state.Keys.KeyPages);

        // All but the last key go: the four pages before its page are dropped.
        for (var i = 0; i < 4_999; i++)
        {
            Assert.True(state.Remove($"u-{i}"));
        }
        Assert.Equal(1, state.Keys.KeyPages);
        Assert.True(state.TryGetValue("u-4999", out var last));
        Assert.Equal(4_999, last);

        // New keys take freed slots in dropped pages, which come back.
        for (var i = 0; i < 3_000; i++)
        {
            state.GetOrAdd($"v-{i}", 0, out _) = -i;
        }
        Assert.Equal(3_001, state.Keys.Count);
        for (var i = 0; i < 3_000; i++)
        {
            Assert.True(state.TryGetValue($"v-{i}", out var value));
            Assert.Equal(-i, value);
        }
        var seen = new List<string>();
        state.ForEach(seen, static (list, key, in _) => list.Add(key));
        Assert.Equal(3_001, seen.Count);
        Assert.Contains("u-4999", seen);
    }
}
