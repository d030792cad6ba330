using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;

namespace Vigil.Kafka.Tests;

public sealed class EmbeddedBrokerTests
{
    private static readonly TimeSpan s_metadataTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void Start_Default_ListensOnLoopbackPort()
    {
        using var broker = EmbeddedBroker.Start();

        var endpoint = broker.BootstrapServers.Split(',').Single();
        Assert.StartsWith("127.0.0.1:", endpoint, StringComparison.Ordinal);
        Assert.InRange(int.Parse(endpoint["127.0.0.1:".Length..], System.Globalization.CultureInfo.InvariantCulture), 1, 65535);
    }

    [Fact]
    public void Start_TwoBrokersAtOnce_ServeSeparatelyOnDifferentPorts()
    {
        using var first = EmbeddedBroker.Start();
        using var second = EmbeddedBroker.Start();
        first.CreateTopic("only-in-first", 2);

        Assert.NotEqual(first.BootstrapServers, second.BootstrapServers);
        Assert.Equal(2, PartitionCount(first.BootstrapServers, "only-in-first"));
        Assert.DoesNotContain("only-in-first", TopicNames(second.BootstrapServers));
    }

    [Fact]
    public void Start_ThreeBrokers_AllAppearInMetadata()
    {
        using var broker = EmbeddedBroker.Start(brokers: 3);

        Assert.Equal(3, broker.BootstrapServers.Split(',').Length);
        using var admin = Admin(broker.BootstrapServers);
        Assert.Equal(3, admin.GetMetadata(s_metadataTimeout).Brokers.Count);
    }

    [Fact]
    public void CreateTopic_FourPartitions_MetadataReportsFour()
    {
        using var broker = EmbeddedBroker.Start();

        broker.CreateTopic("four", 4);

        Assert.Equal(4, PartitionCount(broker.BootstrapServers, "four"));
    }

    [Fact]
    public void CreateTopic_Existing_Throws()
    {
        using var broker = EmbeddedBroker.Start();
        broker.CreateTopic("twice", 1);

        var error = Assert.Throws<InvalidOperationException>(() => broker.CreateTopic("twice", 1));
        Assert.Contains("twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Produce_UnknownTopic_AutoCreatesWithFourPartitions()
    {
        using var broker = EmbeddedBroker.Start();
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();

        var delivery = await producer.ProduceAsync("made-on-the-fly", new Message<Null, string> { Value = "x" });

        Assert.Equal(PersistenceStatus.Persisted, delivery.Status);
        Assert.Equal(4, PartitionCount(broker.BootstrapServers, "made-on-the-fly"));
    }

    [Fact]
    public void Dispose_Twice_IsHarmlessAndLaterCallsThrow()
    {
        var broker = EmbeddedBroker.Start();
        var endpoint = broker.BootstrapServers;

        broker.Dispose();
        broker.Dispose();

        Assert.Throws<ObjectDisposedException>(() => broker.CreateTopic("late", 1));
        Assert.False(CanConnect(endpoint), "the listener should be closed after Dispose");
    }

    [Fact]
    public void Start_FixedPort_ClientsWorkThroughThatPort()
    {
        var port = FreePort();
        using var broker = EmbeddedBroker.Start(brokers: 1, port: port);
        broker.CreateTopic("fixed", 3);

        Assert.Equal($"127.0.0.1:{port}", broker.BootstrapServers);
        using var admin = Admin(broker.BootstrapServers);
        var metadata = admin.GetMetadata("fixed", s_metadataTimeout);
        Assert.Equal(port, metadata.Brokers.Single().Port);
        Assert.Equal(3, metadata.Topics.Single().Partitions.Count);
    }

    [Fact]
    public void Start_FixedPortWithSeveralBrokers_Throws()
    {
        Assert.Throws<ArgumentException>(() => EmbeddedBroker.Start(brokers: 2, port: FreePort()));
    }

    [Fact]
    public async Task Start_WithConfluentClients_ProcessMapsOneLibrdkafka()
    {
        using var broker = EmbeddedBroker.Start();
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();
        await producer.ProduceAsync("shared-library", new Message<Null, string> { Value = "x" });

        var mapped = File.ReadLines("/proc/self/maps")
            .Select(static line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .Where(static path => Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .ToList();

        Assert.Single(mapped);
        Assert.EndsWith("centos8-librdkafka.so", mapped[0], StringComparison.Ordinal);
    }

    internal static IAdminClient Admin(string bootstrapServers) =>
        new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();

    internal static int PartitionCount(string bootstrapServers, string topic)
    {
        using var admin = Admin(bootstrapServers);
        var metadata = admin.GetMetadata(topic, s_metadataTimeout).Topics.Single();
        Assert.False(metadata.Error.IsError, metadata.Error.Reason);
        return metadata.Partitions.Count;
    }

    private static List<string> TopicNames(string bootstrapServers)
    {
        using var admin = Admin(bootstrapServers);
        return admin.GetMetadata(s_metadataTimeout).Topics.Select(static t => t.Topic).ToList();
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static bool CanConnect(string endpoint)
    {
        var port = int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
