using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Vigil.Kafka;

/// <summary>Topic administration at start-up.</summary>
public static class KafkaAdmin
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Creates the topics that do not exist yet; existing ones are left alone (even with another partition count).
    /// The replication factor is the cluster's default (<c>default.replication.factor</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">A topic could not be created; the message names it and why.</exception>
    /// <summary>
    /// The readiness probe: asks the cluster for its broker list. A closed broker, a wrong address or bad credentials
    /// show as a description of the problem; null means the cluster answered.
    /// </summary>
    public static async Task<string?> ProbeAsync(KafkaOptions o, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        var config = o.Apply(new AdminClientConfig { ClientId = KafkaLogging.ClientId("health"), SocketTimeoutMs = (int)timeout.TotalMilliseconds });
        try
        {
            using var admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).Build();
            // GetMetadata blocks; keep it off the caller's thread.
            var metadata = await Task.Run(() => admin.GetMetadata(timeout), ct);
            return metadata.Brokers.Count > 0 ? null : "the cluster reported no brokers";
        }
        catch (KafkaException ex)
        {
            return ex.Error.Reason;
        }
    }

    /// <summary>How many partitions <paramref name="topic"/> has; null when the cluster does not answer in time or has no such topic.</summary>
    public static async Task<int?> PartitionCountAsync(KafkaOptions o, string topic, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        var config = o.Apply(new AdminClientConfig { ClientId = KafkaLogging.ClientId("admin"), SocketTimeoutMs = (int)timeout.TotalMilliseconds });
        try
        {
            using var admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).Build();
            // GetMetadata blocks; keep it off the caller's thread.
            var metadata = await Task.Run(() => admin.GetMetadata(topic, timeout), ct);
            var found = metadata.Topics.Find(t => t.Topic == topic);
            return found is null || found.Error.IsError || found.Partitions.Count == 0 ? null : found.Partitions.Count;
        }
        catch (KafkaException)
        {
            return null;
        }
    }

    public static Task EnsureTopicsAsync(KafkaOptions o, IEnumerable<(string Topic, int Partitions)> topics, CancellationToken ct) =>
        EnsureTopicsAsync(o, topics, NullLogger.Instance, ct);

    /// <inheritdoc cref="EnsureTopicsAsync(KafkaOptions, IEnumerable{ValueTuple{string, int}}, CancellationToken)"/>
    public static async Task EnsureTopicsAsync(KafkaOptions o, IEnumerable<(string Topic, int Partitions)> topics, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(logger);

        var specifications = new List<TopicSpecification>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (topic, partitions) in topics)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(topic);
            ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
            // A repeated name would fail the whole request as invalid.
            if (seen.Add(topic))
            {
                specifications.Add(new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = -1 });
            }
        }

        if (specifications.Count == 0)
        {
            return;
        }

        var config = o.Apply(new AdminClientConfig { ClientId = KafkaLogging.ClientId("admin") });
        using var admin = new AdminClientBuilder(config)
            .SetLogHandler((_, message) => KafkaLogging.Forward(logger, message))
            .Build();
        try
        {
            await admin.CreateTopicsAsync(specifications, new CreateTopicsOptions { RequestTimeout = s_timeout, OperationTimeout = s_timeout })
                .WaitAsync(ct);
            logger.LogInformation("Kafka topics created: {Topics}", string.Join(", ", specifications.Select(static s => s.Name)));
        }
        catch (KafkaException e) when (e is not CreateTopicsException && e.Error.Code == ErrorCode.Local_UnsupportedFeature)
        {
            // librdkafka's mock broker (the embedded default) has no CreateTopics.
            await CreateWithoutAdminApiAsync(o, admin, specifications, logger, ct);
        }
        catch (CreateTopicsException e)
        {
            var failures = new List<string>();
            foreach (var result in e.Results)
            {
                if (result.Error.Code == ErrorCode.TopicAlreadyExists)
                {
                    continue;
                }

                if (result.Error.IsError)
                {
                    failures.Add($"{result.Topic}: {result.Error.Reason}");
                }
                else
                {
                    logger.LogInformation("Kafka topic created: {Topic}", result.Topic);
                }
            }

            if (failures.Count > 0)
            {
                throw new InvalidOperationException("Could not create Kafka topics: " + string.Join("; ", failures), e);
            }
        }
    }

    /// <summary>
    /// Topic creation for a broker without the admin API: through the in-process mock's own call when there is one,
    /// else by asking for the topics' metadata, which makes the mock auto-create them with its default of 4 partitions.
    /// </summary>
    internal static async Task CreateWithoutAdminApiAsync(
        KafkaOptions o, IAdminClient admin, List<TopicSpecification> specifications, ILogger logger, CancellationToken ct, bool allowInProcess = true)
    {
        var broker = allowInProcess ? EmbeddedBroker.Find(o.BootstrapServers) : null;
        foreach (var specification in specifications)
        {
            ct.ThrowIfCancellationRequested();
            if (broker is not null)
            {
                var error = broker.TryCreateTopic(specification.Name, specification.NumPartitions);
                if (error is not (0 or (int)ErrorCode.TopicAlreadyExists))
                {
                    throw new InvalidOperationException($"Could not create Kafka topic {specification.Name} on the embedded broker: error {error}.");
                }

                continue;
            }

            // GetMetadata blocks; it is start-up work, off the caller's thread.
            var metadata = await Task.Run(() => admin.GetMetadata(specification.Name, s_timeout), ct);
            var topic = metadata.Topics.Find(t => t.Topic == specification.Name);
            if (topic is null || topic.Error.IsError)
            {
                throw new InvalidOperationException(
                    $"Could not create Kafka topic {specification.Name}: the broker has no CreateTopics and did not auto-create it ({topic?.Error.Reason ?? "no metadata"}).");
            }

            if (topic.Partitions.Count != specification.NumPartitions)
            {
                logger.LogWarning(
                    "Kafka topic {Topic} has {Actual} partitions, not {Wanted}: the broker has no CreateTopics, so it was auto-created",
                    specification.Name, topic.Partitions.Count, specification.NumPartitions);
            }
        }
    }
}
