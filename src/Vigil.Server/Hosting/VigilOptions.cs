using Microsoft.Extensions.Configuration;
using Vigil.Core;
using Vigil.Kafka;

namespace Vigil.Server.Hosting;

/// <summary>
/// The service's settings, read from ASP.NET Core configuration (appsettings.json, then environment
/// variables, then flags). The names users of the original stack know (KAFKA_BOOTSTRAP_SERVERS,
/// POSTGRES_URL, POSTGRES_USER, POSTGRES_PASSWORD) are honoured as they are.
/// </summary>
public sealed record VigilOptions
{
    /// <summary>Kafka bootstrap servers; empty means start the embedded broker.</summary>
    public string? KafkaBootstrapServers { get; init; }

    /// <summary>Extra librdkafka settings passed through to every client (TLS, SASL/SCRAM, …).</summary>
    public IReadOnlyDictionary<string, string> KafkaClientSettings { get; init; } = new Dictionary<string, string>();

    public string ConsumerGroup { get; init; } = "streaming-analytics";

    public string UserEventsTopic { get; init; } = "user-events";

    public string NotificationsTopic { get; init; } = "notifications";

    public string SecurityAlertsTopic { get; init; } = "security-alerts";

    public string AnalyticsInsightsTopic { get; init; } = "analytics-insights";

    /// <summary>
    /// Internal, one partition: every instance forwards the user events it decodes here, and the instance the group
    /// assigns its partition runs the IP and tenant rules over all of them (the shared stage).
    /// </summary>
    public string SharedTopic { get; init; } = VigilTopics.Shared;

    /// <summary>Partitions of topics Vigil creates.</summary>
    public int Partitions { get; init; } = 4;

    /// <summary>A PostgreSQL URL or connection string; empty means SQLite under <see cref="DataDirectory"/>.</summary>
    public string? PostgresUrl { get; init; }

    public string? PostgresUser { get; init; }

    public string? PostgresPassword { get; init; }

    public string DataDirectory { get; init; } = "./data";

    /// <summary>Where the dashboard and API listen.</summary>
    public string Urls { get; init; } = "http://127.0.0.1:8082";

    /// <summary>Run the built-in simulator feeding <see cref="UserEventsTopic"/>. Default: on with the embedded broker.</summary>
    public bool? SimulatorEnabled { get; init; }

    public int SimulatorUsers { get; init; } = 2000;

    /// <summary>Mean legitimate events per second from the live simulator.</summary>
    public double SimulatorRate { get; init; } = 50;

    public int SimulatorSeed { get; init; } = 1;

