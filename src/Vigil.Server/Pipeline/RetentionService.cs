using Vigil.Server.Hosting;
using Vigil.Storage;

namespace Vigil.Server.Pipeline;

/// <summary>
/// Applies the retention policy hourly: alerts older than <see cref="VigilOptions.AlertRetention"/> go once they are
/// closed (open ones are kept until someone looks at them, unless <see cref="VigilOptions.RetainOpenAlerts"/> is off),
/// dead letters after <see cref="VigilOptions.DeadLetterRetention"/>, audit entries after <see cref="VigilOptions.AuditRetention"/>.
/// </summary>
public sealed class RetentionService(IVigilStore store, VigilOptions options, TimeProvider clock, ILogger<RetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), clock);
        do
        {
            try
            {
                var now = clock.GetUtcNow();
                var deleted = await store.DeleteExpiredAsync(now - options.AlertRetention, !options.RetainOpenAlerts,
                    now - options.DeadLetterRetention, now - options.AuditRetention, stoppingToken);
                if (deleted > 0)
                {
                    logger.LogInformation("Retention removed {Rows} rows", deleted);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("Retention pass failed, retrying in an hour: {Error}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
