using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Kafka;
using Vigil.Simulator;

namespace Vigil.Server.Cli;

/// <summary><c>vigil simulate</c>: the simulator's own CLI, with a Kafka producer behind <c>--to</c>.</summary>
public static class SimulateCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var to = FindTo(args);
        if (to is null)
        {
            return await SimulatorCli.RunAsync(args, Console.Out, Console.Error, null, ct);
        }
        using var producer = new KafkaProducer(new KafkaOptions { BootstrapServers = to }, NullLogger<KafkaProducer>.Instance);
        var code = await SimulatorCli.RunAsync(args, Console.Out, Console.Error, (topic, key, value, _) =>
        {
            producer.Produce(topic, key, value);
            return ValueTask.CompletedTask;
        }, ct);
        producer.Flush(TimeSpan.FromSeconds(30));
        if (producer.DeliveryErrors > 0)
        {
            await Console.Error.WriteLineAsync($"vigil simulate: {producer.DeliveryErrors} messages could not be delivered to {to}.");
            return 1;
        }
        return code;
    }

    private static string? FindTo(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--to" && i + 1 < args.Length)
            {
                return args[i + 1];
            }
            if (args[i].StartsWith("--to=", StringComparison.Ordinal))
            {
                return args[i][5..];
            }
        }
        return null;
    }
}
