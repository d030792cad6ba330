using BenchmarkDotNet.Attributes;
using Vigil.Core.Alerts;
using Vigil.Storage;

namespace Vigil.Benchmarks;

/// <summary>
/// Alert batches into PostgreSQL: arrays through <c>unnest</c> against binary COPY into a staging table, both merged
/// with the same <c>ON CONFLICT</c>. Needs a server: <c>VIGIL_BENCH_POSTGRES</c> (an Npgsql connection string).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class StoreBenchmarks
{
    private PostgresVigilStore _unnest = null!;
    private PostgresVigilStore _copy = null!;
    private long _next;

    [Params(100, 1000, 10000)]
    public int Batch { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var url = Environment.GetEnvironmentVariable("VIGIL_BENCH_POSTGRES")
            ?? throw new InvalidOperationException("Set VIGIL_BENCH_POSTGRES to an Npgsql connection string.");
        _unnest = new PostgresVigilStore(url, copyThreshold: int.MaxValue);
        _copy = new PostgresVigilStore(url);
        await _copy.MigrateAsync(CancellationToken.None);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _unnest.DisposeAsync();
        await _copy.DisposeAsync();
    }

    [Benchmark(Baseline = true)]
    public Task<int> Unnest() => _unnest.InsertAlertsAsync(NewBatch(), CancellationToken.None);

    [Benchmark]
    public Task<int> BinaryCopy() => _copy.InsertAlertsAsync(NewBatch(), CancellationToken.None);

    private List<Alert> NewBatch()
    {
        var start = Interlocked.Add(ref _next, Batch) - Batch;
        var at = DateTimeOffset.UnixEpoch.AddDays(20_000);
        var alerts = new List<Alert>(Batch);
        for (var i = 0; i < Batch; i++)
        {
            var n = start + i;
            alerts.Add(new Alert
            {
                AlertId = Alert.MakeId("BRUTE_FORCE", $"u-{n % 50_000}", $"e-{n}"),
                Rule = "BRUTE_FORCE",
                Severity = Severity.High,
                UserId = $"u-{n % 50_000}",
                IpAddress = "203.0.113.7",
                EventTime = at.AddMilliseconds(n),
                DetectedAt = at.AddMilliseconds(n + 40),
                WindowStart = at.AddMilliseconds(n - 90_000),
                WindowEnd = at.AddMilliseconds(n),
                Score = 0.8,
                Summary = "12 failed logins in 90 s from 3 IPs, then a success",
                Evidence = new Dictionary<string, object?> { ["occurrences"] = 1, ["eventIds"] = new[] { $"e-{n}", $"e-{n + 1}" }, ["failures"] = 12 },
            });
        }
        return alerts;
    }
}
