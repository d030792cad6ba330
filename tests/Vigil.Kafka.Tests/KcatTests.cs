using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Xunit.Abstractions;

namespace Vigil.Kafka.Tests;

/// <summary>A fact that runs only where Debian's kcat is installed, and says so when it is skipped.</summary>
internal sealed class KcatFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/kcat";

    public KcatFactAttribute()
    {
        if (!File.Exists(Path))
        {
            Skip = $"{Path} is not installed (Debian package kcat); it is the independent Kafka client this test needs.";
        }
    }
}

public sealed class KcatTests(ITestOutputHelper output) : IDisposable
{
    private readonly EmbeddedBroker _broker = EmbeddedBroker.Start();

    public void Dispose() => _broker.Dispose();

    [KcatFact]
    public async Task Kcat_ProducesOverTcp_KafkaSourceReadsKeysAndValues()
    {
        const string topic = "from-kcat";
        _broker.CreateTopic(topic, 2);
        var lines = Enumerable.Range(0, 50).Select(static i => $"user-{i % 5}|{{\"eventId\":\"e{i}\"}}").ToList();

        var start = new ProcessStartInfo(KcatFactAttribute.Path, ["-P", "-b", _broker.BootstrapServers, "-t", topic, "-K", "|"])
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
        };
        using (var kcat = Process.Start(start)!)
        {
            foreach (var line in lines)
            {
                await kcat.StandardInput.WriteLineAsync(line);
            }

            kcat.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TestSupport.Patience);
            await kcat.WaitForExitAsync(timeout.Token);
            Assert.True(kcat.ExitCode == 0, "kcat failed: " + await kcat.StandardError.ReadToEndAsync(timeout.Token));
        }

        var channel = Channel.CreateBounded<SourceRecord>(100);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer, new TestLogger<KafkaSource>(output));
        source.Start(CancellationToken.None);
        var records = await TestSupport.ReadAsync(channel.Reader, 50);

        Assert.Equal(
            lines.Order(StringComparer.Ordinal),
            records.Select(static r => Encoding.UTF8.GetString(r.Key!) + "|" + Encoding.UTF8.GetString(r.Value.Span)).Order(StringComparer.Ordinal));
    }
}
