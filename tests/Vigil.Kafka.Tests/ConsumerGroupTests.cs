using System.Collections.Concurrent;
using System.Threading.Channels;
using Xunit.Abstractions;

namespace Vigil.Kafka.Tests;

public sealed class ConsumerGroupTests(ITestOutputHelper output) : IDisposable
{
    private const string Topic = "grouped";
    private readonly EmbeddedBroker _broker = EmbeddedBroker.Start();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task TwoSources_SameGroup_SplitPartitionsAndTogetherReadEverything()
    {
        _broker.CreateTopic(Topic, 4);
        var group = TestSupport.Unique("g");
        var channel = Channel.CreateBounded<SourceRecord>(1000);
        await using var first = NewSource(group, channel.Writer);
        await using var second = NewSource(group, channel.Writer);

        first.Start(CancellationToken.None);
        second.Start(CancellationToken.None);
        await TestSupport.WaitUntilAsync(
            () => first.Assignment.Count > 0 && second.Assignment.Count > 0 && first.Assignment.Count + second.Assignment.Count == 4,
            "both members own partitions");
        await ProduceAsync(400);
        var records = await TestSupport.ReadAsync(channel.Reader, 400);

        Assert.Equal(400, records.Count);
        Assert.Equal(400, records.Select(static r => (r.Partition, r.Offset)).Distinct().Count());
        Assert.Empty(first.Assignment.Intersect(second.Assignment));
        Assert.Equal(2, first.Assignment.Count);
    }

    [Fact]
    public async Task DisposeOneSource_CooperativeSticky_OtherTakesOverWhereItLeftOff()
    {
        _broker.CreateTopic(Topic, 4);
        var group = TestSupport.Unique("g");
        var revokedFromSurvivor = new ConcurrentQueue<KafkaPartition>();
        var leaving = new Member(NewSource, group);
        await using var staying = new Member(NewSource, group);
        staying.Source.PartitionsRevoked += partitions => { foreach (var p in partitions) { revokedFromSurvivor.Enqueue(p); } };

        leaving.Source.Start(CancellationToken.None);
        staying.Source.Start(CancellationToken.None);
        await TestSupport.WaitUntilAsync(() => leaving.Source.Assignment.Count == 2 && staying.Source.Assignment.Count == 2, "the partitions are split 2/2");
        var kept = staying.Source.Assignment.ToHashSet();
        await ProduceAsync(0, 200);
        await TestSupport.WaitUntilAsync(() => leaving.Values.Count + staying.Values.Count == 200, "the first 200 records are processed");
        Assert.NotEmpty(leaving.Values);

        await leaving.DisposeAsync();
        await TestSupport.WaitUntilAsync(() => staying.Source.Assignment.Count == 4, "the remaining member owns all partitions");
        await ProduceAsync(200, 200);
        await TestSupport.WaitUntilAsync(() => staying.Values.Count(static v => v >= 200) == 200, "the survivor processed the next 200 records");

        var all = leaving.Values.Concat(staying.Values).ToList();
        // The leaver's processed offsets were committed on Close, so nothing was read twice.
        Assert.Equal(Enumerable.Range(0, 400), all.Order());
        // Cooperative: the survivor kept its partitions throughout instead of giving everything back.
        Assert.Empty(revokedFromSurvivor);
        Assert.Superset(kept, staying.Source.Assignment.ToHashSet());
    }

