using System.Text.Json;
using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

/// <summary>
/// <see cref="IsolationForestRandomness.ScikitLearn"/> against trees and scores scikit-learn 1.2.1 produced
/// (Fixtures/sklearn-iforest.json, written by scripts/sklearn-iforest-fixtures.py): node for node the same feature,
/// threshold, row count and shape, in each of the ways scikit-learn draws a tree's rows.
/// </summary>
public sealed class ScikitLearnForestTests
{
    private static readonly Lazy<JsonDocument> s_fixture = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Ml", "Fixtures", "sklearn-iforest.json"))));

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in s_fixture.Value.RootElement.GetProperty("cases").EnumerateArray())
        {
            data.Add(c.GetProperty("name").GetString()!);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fit_ScikitLearnRandomness_BuildsScikitLearnsTrees(string name)
    {
        var c = Case(name);
        var forest = Fit(c);
        var trees = c.GetProperty("forest");
        Assert.Equal(trees.GetArrayLength(), forest.TreeCount);
        for (var t = 0; t < forest.TreeCount; t++)
        {
            AssertSameTree(forest, forest.Roots[t], trees[t], $"{name}, tree {t}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScoreBatch_ScikitLearnRandomness_ScoresAsScikitLearn(string name)
    {
        var c = Case(name);
        var data = Data(c);
        var forest = Fit(c);
        var expected = c.GetProperty("scores").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var scores = new double[expected.Length];
        forest.ScoreBatch(data, scores);
        for (var r = 0; r < scores.Length; r++)
        {
            // Leaves keep their path length as a float, so scores agree to about 1e-8, not to the last bit.
            Assert.True(Math.Abs(expected[r] - scores[r]) < 1e-7, $"{name}, row {r}: {scores[r]} against scikit-learn's {expected[r]}");
        }
    }

    [Fact]
    public void Fit_ScikitLearnRandomnessWithRowsAtMostSampleSize_EveryTreeHoldsEveryRow()
    {
        // scikit-learn caps ψ at n, and sample_without_replacement(n, n) is a reservoir that draws nothing: every tree
        // starts from all rows, and the trees differ only by the splitter's seed.
        var c = Case("all rows");
        var forest = Fit(c);
        var rows = c.GetProperty("rows").GetInt32();
        Assert.Equal(rows, forest.SampleSize);
        foreach (var root in forest.Roots)
        {
            Assert.Equal(rows, forest.NodeSizes[root]);
        }
    }

    [Fact]
    public void Fit_ScikitLearnRandomnessInParallel_SameForest()
    {
        var c = Case("permutation");
        var data = Data(c);
        var features = c.GetProperty("features").GetInt32();
        var options = new IsolationForestOptions { Trees = 16, Seed = 11, Randomness = IsolationForestRandomness.ScikitLearn };
        var sequential = IsolationForest.Fit(data, features, options);
        var parallel = IsolationForest.Fit(data, features, options with { MaxDegreeOfParallelism = 4 });
        Assert.Equal(sequential.NodeCount, parallel.NodeCount);
        for (var i = 0; i < sequential.NodeCount; i++)
        {
            Assert.Equal(sequential.Nodes[i], parallel.Nodes[i]);
        }
    }

    [Fact]
    public void Fit_FastAndScikitLearnRandomness_DifferentTreesSameShapeOfScores()
    {
        // Two generators, one algorithm: the forests differ but both rank the planted outliers (rows 0–4) high.
        var c = Case("permutation");
        var data = Data(c);
        var features = c.GetProperty("features").GetInt32();
        var fast = IsolationForest.Fit(data, features, new IsolationForestOptions { Seed = 3 });
        var sklearn = IsolationForest.Fit(data, features, new IsolationForestOptions { Seed = 3, Randomness = IsolationForestRandomness.ScikitLearn });
        Assert.False(fast.NodeCount == sklearn.NodeCount && fast.Nodes.SequenceEqual(sklearn.Nodes), "the two generators grew the same forest");
        foreach (var forest in new[] { fast, sklearn })
        {
            var scores = new double[data.Length / features];
            forest.ScoreBatch(data, scores);
            var upperDecile = scores.OrderDescending().ElementAt(scores.Length / 10);
            for (var r = 0; r < 5; r++)
            {
                Assert.True(scores[r] > upperDecile, $"outlier row {r} scores {scores[r]}, not above the upper decile {upperDecile}");
            }
        }
    }

    [Fact]
    public void Validate_UnknownRandomness_Throws()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new IsolationForestOptions { Randomness = (IsolationForestRandomness)7 }.Validate());
        Assert.Equal("Randomness", ex.ParamName);
    }

    private static void AssertSameTree(IsolationForest forest, int root, JsonElement expected, string where)
    {
        var feature = Ints(expected, "feature");
        var samples = Ints(expected, "samples");
        var left = Ints(expected, "left");
        var right = Ints(expected, "right");
        var threshold = expected.GetProperty("threshold").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var nodes = forest.Nodes;
        // Walk both trees together: scikit-learn's node ids are its own (pre-order), Vigil's children are adjacent.
        var stack = new Stack<(int Theirs, int Ours)>();
        stack.Push((0, root));
        var visited = 0;
        while (stack.Count > 0)
        {
            var (theirs, ours) = stack.Pop();
            visited++;
            var node = nodes[ours];
            Assert.True(samples[theirs] == forest.NodeSizes[ours], $"{where}, node {theirs}: {forest.NodeSizes[ours]} rows, scikit-learn {samples[theirs]}");
            var leaf = left[theirs] == -1;
            Assert.True(leaf == (node.Left == ours), $"{where}, node {theirs}: leaf in one tree only");
            if (leaf)
            {
                continue;
            }
            Assert.True(feature[theirs] == node.Feature, $"{where}, node {theirs}: feature {node.Feature}, scikit-learn {feature[theirs]}");
            // Vigil keeps the largest float not above scikit-learn's double threshold: the same split of float rows.
            var t = threshold[theirs];
            var expectedSplit = (float)t > t ? MathF.BitDecrement((float)t) : (float)t;
            Assert.True(expectedSplit == node.Split, $"{where}, node {theirs}: split {node.Split}, scikit-learn {t}");
            stack.Push((right[theirs], node.Left + 1));
            stack.Push((left[theirs], node.Left));
        }
        Assert.Equal(feature.Length, visited);
    }

    private static IsolationForest Fit(JsonElement c) =>
        IsolationForest.Fit(Data(c), c.GetProperty("features").GetInt32(), new IsolationForestOptions
        {
            Trees = c.GetProperty("trees").GetInt32(),
            SampleSize = c.GetProperty("sample").GetInt32(),
            Seed = c.GetProperty("seed").GetUInt64(),
            Randomness = IsolationForestRandomness.ScikitLearn,
        });

    private static float[] Data(JsonElement c) => c.GetProperty("data").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    private static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static JsonElement Case(string name)
    {
        foreach (var c in s_fixture.Value.RootElement.GetProperty("cases").EnumerateArray())
        {
            if (c.GetProperty("name").GetString() == name)
            {
                return c;
            }
        }
        throw new InvalidOperationException($"no fixture case '{name}'");
    }
}
