using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Globalization;
using System.Runtime.InteropServices;
using Vigil.Kafka.Native;

namespace Vigil.Kafka;

/// <summary>
/// An in-memory Kafka-protocol broker: librdkafka's mock cluster, listening on loopback TCP.
/// Real clients (Confluent.Kafka, kcat) talk to it like to any broker. It backs <c>./vigil broker</c>,
/// the embedded default of <c>./vigil serve</c> and the Kafka tests.
/// </summary>
/// <remarks>
/// <para>What the mock cluster in librdkafka 2.16 does, read from its source and checked by the tests:</para>
/// <list type="bullet">
/// <item><description><b>Ports.</b> Each mock broker binds <c>127.0.0.1</c> on a port the kernel picks; librdkafka
/// has no setting for a fixed port (the only mock settings are <c>test.mock.num.brokers</c> and
/// <c>test.mock.broker.rtt</c>). <see cref="Start(int, int)"/> with a port puts a small TCP relay on that port in
/// front of a single mock broker and makes the broker advertise it, so clients see only the fixed port.</description></item>
/// <item><description><b>Topics.</b> A topic is auto-created with 4 partitions (replication factor min(3, brokers)) when
/// a producer writes to it or a Metadata request allowing auto-creation names it (producers' requests do). Consumers
/// do not create it (<c>allow.auto.create.topics</c> is false for them): subscribing to a missing topic logs "Subscribed
/// topic not available" and the consumer waits for it. <see cref="CreateTopic"/> creates a topic with a chosen
/// partition count. The mock does not implement the admin API's CreateTopics (clients report "Topic Admin API (KIP-4)
/// not supported by broker"), so <c>KafkaAdmin.EnsureTopicsAsync</c> creates topics through this method when the
/// broker runs in the same process, and otherwise falls back to auto-creation (4 partitions).</description></item>
/// <item><description><b>Retention.</b> Data lives in memory only. Each partition keeps at most 5 MiB or 100,000
/// record batches; past that the oldest batches are dropped, as a tiny <c>retention.bytes</c> would, and a consumer
/// behind the log start falls back to <c>auto.offset.reset</c>.</description></item>
/// <item><description><b>Groups.</b> The classic group protocol works, including cooperative-sticky assignment,
/// offset commits, <c>LeaveGroup</c> on <c>Close()</c> and rebalances when members come and go. Its timing is not a
/// real broker's: a new group's first rebalance waits <c>group.initial.rebalance.delay.ms</c> (3 s by default, lowered
/// to 250 ms here), but every later one (a member joins, leaves, or rejoins in the second round of a cooperative
/// rebalance) holds the JoinGroup phase open for the group's <c>session.timeout.ms</c> minus 1 s, because the mock
/// does not close it early once every known member has rejoined. With the client default of 45 s, a hand-over takes
/// 44 s or more; clients of the embedded broker should use <see cref="ClientSettings"/>, which shortens it to ~2 s per
/// round. Committed offsets outlive members: one that joins later resumes after them. <c>Consumer.Committed()</c>
/// reported them correctly in a check with plain commits, but DESIGN §6 saw it report unset offsets, so nothing should
/// depend on it.</description></item>
/// <item><description><b>Producers.</b> The idempotent producer works, with lz4 compression (batches are stored as
/// sent). Transactions are accepted but not enforced (checked by <c>TransactionTests</c>): InitTransactions,
/// AddPartitionsToTxn, TxnOffsetCommit and EndTxn all answer without error, but no transaction markers are written, so
/// records of an aborted or abandoned transaction stay visible to read_committed consumers (the last stable offset is
/// always the high watermark), and offsets sent with SendOffsetsToTransaction are not stored for the group. Vigil's
/// exactly_once mode does not rely on either (docs/OPERATIONS.md, Processing guarantees).</description></item>
/// </list>
/// </remarks>
public sealed class EmbeddedBroker : IDisposable
{
    // Long enough for two members that start together to land in one generation, short enough for tests.
    private const int InitialRebalanceDelayMs = 250;

    // Lets KafkaAdmin create topics on an in-process mock, which does not implement CreateTopics.
    private static readonly ConcurrentDictionary<string, EmbeddedBroker> s_running = new(StringComparer.Ordinal);

    private readonly Lock _gate = new();
    private nint _client;
    private nint _cluster;
    private readonly TcpRelay? _relay;

    private EmbeddedBroker(nint client, nint cluster, string bootstrapServers, TcpRelay? relay)
    {
        _client = client;
        _cluster = cluster;
        _relay = relay;
        BootstrapServers = bootstrapServers;
        s_running[bootstrapServers] = this;
    }

    /// <summary>
    /// Client settings for consumers of the embedded broker: a short session timeout, because the mock holds every
    /// rebalance after a group's first for <c>session.timeout.ms</c> minus 1 s. Not meant for a real cluster.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ClientSettings { get; } = new Dictionary<string, string>
    {
        ["session.timeout.ms"] = "3000",
        ["heartbeat.interval.ms"] = "500",
    }.ToFrozenDictionary();

    /// <summary>The comma-separated <c>host:port</c> list clients bootstrap from, e.g. <c>127.0.0.1:39093</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>The librdkafka version that runs the broker.</summary>
    public static string NativeVersion
    {
        get
        {
            Librdkafka.EnsureLoaded();
            return Marshal.PtrToStringUTF8(Librdkafka.rd_kafka_version_str()) ?? "unknown";
        }
    }

