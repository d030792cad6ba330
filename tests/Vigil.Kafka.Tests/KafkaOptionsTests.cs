namespace Vigil.Kafka.Tests;

public sealed class KafkaOptionsTests
{
    [Theory]
    [InlineData("sasl.password", true)]
    [InlineData("ssl.key.password", true)]
    [InlineData("ssl.keystore.password", true)]
    [InlineData("ssl.key.pem", true)]
    [InlineData("sasl.oauthbearer.client.secret", true)]
    [InlineData("sasl.username", false)]
    [InlineData("security.protocol", false)]
    [InlineData("ssl.ca.location", false)]
    public void IsSecret_KnownSettings_ClassifiesThem(string key, bool secret) => Assert.Equal(secret, KafkaOptions.IsSecret(key));

    [Fact]
    public void DescribeClientSettings_WithPassword_MasksIt()
    {
        var options = new KafkaOptions
        {
            BootstrapServers = "kafka:9092",
            ClientSettings = new Dictionary<string, string>
            {
                ["security.protocol"] = "SASL_SSL",
                ["sasl.username"] = "vigil",
                ["sasl.password"] = "hunter2",
            },
        };

        var description = options.DescribeClientSettings();

        Assert.Equal("sasl.password=***, sasl.username=vigil, security.protocol=SASL_SSL", description);
    }

    private static readonly Dictionary<string, string> s_security = new()
    {
        ["security.protocol"] = "SASL_SSL",
        ["sasl.mechanism"] = "SCRAM-SHA-512",
        ["sasl.username"] = "vigil",
        ["sasl.password"] = "hunter2",
        ["ssl.ca.location"] = "/etc/ssl/certs/ca-certificates.crt",
        ["ssl.endpoint.identification.algorithm"] = "https",
        ["session.timeout.ms"] = "6000",
    };

    [Fact]
    public void Apply_TlsAndSaslSettings_ReachEveryKindOfClient()
    {
        var options = new KafkaOptions { BootstrapServers = "kafka:9093", ClientSettings = s_security };

        var consumer = options.Apply(new Confluent.Kafka.ConsumerConfig());
        var producer = options.Apply(new Confluent.Kafka.ProducerConfig());
        var admin = options.Apply(new Confluent.Kafka.AdminClientConfig());

        foreach (var config in new Confluent.Kafka.ClientConfig[] { consumer, producer, admin })
        {
            Assert.Equal("kafka:9093", config.BootstrapServers);
            Assert.Equal("SASL_SSL", config.Get("security.protocol"));
            Assert.Equal("SCRAM-SHA-512", config.Get("sasl.mechanism"));
            Assert.Equal("vigil", config.SaslUsername);
            Assert.Equal("hunter2", config.SaslPassword);
            Assert.Equal("/etc/ssl/certs/ca-certificates.crt", config.SslCaLocation);
        }
        Assert.Equal(6000, consumer.SessionTimeoutMs);
        Assert.Null(producer.Get("session.timeout.ms"));
    }

    [Fact]
    public void KafkaSource_SaslScramOverTls_LibrdkafkaAcceptsThePassedSettings()
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<SourceRecord>();
        var options = new KafkaOptions { BootstrapServers = "127.0.0.1:9", ClientSettings = s_security };

        var ok = Record.Exception(() => new KafkaSource(options, ["t"], channel.Writer,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<KafkaSource>.Instance).DisposeAsync().AsTask().GetAwaiter().GetResult());
        var missingCa = Assert.Throws<ArgumentException>(() => new KafkaSource(
            options with { ClientSettings = new Dictionary<string, string>(s_security) { ["ssl.ca.location"] = "/nonexistent/ca.pem" } },
            ["t"], channel.Writer, Microsoft.Extensions.Logging.Abstractions.NullLogger<KafkaSource>.Instance));

        Assert.Null(ok);
        Assert.Contains("ssl.ca.location", missingCa.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_GroupId_IsStreamingAnalytics() =>
        Assert.Equal("streaming-analytics", new KafkaOptions { BootstrapServers = "x:1" }.GroupId);

    [Fact]
    public void DeadLetter_Topic_AppendsDlq() => Assert.Equal("user-events.dlq", VigilTopics.DeadLetter(VigilTopics.UserEvents));
}