    /// <summary>Mean time between simulated attack campaigns.</summary>
    public TimeSpan SimulatorAttackInterval { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>Event times further ahead of the wall clock are dead-lettered.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest message accepted; larger ones are dead-lettered.</summary>
    public int MaxMessageBytes { get; init; } = 1024 * 1024;

    /// <summary>Set by serve once it has started the embedded broker and filled in its address.</summary>
    public bool EmbeddedBrokerStarted { get; init; }

    /// <summary>
    /// at_least_once (default): outputs may repeat after a crash, with the same alert ids, which the stores drop.
    /// exactly_once: outputs go to Kafka in transactions committed with the consumed offsets at each checkpoint.
    /// </summary>
    public bool ExactlyOnce { get; init; }

    /// <summary>
    /// exactly_once: the output producer's <c>transactional.id</c>, stable across restarts of this instance so a restart
    /// fences its previous incarnation and aborts what it left open. Unique per live instance.
    /// </summary>
    public string TransactionalId { get; init; } = "";

    /// <summary>exactly_once: how long the broker keeps a transaction open: three checkpoint intervals, at least a minute.</summary>
    public TimeSpan TransactionTimeout =>
        TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(1).Ticks, CheckpointInterval.Ticks * 3));

    /// <summary>How often each partition's state is checkpointed and its offset committed (Flink's default interval).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// An input partition with no events for this long (wall clock) stops holding event time back: in a partition's
    /// pipeline, and in the shared stage's reorder buffer, which then moves on without it.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Names this deployment's checkpoints; the consumer group unless the embedded broker runs.</summary>
    public string CheckpointJobId => EmbeddedBrokerStarted ? "embedded" : ConsumerGroup;

    /// <summary>Closed alerts older than this (by event time) are deleted.</summary>
    public TimeSpan AlertRetention { get; init; } = TimeSpan.FromDays(90);

    /// <summary>Keep open alerts whatever their age (the default): nobody has looked at them yet.</summary>
    public bool RetainOpenAlerts { get; init; } = true;

    public TimeSpan DeadLetterRetention { get; init; } = TimeSpan.FromDays(14);

    public TimeSpan AuditRetention { get; init; } = TimeSpan.FromDays(365);

    /// <summary>Largest body POST /api/events accepts.</summary>
    public int IngestMaxRequestBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Requests per second per caller on POST /api/events.</summary>
    public int IngestRequestsPerSecond { get; init; } = 20;

    public bool UsesEmbeddedBroker => EmbeddedBrokerStarted || string.IsNullOrWhiteSpace(KafkaBootstrapServers);

    public bool RunsSimulator => SimulatorEnabled ?? UsesEmbeddedBroker;

    /// <summary>Reads and validates the options; a bad value throws an <see cref="OptionsException"/> naming the setting.</summary>
    public static VigilOptions From(IConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var section = config.GetSection("Vigil");
        var kafkaSettings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var child in section.GetSection("Kafka:Client").GetChildren())
        {
            if (child.Value is { } value)
            {
                kafkaSettings[child.Key] = value;
            }
        }
        var options = new VigilOptions
        {
            KafkaBootstrapServers = config["KAFKA_BOOTSTRAP_SERVERS"] ?? section["Kafka:BootstrapServers"],
            KafkaClientSettings = kafkaSettings,
            ConsumerGroup = section["Kafka:GroupId"] ?? "streaming-analytics",
            UserEventsTopic = section["Topics:UserEvents"] ?? "user-events",
            NotificationsTopic = section["Topics:Notifications"] ?? "notifications",
            SecurityAlertsTopic = section["Topics:SecurityAlerts"] ?? "security-alerts",
            AnalyticsInsightsTopic = section["Topics:AnalyticsInsights"] ?? "analytics-insights",
            SharedTopic = section["Topics:Shared"] ?? VigilTopics.Shared,
            Partitions = Int(section, "Kafka:Partitions", 4, 1, 1024),
            PostgresUrl = config["POSTGRES_URL"] ?? section["Storage:PostgresUrl"],
            PostgresUser = config["POSTGRES_USER"],
            PostgresPassword = config["POSTGRES_PASSWORD"],
            DataDirectory = section["Storage:DataDirectory"] ?? "./data",
            Urls = section["Urls"] ?? "http://127.0.0.1:8082",
            SimulatorEnabled = Bool(section, "Simulator:Enabled"),
            SimulatorUsers = Int(section, "Simulator:Users", 2000, 1, 10_000_000),
            SimulatorRate = Double(section, "Simulator:Rate", 50, 0.01, 1_000_000),
            SimulatorSeed = Int(section, "Simulator:Seed", 1, int.MinValue, int.MaxValue),
            SimulatorAttackInterval = Time(section, "Simulator:AttackInterval", TimeSpan.FromSeconds(45)),
            MaxFutureSkew = Time(section, "Ingest:MaxFutureSkew", TimeSpan.FromMinutes(5)),
            MaxMessageBytes = Int(section, "Ingest:MaxMessageBytes", 1024 * 1024, 1024, 64 * 1024 * 1024),
            CheckpointInterval = Time(section, "Engine:CheckpointInterval", TimeSpan.FromSeconds(30)),
            IdleTimeout = Time(section, "Engine:IdleTimeout", TimeSpan.FromSeconds(30)),
            ExactlyOnce = (config["PROCESSING_GUARANTEE"] ?? section["ProcessingGuarantee"] ?? "at_least_once").ToLowerInvariant() switch
            {
                "at_least_once" => false,
                "exactly_once" or "exactly_once_v2" => true,
                var other => throw new OptionsException("Vigil:ProcessingGuarantee", $"'{other}' is not at_least_once or exactly_once."),
            },
            AlertRetention = Time(section, "Storage:AlertRetention", TimeSpan.FromDays(90)),
            RetainOpenAlerts = Bool(section, "Storage:RetainOpenAlerts") ?? true,
            DeadLetterRetention = Time(section, "Storage:DeadLetterRetention", TimeSpan.FromDays(14)),
            AuditRetention = Time(section, "Storage:AuditRetention", TimeSpan.FromDays(365)),
            IngestMaxRequestBytes = Int(section, "Ingest:MaxRequestBytes", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
            IngestRequestsPerSecond = Int(section, "Ingest:RequestsPerSecond", 20, 1, 1_000_000),
        };
        options = options with
        {
            // Default: group, host and HTTP port, which tell apart instances on one machine as well as across machines.
            TransactionalId = section["Kafka:TransactionalId"]
                ?? $"vigil-{options.ConsumerGroup}-{Environment.MachineName}-{PortOf(options.Urls)}",
        };
        foreach (var (name, value) in new[]
        {
            ("Vigil:Topics:UserEvents", options.UserEventsTopic), ("Vigil:Topics:Notifications", options.NotificationsTopic),
            ("Vigil:Topics:SecurityAlerts", options.SecurityAlertsTopic), ("Vigil:Topics:AnalyticsInsights", options.AnalyticsInsightsTopic),
            ("Vigil:Topics:Shared", options.SharedTopic),
            ("Vigil:Kafka:GroupId", options.ConsumerGroup),
        })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > 249)
            {
                throw new OptionsException(name, $"'{value}' is not a valid Kafka name.");
            }
        }
        if (!Uri.TryCreate(options.Urls.Split(';')[0], UriKind.Absolute, out _))
        {
            throw new OptionsException("Vigil:Urls", $"'{options.Urls}' is not a URL such as http://127.0.0.1:8082.");
        }
        return options;
    }

    private static string PortOf(string urls) =>
        Uri.TryCreate(urls.Split(';')[0], UriKind.Absolute, out var uri) ? uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0";

    private static int Int(IConfiguration section, string key, int fallback, int min, int max) =>
        Number(section, key, fallback, min, max, "a whole number");

    private static double Double(IConfiguration section, string key, double fallback, double min, double max) =>
        Number(section, key, fallback, min, max, "a number");

    private static T Number<T>(IConfiguration section, string key, T fallback, T min, T max, string what)
        where T : struct, System.Numerics.INumber<T>
    {
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }
        if (!T.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            || v < min || v > max || (typeof(T) == typeof(int) && text.Contains('.', StringComparison.Ordinal)))
        {
            throw new OptionsException("Vigil:" + key, $"'{text}' is not {what} from {min} to {max}.");
        }
        return v;
    }

    private static bool? Bool(IConfiguration section, string key)
    {
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        return bool.TryParse(text, out var v) ? v : throw new OptionsException("Vigil:" + key, $"'{text}' is not true or false.");
    }

    private static TimeSpan Time(IConfiguration section, string key, TimeSpan fallback)
    {
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }
        return Durations.TryParse(text, out var v) && v > TimeSpan.Zero
            ? v
            : throw new OptionsException("Vigil:" + key, $"'{text}' is not a duration such as 30s, 5m or 00:05:00.");
    }
}

/// <summary>A bad setting: the message names it, and start-up stops.</summary>
public sealed class OptionsException(string setting, string problem)
    : Exception($"Bad setting {setting}: {problem}")
{
    public string Setting { get; } = setting;
}
