using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Vigil.Core.Ml;

namespace Vigil.Benchmarks;

/// <summary>
/// Fitting a 100-tree forest (ψ = 256) with each source of randomness, on 16 Gaussian features: the ScikitLearn
/// generator permutes all n rows for every tree (O(n)) where Fast draws ψ of them (O(ψ)), so the gap grows with n.
/// The row counts are those of ionosphere, cardio and pendigits among the ODDS sets, and BEHAVIOR_ANOMALY's full
/// sample.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcess))]
public class IsolationForestBenchmarks
{
    private sealed class ShortInProcess : ManualConfig
    {
        public ShortInProcess() => AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
            .WithStrategy(RunStrategy.Throughput).WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10));
    }

    private const int Features = 16;
    private float[] _data = [];

    [Params(351, 1831, 6870, 20000)]
    public int Rows { get; set; }

    [Params(IsolationForestRandomness.Fast, IsolationForestRandomness.ScikitLearn)]
    public IsolationForestRandomness Randomness { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Xoshiro256(7);
        _data = new float[Rows * Features];
        for (var i = 0; i < _data.Length; i++)
        {
            // Sum of four uniforms: roughly normal, without a Box–Muller dependency.
            _data[i] = (float)(rng.NextDouble() + rng.NextDouble() + rng.NextDouble() + rng.NextDouble() - 2);
        }
    }

    [Benchmark]
    public int Fit() =>
        IsolationForest.Fit(_data, Features, new IsolationForestOptions { Seed = 3, Randomness = Randomness }).NodeCount;
}
