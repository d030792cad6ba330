namespace Vigil.Server.Pipeline;

/// <summary>
/// Reads from a store that may be down for a while (PostgreSQL restarting): retried with a back-off that doubles from
/// <see cref="FirstDelay"/> up to <see cref="MaxDelay"/>, until it answers or the token is cancelled. The caller waits
/// rather than failing, as the sinks wait out an outage.
/// </summary>
internal static class StoreRetry
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);

    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(5);

    /// <param name="read">The read; any exception but a cancellation counts as the store being down.</param>
    /// <param name="failed">Told of each failure (the attempt, the delay before the next, the error), for the log.</param>
    /// <param name="clock">The clock the delays run on.</param>
    /// <param name="ct">Stops the retries (an <see cref="OperationCanceledException"/>).</param>
    /// <param name="firstDelay">The first delay (<see cref="FirstDelay"/> when null).</param>
    /// <param name="maxDelay">The longest delay (<see cref="MaxDelay"/> when null).</param>
    public static async Task<T> ReadAsync<T>(Func<CancellationToken, Task<T>> read, Action<int, TimeSpan, Exception> failed,
        TimeProvider clock, CancellationToken ct, TimeSpan? firstDelay = null, TimeSpan? maxDelay = null)
    {
        var delay = firstDelay ?? FirstDelay;
        var longest = maxDelay ?? MaxDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await read(ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failed(attempt, delay, ex);
                await Task.Delay(delay, clock, ct);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, longest.Ticks));
            }
        }
    }
}
