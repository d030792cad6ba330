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
}
