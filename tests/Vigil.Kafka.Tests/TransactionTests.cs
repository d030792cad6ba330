using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Vigil.Kafka.Tests;

/// <summary>
/// What librdkafka's mock cluster does with transactions, which the exactly-once design has to live with, and the
/// pieces Vigil builds on top: the read-back reader and start offsets chosen by the caller.
/// </summary>
public sealed class TransactionTests(ITestOutputHelper output) : IDisposable
{
    private readonly EmbeddedBroker _broker = EmbeddedBroker.Start();

    public void Dispose() => _broker.Dispose();

    // If librdkafka's mock starts honouring transaction markers, this fails: the read-back in exactly_once mode is
    // then no longer the only thing keeping aborted outputs from downstream consumers on the embedded broker.
    [Fact]
    public void TransactionLeftOpen_OnTheMockCluster_IsVisibleToReadCommittedConsumers()
    {
        _broker.CreateTopic("out", 1);
        var options = TestSupport.Options(_broker, "g");
        using (var tx = new TransactionalProducer(options, "tx-open", TimeSpan.FromMinutes(1), new TestLogger<TransactionalProducer>(output)))
        {
            tx.Produce("out", "a", [1]);
            tx.Commit([], new NoGroup());
            tx.Produce("out", "b", [2]);
        }
        // A new incarnation with the same id fences the old one; a real broker aborts its open transaction here.
        using (new TransactionalProducer(options, "tx-open", TimeSpan.FromMinutes(1), new TestLogger<TransactionalProducer>(output)))
        {
        }

        using var reader = new CommittedTopicReader(options, "out", NullLogger.Instance);
        var values = new List<byte>();
        reader.Read(null, v => values.Add(v[0]), TestSupport.Patience);

        Assert.Equal([1, 2], values);
    }

    // Why exactly_once seeks to its own checkpoints: the mock accepts TxnOffsetCommit but stores nothing.
    [Fact]
    public async Task SendOffsetsToTransaction_OnTheMockCluster_IsNotSeenByTheNextMember()
    {
        _broker.CreateTopic("in", 1);
        var options = TestSupport.Options(_broker, "g-offsets");
        using (var plain = new KafkaProducer(options, NullLogger<KafkaProducer>.Instance))
        {
            for (var i = 0; i < 10; i++)
            {
                plain.Produce("in", "k", [(byte)i]);
            }
            plain.Flush(TestSupport.Patience);
        }
        var first = Channel.CreateUnbounded<SourceRecord>();
        await using (var source = new KafkaSource(options with { ExactlyOnce = true }, ["in"], first.Writer, NullLogger<KafkaSource>.Instance))
        {
            source.Start(CancellationToken.None);
            Assert.Equal(10, (await TestSupport.ReadAsync(first.Reader, 10)).Count);
            using var tx = new TransactionalProducer(options, "tx-offsets", TimeSpan.FromMinutes(1), new TestLogger<TransactionalProducer>(output));
            tx.Commit([new TopicPartitionOffset("in", 0, 10)], source.GroupMetadata!);
        }

        var second = Channel.CreateUnbounded<SourceRecord>();
        await using var next = new KafkaSource(options, ["in"], second.Writer, NullLogger<KafkaSource>.Instance);
        next.Start(CancellationToken.None);
        var again = await TestSupport.ReadAsync(second.Reader, 1);

        Assert.Equal(0, Assert.Single(again).Offset);
    }

    [Fact]
    public async Task StartOffsets_ProviderAnswers_PartitionStartsThereInsteadOfTheLogStart()
    {
        _broker.CreateTopic("seek", 2);
        var options = TestSupport.Options(_broker, "g-seek");
        using (var plain = new KafkaProducer(options, NullLogger<KafkaProducer>.Instance))
        {
            for (var i = 0; i < 20; i++)
            {
                await plain.ProduceAsync("seek", $"k{i}", [(byte)i], CancellationToken.None);
            }
        }
        var channel = Channel.CreateUnbounded<SourceRecord>();
        await using var source = new KafkaSource(options, ["seek"], channel.Writer, NullLogger<KafkaSource>.Instance)
        {
            StartOffsets = partitions => partitions.Where(p => p.Partition == 0).ToDictionary(p => p, _ => 3L),
        };
        source.Start(CancellationToken.None);

        var records = await TestSupport.ReadUntilQuietAsync(channel.Reader, TimeSpan.FromSeconds(3));

        Assert.Equal(3, records.Where(r => r.Partition == 0).Min(r => r.Offset));
        Assert.Equal(0, records.Where(r => r.Partition == 1).Min(r => r.Offset));
    }

    [Fact]
    public async Task CommittedTopicReader_FromRecordedEnds_ReadsOnlyWhatCameAfter()
    {
        _broker.CreateTopic("tail", 2);
        var options = TestSupport.Options(_broker, "g-tail");
        using var producer = new KafkaProducer(options, NullLogger<KafkaProducer>.Instance);
        for (var i = 0; i < 6; i++)
        {
            await producer.ProduceAsync("tail", $"k{i}", [(byte)i], CancellationToken.None);
        }
        using var reader = new CommittedTopicReader(options, "tail", NullLogger.Instance);
        var ends = reader.EndOffsets(TestSupport.Patience);
        for (var i = 6; i < 10; i++)
        {
            await producer.ProduceAsync("tail", $"k{i}", [(byte)i], CancellationToken.None);
        }

        var all = new List<byte>();
        var tail = new List<byte>();
        reader.Read(null, v => all.Add(v[0]), TestSupport.Patience);
        reader.Read(ends, v => tail.Add(v[0]), TestSupport.Patience);

        Assert.Equal(6, ends.Values.Sum());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (byte)i), all.Order());
        Assert.Equal(Enumerable.Range(6, 4).Select(i => (byte)i), tail.Order());
    }

    [Fact]
    public void CommittedTopicReader_EmptyTopic_ReturnsAtOnceWithNothing()
    {
        _broker.CreateTopic("empty", 3);
        using var reader = new CommittedTopicReader(TestSupport.Options(_broker, "g-empty"), "empty", NullLogger.Instance);

        var count = reader.Read(null, _ => { }, TestSupport.Patience);

        Assert.Equal(0, count);
        Assert.All(reader.EndOffsets(TestSupport.Patience).Values, end => Assert.Equal(0, end));
    }

    private sealed class NoGroup : IConsumerGroupMetadata;
}
