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

    [Fact]
    public void Defaults_GroupId_IsStreamingAnalytics() =>
        Assert.Equal("streaming-analytics", new KafkaOptions { BootstrapServers = "x:1" }.GroupId);

    [Fact]
    public void DeadLetter_Topic_AppendsDlq() => Assert.Equal("user-events.dlq", VigilTopics.DeadLetter(VigilTopics.UserEvents));
}