    /// <summary>Starts a mock cluster of <paramref name="brokers"/> brokers on kernel-chosen loopback ports.</summary>
    /// <exception cref="DllNotFoundException">librdkafka could not be loaded.</exception>
    /// <exception cref="InvalidOperationException">librdkafka refused to create the cluster.</exception>
    public static EmbeddedBroker Start(int brokers = 1) => Start(brokers, port: 0);

    /// <summary>
    /// Starts a mock cluster; with a non-zero <paramref name="port"/> (one broker only) clients reach it on
    /// <c>127.0.0.1:port</c> through a relay, which is what <c>./vigil broker --port 9092</c> needs.
    /// </summary>
    /// <exception cref="DllNotFoundException">librdkafka could not be loaded.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The fixed port is taken.</exception>
    public static EmbeddedBroker Start(int brokers, int port)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        if (port != 0 && brokers != 1)
        {
            throw new ArgumentException("A fixed port needs a single broker: every broker advertises its own port.", nameof(port));
        }

        Librdkafka.EnsureLoaded();
        var client = CreateOwnerHandle();
        var cluster = Librdkafka.rd_kafka_mock_cluster_new(client, brokers);
        if (cluster == 0)
        {
            Librdkafka.rd_kafka_destroy(client);
            throw new InvalidOperationException("librdkafka could not create the mock cluster (no loopback port free?).");
        }

        Librdkafka.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, InitialRebalanceDelayMs);
        Librdkafka.rd_kafka_mock_set_controller_id(cluster, 1);
        var bootstraps = Marshal.PtrToStringUTF8(Librdkafka.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster reported no bootstrap servers.");
        if (port == 0)
        {
            return new EmbeddedBroker(client, cluster, bootstraps, relay: null);
        }

        TcpRelay relay;
        try
        {
            relay = TcpRelay.Start(port, ParseEndpointPort(bootstraps));
        }
        catch
        {
            Librdkafka.rd_kafka_mock_cluster_destroy(cluster);
            Librdkafka.rd_kafka_destroy(client);
            throw;
        }

        Librdkafka.rd_kafka_mock_broker_set_host_port(cluster, 1, "127.0.0.1", port);
        return new EmbeddedBroker(client, cluster, "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), relay);
    }

    /// <summary>Creates <paramref name="topic"/> with <paramref name="partitions"/> partitions.</summary>
    /// <exception cref="InvalidOperationException">The topic exists already, or the arguments are invalid.</exception>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        var error = TryCreateTopic(topic, partitions, replicationFactor);
        if (error != 0)
        {
            throw new InvalidOperationException($"Could not create topic '{topic}': {Librdkafka.ErrorText(error)}.");
        }
    }

    /// <summary>The running in-process broker that serves <paramref name="bootstrapServers"/>, if any.</summary>
    internal static EmbeddedBroker? Find(string bootstrapServers) =>
        s_running.TryGetValue(bootstrapServers, out var broker) ? broker : null;

    /// <returns>0, or librdkafka's error code (36 when the topic exists).</returns>
    internal int TryCreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == 0, this);
            return Librdkafka.rd_kafka_mock_topic_create(_cluster, topic, partitions, replicationFactor);
        }
    }

    /// <summary>Stops the brokers; their data is gone. Connected clients see the connections close.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster == 0)
            {
                return;
            }

            s_running.TryRemove(new KeyValuePair<string, EmbeddedBroker>(BootstrapServers, this));
            _relay?.Dispose();
            // The cluster must go before the rd_kafka_t that owns it (librdkafka asserts on the reverse).
            Librdkafka.rd_kafka_mock_cluster_destroy(_cluster);
            Librdkafka.rd_kafka_destroy(_client);
            _cluster = 0;
            _client = 0;
        }
    }

    private static unsafe nint CreateOwnerHandle()
    {
        const int errorSize = 512;
        var error = stackalloc byte[errorSize];
        var conf = Librdkafka.rd_kafka_conf_new();
        // The owning handle never connects anywhere; it only books the mock cluster. Warnings and up still reach
        // stderr, where a broken listener should be seen.
        Set("log_level", "4");
        Set("client.id", "vigil-embedded-broker");

        var handle = Librdkafka.rd_kafka_new(Librdkafka.ProducerType, conf, error, errorSize);
        if (handle == 0)
        {
            Librdkafka.rd_kafka_conf_destroy(conf); // rd_kafka_new takes ownership only on success
            throw new InvalidOperationException("librdkafka could not create a handle: " + Marshal.PtrToStringUTF8((nint)error));
        }

        return handle;

        void Set(string name, string value)
        {
            if (Librdkafka.rd_kafka_conf_set(conf, name, value, error, errorSize) != Librdkafka.ConfOk)
            {
                Librdkafka.rd_kafka_conf_destroy(conf);
                throw new InvalidOperationException($"librdkafka rejected {name}={value}: " + Marshal.PtrToStringUTF8((nint)error));
            }
        }
    }

    private static int ParseEndpointPort(string bootstraps)
    {
        var first = bootstraps.Split(',')[0];
        return int.Parse(first.AsSpan(first.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);
    }
}
