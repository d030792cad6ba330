using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class Xoshiro256Tests
{
    [Fact]
    public void NextUInt64_Seed1_MatchesReferenceSequence()
    {
        // Computed with an independent Python implementation of SplitMix64 seeding and xoshiro256**.
        var rng = new Xoshiro256(1);

        Assert.Equal(0xb3f2af6d0fc710c5UL, rng.NextUInt64());
        Assert.Equal(0x853b559647364ceaUL, rng.NextUInt64());
        Assert.Equal(0x92f89756082a4514UL, rng.NextUInt64());
    }

    [Fact]
    public void NextInt_SmallRange_StaysInRangeAndHitsEveryValue()
    {
        var rng = new Xoshiro256(7);
        var seen = new int[5];
        for (var i = 0; i < 10_000; i++)
        {
            seen[rng.NextInt(5)]++;
        }

        Assert.All(seen, count => Assert.InRange(count, 1800, 2200));
    }

    [Fact]
    public void NextDouble_Always_InUnitInterval()
    {
        var rng = new Xoshiro256(0);
        for (var i = 0; i < 10_000; i++)
        {
            Assert.InRange(rng.NextDouble(), 0.0, 0.9999999999999999);
        }
    }
}
