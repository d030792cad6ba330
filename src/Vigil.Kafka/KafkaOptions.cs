using System.Collections.Frozen;
using System.Text;
using Confluent.Kafka;

namespace Vigil.Kafka;

/// <summary>Where the Kafka cluster is and how to talk to it; shared by the source, the producer and the admin helper.</summary>
public sealed record KafkaOptions
{
    private static readonly string[] s_secretMarkers =
        ["password", "secret", "jaas", "key.pem", "oauthbearer.config", "token", "credentials", "private.key"];

    /// <summary>Comma-separated <c>host:port</c> list (KAFKA_BOOTSTRAP_SERVERS).</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The consumer group every instance joins; partitions are spread across its members.</summary>
    public string GroupId { get; init; } = "streaming-analytics";

    /// <summary>Exactly-once: the consumer does not commit; offsets go into the output transaction.</summary>
    public bool ExactlyOnce { get; init; }

    /// <summary>
    /// librdkafka settings passed through to the producer, the consumer and the admin client, for example
    /// <c>security.protocol</c>, <c>sasl.mechanism</c>, <c>sasl.username</c>, <c>sasl.password</c>,
    /// <c>ssl.ca.location</c>. They override Vigil's defaults except where a guarantee depends on a value
    /// (the consumer's <c>enable.auto.offset.store=false</c>, the producer's idempotence).
    /// </summary>
    public IReadOnlyDictionary<string, string> ClientSettings { get; init; } = FrozenDictionary<string, string>.Empty;

    private static readonly FrozenSet<string> s_consumerOnly = new[]
    {
        "session.timeout.ms", "heartbeat.interval.ms", "group.protocol", "group.instance.id", "group.remote.assignor",
        "partition.assignment.strategy", "max.poll.interval.ms", "auto.offset.reset", "enable.auto.commit",
        "auto.commit.interval.ms", "enable.auto.offset.store", "fetch.min.bytes", "fetch.max.bytes", "fetch.wait.max.ms",
        "max.partition.fetch.bytes", "isolation.level", "enable.partition.eof", "check.crcs", "queued.min.messages",
        "queued.max.messages.kbytes",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>True for settings whose values must never be logged (passwords, keys, tokens).</summary>
    public static bool IsSecret(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        foreach (var marker in s_secretMarkers)
        {
            if (key.Contains(marker, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The settings as <c>key=value</c> pairs with secrets masked, for start-up logs.</summary>
    public string DescribeClientSettings()
    {
        var text = new StringBuilder();
        foreach (var (key, value) in ClientSettings.OrderBy(static p => p.Key, StringComparer.Ordinal))
        {
            text.Append(text.Length == 0 ? "" : ", ").Append(key).Append('=').Append(IsSecret(key) ? "***" : value);
        }

        return text.ToString();
    }

    /// <summary>Fills the connection part of a client configuration, then the pass-through settings.</summary>
    internal T Apply<T>(T config) where T : ClientConfig
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            throw new ArgumentException("Kafka setting BootstrapServers (KAFKA_BOOTSTRAP_SERVERS) is empty.");
        }

        config.BootstrapServers = BootstrapServers;
        var isConsumer = config is ConsumerConfig;
        foreach (var (key, value) in ClientSettings)
        {
            // One settings map serves every client; librdkafka warns about consumer-only keys on the others.
            if (!isConsumer && s_consumerOnly.Contains(key))
            {
                continue;
            }
            config.Set(key, value);
        }

        return config;
    }
}
