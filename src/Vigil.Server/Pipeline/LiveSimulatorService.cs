using Vigil.Kafka;
using Vigil.Server.Hosting;
using Vigil.Simulator;

namespace Vigil.Server.Pipeline;

/// <summary>
/// The built-in simulator of <c>./vigil serve</c>: an endless, seeded user population whose events are produced
/// to Kafka at the pace of their event times, with attack campaigns mixed in, so a new user sees traffic and
/// alerts within a minute.
/// </summary>
public sealed class LiveSimulatorService(VigilOptions options, KafkaProducer producer, TimeProvider clock,
    ILogger<LiveSimulatorService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var now = clock.GetUtcNow();
        var start = new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        var simulation = new Simulation(new SimulatorOptions
        {
            Seed = options.SimulatorSeed,
            Users = options.SimulatorUsers,
            Start = start,
            Duration = null,
            Rate = options.SimulatorRate,
            Attacks = AttackKinds.All,
            AttackInterval = options.SimulatorAttackInterval,
            FirstAttackAfter = TimeSpan.FromSeconds(5),
            FirstAttackKind = AttackKinds.BruteForce,
        });
        simulation.CampaignCompleted += label =>
            logger.LogInformation("Simulated {Kind} campaign {Id} on {Users} user(s) from {Ips} IP(s)",
                label.Kind, label.CampaignId, label.UserIds.Count, label.Ips.Count);
        logger.LogInformation("Simulator: {Users} users, ~{Rate} events/s, an attack every ~{Interval}",
            options.SimulatorUsers, options.SimulatorRate, options.SimulatorAttackInterval);

        var startMs = start.ToUnixTimeMilliseconds();
        var wallStart = clock.GetTimestamp();
        try
        {
            foreach (var message in simulation.Messages())
            {
                stoppingToken.ThrowIfCancellationRequested();
                var dueMs = message.TimestampMs - startMs;
                var elapsedMs = (long)clock.GetElapsedTime(wallStart).TotalMilliseconds;
                if (dueMs > elapsedMs + 2)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(dueMs - elapsedMs), clock, stoppingToken);
                }
                producer.Produce(message.Topic == VigilTopics.Notifications ? options.NotificationsTopic : options.UserEventsTopic, message.Key, message.Value);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
