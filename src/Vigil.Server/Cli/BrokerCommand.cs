using Vigil.Kafka;

namespace Vigil.Server.Cli;

/// <summary><c>vigil broker</c>: the embedded Kafka-protocol broker as its own process.</summary>
public static class BrokerCommand
{
    private const string Help = """
        Usage: ./vigil broker [--port N] [--partitions N] [--brokers N]

        Starts the embedded Kafka-protocol broker (librdkafka's mock cluster) on loopback, creates the Vigil
        topics, prints the bootstrap address on the first line of standard output, and runs until Ctrl+C.
        Point a service or kcat at it:  KAFKA_BOOTSTRAP_SERVERS=<address> ./vigil serve
        It keeps data in memory only: a restart starts empty.

          --port N         listen on this loopback port (one broker only); default: a free port
          --partitions N   partitions of user-events and notifications (default 4)
          --brokers N      brokers in the mock cluster (default 1)
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var cli = CliArgs.Parse(args, ["port", "partitions", "brokers"], ["help"]);
        if (cli.Flag("help"))
        {
            Console.Out.WriteLine(Help);
            return 0;
        }
        var partitions = cli.GetInt("partitions", 4, 1, 1024);
        var brokers = cli.GetInt("brokers", 1, 1, 16);
        var port = cli.GetInt("port", 0, 0, 65535);
        if (port != 0 && brokers != 1)
        {
            throw new UsageException("--port works with one broker only; drop --brokers or --port.");
        }
        using var broker = port == 0 ? EmbeddedBroker.Start(brokers) : EmbeddedBroker.Start(1, port);
        EmbeddedTopics.Create(broker, partitions);
        Console.Out.WriteLine(broker.BootstrapServers);
        Console.Out.Flush();
        await Console.Error.WriteLineAsync(
            $"vigil broker: Kafka protocol on {broker.BootstrapServers} ({brokers} broker(s), {partitions} partitions per input topic); Ctrl+C stops it.");
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
        return 0;
    }
}

/// <summary>The topics Vigil uses, created on the embedded broker.</summary>
public static class EmbeddedTopics
{
    public static void Create(EmbeddedBroker broker, int partitions, Hosting.VigilOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        options ??= new Hosting.VigilOptions();
        foreach (var topic in new[] { options.UserEventsTopic, options.NotificationsTopic })
        {
            broker.CreateTopic(topic, partitions);
            broker.CreateTopic(VigilTopics.DeadLetter(topic), 1);
        }
        broker.CreateTopic(options.SecurityAlertsTopic, partitions);
        broker.CreateTopic(options.AnalyticsInsightsTopic, 1);
        // One partition: its one owner runs the IP and tenant rules over every instance's events.
        broker.CreateTopic(options.SharedTopic, 1);
    }
}
