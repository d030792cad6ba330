using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using Vigil.Core.Ml;

namespace Vigil.Benchmarks;

/// <summary>
/// <see cref="IsolationForest.ScoreBatch(ReadOnlySpan{float}, Span{double})"/>, single-threaded, one job per scoring
/// kernel: the runtime's own switches turn instruction sets off in the child process (DOTNET_EnableAVX512=0 leaves
/// AVX2, DOTNET_EnableAVX2=0 leaves the scalar walk), so the public method is measured as a user on such a machine
/// would get it. 100 trees, ψ = 256 (height 8), 4,096 Gaussian rows; one operation is one row.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project bench/Vigil.Benchmarks -- --filter '*IsolationForestScoring*'</c>
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(KernelJobs))]
public class IsolationForestScoringBenchmarks
{
    private sealed class KernelJobs : ManualConfig
    {
        public KernelJobs()
        {
            var job = Job.Default.WithStrategy(RunStrategy.Throughput).WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10);
            AddJob(job.WithId("Avx512").AsBaseline());
            AddJob(job.WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX512", "0")).WithId("Avx2"));
            AddJob(job.WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX2", "0")).WithId("Scalar"));
        }
    }

    private const int Rows = 4096;

    private IsolationForest _forest = null!;
    private float[] _rows = [];
    private double[] _scores = [];

    /// <summary>Row widths of the ODDS sets: pima, cardio, letter, arrhythmia.</summary>
    [Params(8, 21, 32, 274)]
    public int Features { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rnd = new Random(7);
        _rows = new float[Rows * Features];
        for (var i = 0; i < _rows.Length; i++)
        {
            // Box–Muller, so the splits spread as on real data rather than on a uniform grid.
            var u = 1.0 - rnd.NextDouble();
            _rows[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * rnd.NextDouble()));
        }
        _forest = IsolationForest.Fit(_rows, Features, new IsolationForestOptions { Seed = 1 });
        _scores = new double[Rows];
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    public double ScoreBatch()
    {
        _forest.ScoreBatch(_rows, _scores);
        return _scores[0];
    }
}
