using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class RocAucTests
{
    [Fact]
    public void Compute_ScikitLearnExample_IsThreeQuarters()
    {
        // The example in scikit-learn's roc_auc_score documentation.
        Assert.Equal(0.75, RocAuc.Compute([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 12);
    }

    [Fact]
    public void Compute_PerfectAndReversedRanking_IsOneAndZero()
    {
        Assert.Equal(1.0, RocAuc.Compute([0.1, 0.2, 0.8, 0.9], [false, false, true, true]));
        Assert.Equal(0.0, RocAuc.Compute([0.9, 0.8, 0.2, 0.1], [false, false, true, true]));
    }

    [Fact]
    public void Compute_TieBetweenPositiveAndNegative_CountsOneHalf()
    {
        // Pairs (positive, negative): (0.5, 0.5) tie, (0.5, 0.2), (0.9, 0.5), (0.9, 0.2) wins: 3.5 of 4.
        Assert.Equal(0.875, RocAuc.Compute([0.5, 0.5, 0.2, 0.9], [true, false, false, true]), 12);
    }

    [Fact]
    public void Compute_AllScoresEqual_IsOneHalf()
    {
        Assert.Equal(0.5, RocAuc.Compute([3, 3, 3, 3, 3], [true, false, false, true, false]), 12);
    }

    [Fact]
    public void Compute_OneClassOnly_IsNaN()
    {
        Assert.True(double.IsNaN(RocAuc.Compute([0.1, 0.2], [false, false])));
        Assert.True(double.IsNaN(RocAuc.Compute([0.1, 0.2], [true, true])));
        Assert.True(double.IsNaN(RocAuc.Compute([], [])));
    }

    [Fact]
    public void Compute_BadInput_Throws()
    {
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([0.1, 0.2], [true]));
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([0.1, double.NaN], [true, false]));
    }

    [Fact]
    public void Compute_RandomScoresWithManyTies_EqualsPairwiseCount()
    {
        var rng = new Xoshiro256(42);
        var scores = new double[300];
        var labels = new bool[300];
        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = rng.NextInt(20); // few distinct values: many ties
            labels[i] = rng.NextInt(4) == 0;
        }
        double wins = 0;
        var pairs = 0;
        for (var p = 0; p < scores.Length; p++)
        {
            for (var n = 0; n < scores.Length; n++)
            {
                if (labels[p] && !labels[n])
                {
                    pairs++;
                    wins += scores[p] > scores[n] ? 1 : scores[p] == scores[n] ? 0.5 : 0;
                }
            }
        }

        Assert.Equal(wins / pairs, RocAuc.Compute(scores, labels), 12);
    }
}
