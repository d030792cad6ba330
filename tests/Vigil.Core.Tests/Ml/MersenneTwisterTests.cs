using System.Text.Json;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

/// <summary>
/// The generator against numbers numpy 1.24's legacy RandomState drew (Fixtures/numpy-mt19937.json, written by
/// scripts/sklearn-iforest-fixtures.py): the same seeds give the same raw outputs, randint values and permutations.
/// </summary>
public sealed class MersenneTwisterTests
{
    public static TheoryData<int> Cases()
    {
        var data = new TheoryData<int>();
        var count = Fixture().RootElement.GetProperty("cases").GetArrayLength();
        for (var i = 0; i < count; i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void NextUInt32_NumpySeed_MatchesRandomState(int index)
    {
        var (twister, expected) = Case(index, "uint32");
        foreach (var value in expected)
        {
            Assert.Equal((uint)value, twister.NextUInt32());
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void NextBounded_NumpyRandint_MatchesRandomState(int index)
    {
        // randint(high) draws from [0, high − 1]: 31 bits (scikit-learn's seeds), a small range, and one past 32 bits.
        foreach (var (name, max) in new[] { ("randint31", (ulong)int.MaxValue - 1), ("randint1000", 999UL), ("randint40", (1UL << 40) - 1) })
        {
            var (twister, expected) = Case(index, name);
            foreach (var value in expected)
            {
                Assert.Equal((ulong)value, twister.NextBounded(max));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Shuffle_NumpyPermutation_MatchesRandomState(int index)
    {
        var (twister, expected) = Case(index, "permutation10");
        var values = Enumerable.Range(0, 10).ToArray();
        twister.Shuffle(values);
        Assert.Equal(expected.Select(v => (int)v), values);

        (twister, expected) = Case(index, "permutation1000Head");
        values = Enumerable.Range(0, 1000).ToArray();
        twister.Shuffle(values);
        Assert.Equal(expected.Select(v => (int)v), values.Take(expected.Count));

        // permutation(1000)[:10] without finishing the other positions: the same ten.
        (twister, _) = Case(index, "permutation1000Head");
        values = Enumerable.Range(0, 1000).ToArray();
        twister.Shuffle(values, expected.Count);
        Assert.Equal(expected.Select(v => (int)v), values.Take(expected.Count));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(257, 256)]
    [InlineData(5000, 256)]
    [InlineData(700, 0)]
    public void Shuffle_Head_SameHeadAndSameDrawsAsAFullShuffle(int n, int head)
    {
        var full = new MersenneTwister(42);
        var partial = new MersenneTwister(42);
        var a = Enumerable.Range(0, n).ToArray();
        var b = Enumerable.Range(0, n).ToArray();
        full.Shuffle(a);
        partial.Shuffle(b, head);
        Assert.Equal(a.Take(head), b.Take(head));
        Assert.Equal(full.NextUInt32(), partial.NextUInt32());
    }

    [Fact]
    public void NextBounded_RangeOfOneValue_DrawsNothing()
    {
        var a = new MersenneTwister(7);
        var b = new MersenneTwister(7);
        Assert.Equal(0UL, a.NextBounded(0));
        Assert.Equal(b.NextUInt32(), a.NextUInt32());
    }

    [Fact]
    public void FirstBelowInt32Max_ManySeeds_EqualsTheFullGeneratorsFirstRandint()
    {
        for (var seed = 0u; seed < 3000; seed++)
        {
            Assert.Equal(new MersenneTwister(seed).NextBounded(int.MaxValue - 1), MersenneTwister.FirstBelowInt32Max(seed));
        }
        Assert.Equal(new MersenneTwister(uint.MaxValue).NextBounded(int.MaxValue - 1), MersenneTwister.FirstBelowInt32Max(uint.MaxValue));
    }

    [Fact]
    public void Seed_AboveUInt32_SeedsAsRandomStateOfItsTwoHalves()
    {
        // numpy refuses integer seeds past 2^32 − 1; Vigil seeds them as RandomState([low half, high half]).
        var wide = new MersenneTwister(0);
        wide.Seed((2UL << 32) | 1);
        var (pair, expected) = Case(FindCase("[1,2]"), "uint32");
        foreach (var value in expected)
        {
            Assert.Equal((uint)value, wide.NextUInt32());
            Assert.Equal((uint)value, pair.NextUInt32());
        }
    }

    private static int FindCase(string seedJson)
    {
        var cases = Fixture().RootElement.GetProperty("cases");
        for (var i = 0; i < cases.GetArrayLength(); i++)
        {
            if (cases[i].GetProperty("seed").GetRawText() == seedJson)
            {
                return i;
            }
        }
        throw new InvalidOperationException($"no fixture case with seed {seedJson}");
    }

    private static (MersenneTwister Twister, List<long> Expected) Case(int index, string name)
    {
        var element = Fixture().RootElement.GetProperty("cases")[index];
        var seed = element.GetProperty("seed");
        var twister = new MersenneTwister(0);
        if (seed.ValueKind == JsonValueKind.Array)
        {
            twister.SeedByArray(seed.EnumerateArray().Select(v => v.GetUInt32()).ToArray());
        }
        else
        {
            twister.Seed(seed.GetUInt32());
        }
        return (twister, element.GetProperty(name).EnumerateArray().Select(v => v.GetInt64()).ToList());
    }

    private static JsonDocument Fixture() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Ml", "Fixtures", "numpy-mt19937.json")));
}