    /// <summary>
    /// Batches mode through a rebalance: the first member's reader holds its first batch until the second member has
    /// joined, so the first source has one batch in the channel and one pending (it paused after waiting a second)
    /// when half its partitions are taken. What it had read of those and not handed on is dropped, its offsets never
    /// stored, so the new owner reads it again: every record is processed, and each member sees each partition in
    /// order.
    /// </summary>
    [Fact]
    public async Task Batches_SecondMemberJoinsWhileTheFirstHoldsABatch_NothingLostEachPartitionInOrder()
    {
        _broker.CreateTopic(Topic, 4);
        var group = TestSupport.Unique("g");
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var first = new BatchMember(_broker, group, output, hold.Task);
        first.Source.Start(CancellationToken.None);
        await TestSupport.WaitUntilAsync(() => first.Source.Assignment.Count == 4, "the first member owns every partition");
        await ProduceAsync(0, 400);
        await TestSupport.WaitUntilAsync(() => !first.Seen.IsEmpty, "the first member took a batch");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // past the second after which its source pauses with a batch pending

        await using var second = new BatchMember(_broker, group, output, Task.CompletedTask);
        second.Source.Start(CancellationToken.None);
        await TestSupport.WaitUntilAsync(() => second.Source.Assignment.Count == 2, "the second member takes two partitions");
        hold.SetResult();
        await TestSupport.WaitUntilAsync(
            () => first.Seen.Select(static r => r.Value).Concat(second.Seen.Select(static r => r.Value)).Distinct().Count() == 400,
            "every record is processed by one member or the other", TimeSpan.FromSeconds(60));

        Assert.NotEmpty(second.Seen);
        foreach (var member in new[] { first, second })
        {
            foreach (var partition in member.Seen.ToArray().GroupBy(static r => r.Partition))
            {
                var offsets = partition.Select(static r => r.Offset).ToList();
                Assert.Equal(offsets.Order(), offsets);
            }
        }
    }

    /// <summary>A member reading batches of up to 16: it records what it processed and stores offsets as it goes,
    /// and after its first batch waits for <c>hold</c>.</summary>
    private sealed class BatchMember : IAsyncDisposable
    {
        private readonly Channel<SourceBatch> _channel = Channel.CreateBounded<SourceBatch>(1);
        private readonly Task _pipeline;

        public BatchMember(EmbeddedBroker broker, string group, ITestOutputHelper output, Task hold)
        {
            Source = new KafkaSource(TestSupport.Options(broker, group), [Topic], _channel.Writer, 16, new TestLogger<KafkaSource>(output));
            _pipeline = Task.Run(async () =>
            {
                await foreach (var batch in _channel.Reader.ReadAllAsync())
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        var record = batch[i];
                        Seen.Enqueue((record.Partition, record.Offset, BitConverter.ToInt32(record.Value.Span)));
                        Source.StoreOffset(record.Topic, record.Partition, record.Offset);
                    }
                    batch.Release();
                    await hold;
                }
            });
        }

        public KafkaSource Source { get; }

        public ConcurrentQueue<(int Partition, long Offset, int Value)> Seen { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await Source.DisposeAsync();
            _channel.Writer.Complete();
            await _pipeline;
        }
    }

    /// <summary>A group member with a minimal pipeline: it records values and stores offsets as it processes.</summary>
    private sealed class Member : IAsyncDisposable
    {
        private readonly Channel<SourceRecord> _channel = Channel.CreateBounded<SourceRecord>(100);
        private readonly Task _pipeline;

        public Member(Func<string, ChannelWriter<SourceRecord>, KafkaSource> create, string group)
        {
            Source = create(group, _channel.Writer);
            _pipeline = Task.Run(async () =>
            {
                await foreach (var record in _channel.Reader.ReadAllAsync())
                {
                    Values.Enqueue(BitConverter.ToInt32(record.Value.Span));
                    Source.StoreOffset(record.Topic, record.Partition, record.Offset);
                }
            });
        }

        public KafkaSource Source { get; }

        public ConcurrentQueue<int> Values { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await Source.DisposeAsync();
            _channel.Writer.Complete();
            await _pipeline;
        }
    }

    private KafkaSource NewSource(string group, ChannelWriter<SourceRecord> writer) =>
        new(TestSupport.Options(_broker, group), [Topic], writer, new TestLogger<KafkaSource>(output));

    private Task ProduceAsync(int count) => ProduceAsync(0, count);

    private async Task ProduceAsync(int first, int count)
    {
        using var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output));
        for (var i = first; i < first + count; i++)
        {
            producer.Produce(Topic, $"user-{i}", BitConverter.GetBytes(i));
        }

        await Task.Yield();
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
    }
}
