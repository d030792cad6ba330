using Microsoft.Extensions.Configuration;
using Vigil.Server.Cli;
using Vigil.Server.Hosting;

namespace Vigil.Server.Tests;

public sealed class OptionsTests
{
    private static VigilOptions From(params (string Key, string Value)[] settings) =>
        VigilOptions.From(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Fact]
    public void From_Nothing_GivesEmbeddedDefaults()
    {
        var o = From();

        Assert.True(o.UsesEmbeddedBroker);
        Assert.True(o.RunsSimulator);
        Assert.Equal("streaming-analytics", o.ConsumerGroup);
        Assert.Equal("user-events", o.UserEventsTopic);
        Assert.Equal("security-alerts", o.SecurityAlertsTopic);
        Assert.Equal("http://127.0.0.1:8082", o.Urls);
        Assert.Equal(TimeSpan.FromMinutes(5), o.MaxFutureSkew);
        Assert.Null(o.PostgresUrl);
    }

    [Fact]
    public void From_OriginalStackNames_AreHonoured()
    {
        var o = From(("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092"), ("POSTGRES_URL", "jdbc:postgresql://db:5432/x"),
            ("POSTGRES_USER", "u"), ("POSTGRES_PASSWORD", "p"));

        Assert.False(o.UsesEmbeddedBroker);
        Assert.False(o.RunsSimulator);
        Assert.Equal("k1:9092,k2:9092", o.KafkaBootstrapServers);
        Assert.Equal("jdbc:postgresql://db:5432/x", o.PostgresUrl);
        Assert.Equal("u", o.PostgresUser);
    }

    [Fact]
    public void From_KafkaClientSettings_PassThrough()
    {
        var o = From(("Vigil:Kafka:Client:security.protocol", "SASL_SSL"), ("Vigil:Kafka:Client:sasl.mechanism", "SCRAM-SHA-512"));

        Assert.Equal("SASL_SSL", o.KafkaClientSettings["security.protocol"]);
        Assert.Equal("SCRAM-SHA-512", o.KafkaClientSettings["sasl.mechanism"]);
    }

    [Theory]
    [InlineData("Vigil:Simulator:Rate", "fast")]
    [InlineData("Vigil:Simulator:Users", "0")]
    [InlineData("Vigil:Kafka:Partitions", "-1")]
    [InlineData("Vigil:Simulator:Enabled", "maybe")]
    [InlineData("Vigil:Ingest:MaxFutureSkew", "soon")]
    [InlineData("Vigil:Simulator:AttackInterval", "0")]
    [InlineData("Vigil:Urls", "not a url")]
    [InlineData("Vigil:Topics:UserEvents", " ")]
    public void From_BadValue_ThrowsNamingTheSetting(string key, string value)
    {
        var ex = Assert.Throws<OptionsException>(() => From((key, value)));

        Assert.Equal(key, ex.Setting);
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CliArgs_UnknownFlag_ThrowsNamingIt()
    {
        var ex = Assert.Throws<UsageException>(() => CliArgs.Parse(["--nope"], ["alerts"], ["help"]));

        Assert.Contains("--nope", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CliArgs_ValueForms_AndPositionals_AreParsed()
    {
        var cli = CliArgs.Parse(["in.jsonl", "--alerts", "a.jsonl", "--limit=5", "--help"], ["alerts", "limit"], ["help"]);

        Assert.Equal(["in.jsonl"], cli.Positionals);
        Assert.Equal("a.jsonl", cli.Get("alerts"));
        Assert.Equal(5, cli.GetInt("limit", 0, 1, 10));
        Assert.True(cli.Flag("help"));
        Assert.Throws<UsageException>(() => cli.GetInt("limit", 0, 6, 10));
        Assert.Throws<UsageException>(() => CliArgs.Parse(["--alerts"], ["alerts"], []));
    }

    [Fact]
    public void From_KafkaClientSecuritySettings_ReachTheKafkaOptions()
    {
        var o = From(("KAFKA_BOOTSTRAP_SERVERS", "kafka:9093"), ("Vigil:Kafka:Client:security.protocol", "SASL_SSL"),
            ("Vigil:Kafka:Client:sasl.mechanism", "SCRAM-SHA-256"), ("Vigil:Kafka:Client:sasl.username", "vigil"),
            ("Vigil:Kafka:Client:sasl.password", "secret"), ("Vigil:Kafka:Client:ssl.ca.location", "/etc/kafka/ca.pem"));

        var kafka = Pipeline.KafkaOptionsFactory.Create(o);

        Assert.Equal("SASL_SSL", kafka.ClientSettings["security.protocol"]);
        Assert.Equal("SCRAM-SHA-256", kafka.ClientSettings["sasl.mechanism"]);
        Assert.Equal("vigil", kafka.ClientSettings["sasl.username"]);
        Assert.Equal("secret", kafka.ClientSettings["sasl.password"]);
        Assert.Equal("/etc/kafka/ca.pem", kafka.ClientSettings["ssl.ca.location"]);
        Assert.DoesNotContain("secret", kafka.DescribeClientSettings(), StringComparison.Ordinal);
    }

    [Fact]
    public void From_ExactlyOnce_TransactionalIdStablePerInstanceAndTimeoutAboveTheInterval()
    {
        var a = From(("PROCESSING_GUARANTEE", "exactly_once"), ("Vigil:Urls", "http://127.0.0.1:8083"), ("Vigil:Engine:CheckpointInterval", "2m"));
        var again = From(("PROCESSING_GUARANTEE", "exactly_once"), ("Vigil:Urls", "http://127.0.0.1:8083"));
        var other = From(("PROCESSING_GUARANTEE", "exactly_once"), ("Vigil:Urls", "http://127.0.0.1:8084"));
        var named = From(("Vigil:Kafka:TransactionalId", "vigil-eu-1"));

        Assert.True(a.ExactlyOnce);
        Assert.Equal(a.TransactionalId, again.TransactionalId);
        Assert.NotEqual(a.TransactionalId, other.TransactionalId);
        Assert.Equal("vigil-eu-1", named.TransactionalId);
        Assert.Equal(TimeSpan.FromMinutes(6), a.TransactionTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), again.TransactionTimeout);
    }

    [Fact]
    public void From_IdleTimeout_DefaultsTo30sAndRefusesNonsenseNamingTheSetting()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), From().IdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), From(("Vigil:Engine:IdleTimeout", "2m")).IdleTimeout);
        var error = Assert.Throws<OptionsException>(() => From(("Vigil:Engine:IdleTimeout", "soon")));
        Assert.Contains("Vigil:Engine:IdleTimeout", error.Message, StringComparison.Ordinal);
    }
}
