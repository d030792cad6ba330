using Vigil.Server.Pipeline;

namespace Vigil.Server.Tests;

/// <summary>A partition's checkpoint reads wait out a store that is down instead of failing the service.</summary>
public sealed class StoreRetryTests
{
    [Fact]
    public async Task ReadAsync_StoreDownThenBack_RetriesWithDoublingCappedDelaysAndReturnsTheAnswer()
    {
        var calls = 0;
        var delays = new List<TimeSpan>();
        var answer = await StoreRetry.ReadAsync(_ =>
        {
            calls++;
            return calls <= 6 ? Task.FromException<int>(new IOException("connection refused")) : Task.FromResult(42);
        }, (attempt, delay, ex) =>
        {
            Assert.Equal(delays.Count + 1, attempt);
            Assert.IsType<IOException>(ex);
            delays.Add(delay);
        }, TimeProvider.System, CancellationToken.None, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5));

        Assert.Equal(42, answer);
        Assert.Equal(7, calls);
        Assert.Equal(
            [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(4), TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(5)],
            delays);
    }

    [Fact]
    public void ReadAsync_Defaults_HalfASecondDoublingToFiveSeconds()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(500), StoreRetry.FirstDelay);
        Assert.Equal(TimeSpan.FromSeconds(5), StoreRetry.MaxDelay);
    }

    [Fact]
    public async Task ReadAsync_CancelledWhileTheStoreIsDown_StopsWithCancellation()
    {
        using var cts = new CancellationTokenSource();
        var failures = 0;
        var read = StoreRetry.ReadAsync<int>(_ => Task.FromException<int>(new IOException("down")), (_, _, _) =>
        {
            if (++failures == 3)
            {
                cts.Cancel();
            }
        }, TimeProvider.System, cts.Token, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        Assert.Equal(3, failures);
    }
}
