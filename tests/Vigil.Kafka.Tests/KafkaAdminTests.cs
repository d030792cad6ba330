using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging.Abstractions;

namespace Vigil.Kafka.Tests;

public sealed class KafkaAdminTests : IDisposable
{
    private readonly EmbeddedBroker _broker = EmbeddedBroker.Start();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task EnsureTopicsAsync_MissingTopics_CreatesThemWithTheirPartitions()
    {
        var options = TestSupport.Options(_broker, "unused");

        await KafkaAdmin.EnsureTopicsAsync(options, [(VigilTopics.UserEvents, 8), (VigilTopics.DeadLetter(VigilTopics.UserEvents), 1)], CancellationToken.None);

        Assert.Equal(8, EmbeddedBrokerTests.PartitionCount(_broker.BootstrapServers, VigilTopics.UserEvents));
        Assert.Equal(1, EmbeddedBrokerTests.PartitionCount(_broker.BootstrapServers, "user-events.dlq"));
    }

    [Fact]
    public async Task PartitionCountAsync_ExistingTopic_GivesItsCount_UnreachableClusterGivesNull()
    {
        _broker.CreateTopic("counted", 6);

        Assert.Equal(6, await KafkaAdmin.PartitionCountAsync(TestSupport.Options(_broker, "unused"), "counted", TimeSpan.FromSeconds(10), CancellationToken.None));
        var nowhere = new KafkaOptions { BootstrapServers = "127.0.0.1:1", GroupId = "unused" };
        Assert.Null(await KafkaAdmin.PartitionCountAsync(nowhere, "counted", TimeSpan.FromSeconds(1), CancellationToken.None));
    }

    [Fact]
    public async Task EnsureTopicsAsync_CalledTwiceAndWithExisting_IsIdempotent()
    {
        var options = TestSupport.Options(_broker, "unused");
        _broker.CreateTopic(VigilTopics.SecurityAlerts, 2);

        await KafkaAdmin.EnsureTopicsAsync(options, [(VigilTopics.Notifications, 3), (VigilTopics.SecurityAlerts, 6)], CancellationToken.None);
        await KafkaAdmin.EnsureTopicsAsync(options, [(VigilTopics.Notifications, 3), (VigilTopics.Notifications, 3)], CancellationToken.None);

        Assert.Equal(3, EmbeddedBrokerTests.PartitionCount(_broker.BootstrapServers, VigilTopics.Notifications));
        Assert.Equal(2, EmbeddedBrokerTests.PartitionCount(_broker.BootstrapServers, VigilTopics.SecurityAlerts));
    }

    [Fact]
    public async Task CreateWithoutAdminApiAsync_BrokerInAnotherProcess_AutoCreatesWithDefaultPartitions()
    {
        var options = TestSupport.Options(_broker, "unused");
        using var admin = EmbeddedBrokerTests.Admin(_broker.BootstrapServers);

        await KafkaAdmin.CreateWithoutAdminApiAsync(
            options, admin, [new TopicSpecification { Name = "remote", NumPartitions = 2 }], NullLogger.Instance, CancellationToken.None, allowInProcess: false);

        Assert.Equal(4, EmbeddedBrokerTests.PartitionCount(_broker.BootstrapServers, "remote"));
    }

    [Fact]
    public async Task EnsureTopicsAsync_NoTopics_DoesNothing() =>
        await KafkaAdmin.EnsureTopicsAsync(TestSupport.Options(_broker, "unused"), [], CancellationToken.None);
}
