using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Vigil.Kafka.Tests;

public sealed class ProduceConsumeTests(ITestOutputHelper output) : IDisposable
{
    private readonly EmbeddedBroker _broker = EmbeddedBroker.Start();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task FlushAsync_Delivered_ReturnsZero_CancelledWhileTheClusterIsAway_Throws()
    {
        _broker.CreateTopic("flushed", 1);
        using (var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output)))
        {
            producer.Produce("flushed", 0, null, [1, 2, 3], null);
            Assert.Equal(0, await producer.FlushAsync(TimeSpan.FromSeconds(20), CancellationToken.None));
        }

        // Nothing listens there: the record stays queued, and only the token can end a flush with a minute to go.
        var nowhere = new KafkaOptions { BootstrapServers = "127.0.0.1:1", GroupId = "unused" };
        using var stuck = new KafkaProducer(nowhere, new TestLogger<KafkaProducer>(output, LogLevel.Critical));
        stuck.Produce("flushed", 0, null, [4], null);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stuck.FlushAsync(TimeSpan.FromMinutes(1), cancel.Token));
    }

    [Fact]
    public async Task QueuedToAndSettledIn_PerPartition_CountTheReportsOfThatPartitionOnly()
    {
        _broker.CreateTopic("counted", 2);
        using var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output));
        Assert.Equal(0, producer.QueuedTo("counted", 0));
        for (var i = 0; i < 300; i++)
        {
            producer.Produce("counted", i % 3 == 0 ? 1 : 0, null, [(byte)i], null);
        }
        // Records sent to any partition are not counted anywhere.
        producer.Produce("counted", "key", [9]);
        Assert.Equal(200, producer.QueuedTo("counted", 0));
        Assert.Equal(100, producer.QueuedTo("counted", 1));
        Assert.InRange(producer.SettledIn("counted", 0), 0, 200);

        // Settling is what the delivery reports say: all of them, once the cluster has acknowledged everything.
        Assert.Equal(0, await producer.FlushAsync(TimeSpan.FromSeconds(20), CancellationToken.None));
        Assert.Equal(200, producer.SettledIn("counted", 0));
        Assert.Equal(100, producer.SettledIn("counted", 1));
        Assert.Equal(0, producer.SettledIn("other", 0));

        // A record refused locally (larger than message.max.bytes) gets no report; it counts as settled at once.
        producer.Produce("counted", 0, null, new byte[2_000_000], null);
        Assert.Equal(201, producer.QueuedTo("counted", 0));
        Assert.Equal(201, producer.SettledIn("counted", 0));
        Assert.Equal(1, producer.DeliveryErrors);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Consume_WithAndWithoutHeaders_TopicTimestampAndKeyAlwaysThere_HeadersOnlyWhenAsked(bool headers)
    {
        const string topic = "with-headers";
        _broker.CreateTopic(topic, 2);
        using (var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output)))
        {
            for (var i = 0; i < 20; i++)
            {
                producer.Produce(topic, i % 2, $"k-{i}", Encoding.UTF8.GetBytes($"v-{i}"), new Confluent.Kafka.Headers { { "h", [(byte)i] } });
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
        }

        var channel = Channel.CreateBounded<SourceRecord>(64);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer,
            new TestLogger<KafkaSource>(output), headers);
        source.Start(CancellationToken.None);
        var records = await TestSupport.ReadAsync(channel.Reader, 20);

        Assert.Equal(20, records.Count);
        foreach (var record in records)
        {
            Assert.Equal(topic, record.Topic);
            var i = int.Parse(Encoding.UTF8.GetString(record.Value.Span)[2..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal($"k-{i}", Encoding.UTF8.GetString(record.Key!));
            Assert.Equal(i % 2, record.Partition);
            Assert.InRange(record.TimestampMs, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            if (headers)
            {
                Assert.Equal([(byte)i], record.Headers!.GetLastBytes("h"));
            }
            else
            {
                Assert.Null(record.Headers);
            }
        }
    }

    [Fact]
    public async Task ProduceThenConsume_1000KeyedMessages_EachReceivedOnceInKeyOrder()
    {
        const string topic = "keyed";
        _broker.CreateTopic(topic, 4);
        using (var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output)))
        {
            for (var i = 0; i < 1000; i++)
            {
                producer.Produce(topic, $"user-{i % 37}", Encoding.UTF8.GetBytes($"{i % 37}:{i}"));
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
            Assert.Equal(0, producer.DeliveryErrors);
        }

        var channel = Channel.CreateBounded<SourceRecord>(64);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer, new TestLogger<KafkaSource>(output));
        source.Start(CancellationToken.None);
        var records = await TestSupport.ReadAsync(channel.Reader, 1000);

        Assert.Equal(1000, records.Count);
        var sequence = records.Select(static r => Encoding.UTF8.GetString(r.Value.Span).Split(':')).ToList();
        Assert.Equal(Enumerable.Range(0, 1000), sequence.Select(static v => int.Parse(v[1], System.Globalization.CultureInfo.InvariantCulture)).Order());
        foreach (var byKey in records.GroupBy(static r => Encoding.UTF8.GetString(r.Key!)))
        {
            // One key, one partition, and the producer's order within it.
            Assert.Single(byKey.Select(static r => r.Partition).Distinct());
            var order = byKey.Select(static r => int.Parse(Encoding.UTF8.GetString(r.Value.Span).Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(order.Order(), order);
        }

        Assert.Equal(4, records.Select(static r => r.Partition).Distinct().Count());
        Assert.All(records, static r => Assert.Equal(topic, r.Topic));
        Assert.All(records, static r => Assert.InRange(r.TimestampMs, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    }

    [Fact]
    public async Task Consume_ChannelOfOne_BackPressureLosesNothing()
    {
        const string topic = "slow-reader";
        _broker.CreateTopic(topic, 2);
        await ProduceAsync(topic, 300);

        var channel = Channel.CreateBounded<SourceRecord>(1);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer, new TestLogger<KafkaSource>(output));
        source.Start(CancellationToken.None);
        var records = new List<SourceRecord>();
        using var timeout = new CancellationTokenSource(TestSupport.Patience);
        while (records.Count < 300)
        {
            records.Add(await channel.Reader.ReadAsync(timeout.Token));
            if (records.Count % 50 == 0)
            {
                await Task.Delay(200, timeout.Token); // long enough for the source to pause
            }
        }

        Assert.Equal(300, records.Select(static r => (r.Partition, r.Offset)).Distinct().Count());
        foreach (var partition in records.GroupBy(static r => r.Partition))
        {
            var offsets = partition.Select(static r => r.Offset).ToList();
            Assert.Equal(Enumerable.Range(0, offsets.Count).Select(static o => (long)o), offsets);
        }
    }

    /// <summary>Batches mode: what the client has fetched goes out together, up to the batch size; every record
    /// once, each partition in order, whether the reader keeps up or holds the source back (a channel of one batch,
    /// read slowly, so the source waits and pauses with a batch pending).</summary>
    [Theory]
    [InlineData(64, false)]
    [InlineData(7, true)]
    public async Task ConsumeBatches_EachRecordOnceInPartitionOrder_BatchesUpToTheirSize(int maxBatch, bool slowReader)
    {
        var topic = TestSupport.Unique("batches");
        _broker.CreateTopic(topic, 3);
        await ProduceAsync(topic, 600);

        var channel = Channel.CreateBounded<SourceBatch>(1);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer, maxBatch,
            new TestLogger<KafkaSource>(output));
        source.Start(CancellationToken.None);
        var records = new List<SourceRecord>();
        var values = new List<(int Partition, int Value)>();
        var sizes = new List<int>();
        using var timeout = new CancellationTokenSource(TestSupport.Patience);
        while (records.Count < 600)
        {
            var batch = await channel.Reader.ReadAsync(timeout.Token);
            sizes.Add(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                records.Add(batch[i]);
                // A value views the batch's buffer, which the source reuses once the batch is released: read it now.
                values.Add((batch[i].Partition, BitConverter.ToInt32(batch[i].Value.Span)));
            }
            batch.Release();
            if (slowReader && sizes.Count % 20 == 0)
            {
                await Task.Delay(1200, timeout.Token); // past the second after which the source pauses
            }
        }

        Assert.Equal(600, records.Count);
        Assert.Equal(600, records.Select(static r => (r.Partition, r.Offset)).Distinct().Count());
        foreach (var partition in records.GroupBy(static r => r.Partition))
        {
            var offsets = partition.Select(static r => r.Offset).ToList();
            Assert.Equal(Enumerable.Range(0, offsets.Count).Select(static o => (long)o), offsets);
        }
        // Every value arrived intact, once, and in produce order within its partition (a key's records share one).
        Assert.Equal(Enumerable.Range(0, 600), values.Select(static v => v.Value).Order());
        foreach (var partition in values.GroupBy(static v => v.Partition))
        {
            var inPartition = partition.Select(static v => v.Value).ToList();
            Assert.Equal(inPartition.Order(), inPartition);
        }
        Assert.All(sizes, size => Assert.InRange(size, 1, maxBatch));
        // Everything was produced before the source started, so it had more than one record at hand.
        Assert.Contains(sizes, size => size > 1);
    }

    /// <summary>In records mode the source reads into a batch too, then hands the records on one by one and reuses the
    /// batch: a record's value must not view the batch's buffer, or the next read overwrites what the channel holds.</summary>
    [Fact]
    public async Task Consume_RecordsLeftUnreadWhileTheSourceReadsOn_KeepTheirValues()
    {
        var topic = TestSupport.Unique("unread");
        _broker.CreateTopic(topic, 3);
        await ProduceAsync(topic, 600);

        var channel = Channel.CreateUnbounded<SourceRecord>();
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer,
            new TestLogger<KafkaSource>(output), headers: false);
        source.Start(CancellationToken.None);
        // Nothing is read from the channel until the source has read everything, through many batches.
        var deadline = DateTime.UtcNow + TestSupport.Patience;
        while (channel.Reader.Count < 600 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        var values = new List<int>();
        while (channel.Reader.TryRead(out var record))
        {
            values.Add(BitConverter.ToInt32(record.Value.Span));
        }

        Assert.Equal(Enumerable.Range(0, 600), values.Order());
    }

    [Fact]
    public async Task Consume_OutputChannelCompleted_SourceStopsAndLeavesGroup()
    {
        const string topic = "closed-output";
        _broker.CreateTopic(topic, 1);
        await ProduceAsync(topic, 5);
        var channel = Channel.CreateBounded<SourceRecord>(1);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer, new TestLogger<KafkaSource>(output));
        source.Start(CancellationToken.None);
        await channel.Reader.WaitToReadAsync();

        channel.Writer.Complete();

        await source.Completion.WaitAsync(TestSupport.Patience);
        Assert.Empty(source.Assignment);
    }

    [Fact]
    public async Task Start_CallerTokenCancelled_CompletesCleanly()
    {
        var channel = Channel.CreateBounded<SourceRecord>(1);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), ["idle"], channel.Writer, new TestLogger<KafkaSource>(output));
        using var stop = new CancellationTokenSource();
        source.Start(stop.Token);

        await stop.CancelAsync();

        await source.Completion.WaitAsync(TestSupport.Patience);
        Assert.Throws<InvalidOperationException>(() => source.Start(CancellationToken.None));
    }

    [Fact]
    public async Task StoreOffset_ThenRestartInSameGroup_ResumesAfterStoredOffsets()
    {
        const string topic = "resume";
        _broker.CreateTopic(topic, 2);
        await ProduceAsync(topic, 200);
        var group = TestSupport.Unique("g");

        var channel = Channel.CreateBounded<SourceRecord>(1000);
        var stored = new Dictionary<int, long>();
        await using (var first = new KafkaSource(TestSupport.Options(_broker, group), [topic], channel.Writer, new TestLogger<KafkaSource>(output)))
        {
            first.Start(CancellationToken.None);
            var records = await TestSupport.ReadAsync(channel.Reader, 200);
            Assert.Equal(200, records.Count);
            // Only the first half of each partition counts as processed.
            foreach (var partition in records.GroupBy(static r => r.Partition))
            {
                var last = partition.Select(static r => r.Offset).Order().ElementAt(partition.Count() / 2 - 1);
                first.StoreOffset(topic, partition.Key, last);
                stored[partition.Key] = last;
            }
        }

        var again = Channel.CreateBounded<SourceRecord>(1000);
        await using var second = new KafkaSource(TestSupport.Options(_broker, group), [topic], again.Writer, new TestLogger<KafkaSource>(output));
        second.Start(CancellationToken.None);
        var expected = 200 - stored.Values.Sum(static last => last + 1);
        var resumed = await TestSupport.ReadAsync(again.Reader, (int)expected);

        Assert.Equal(expected, resumed.Count);
        foreach (var partition in resumed.GroupBy(static r => r.Partition))
        {
            Assert.Equal(stored[partition.Key] + 1, partition.Min(static r => r.Offset));
        }
    }

    [Fact]
    public async Task Consume_RecordLargerThanFetchLimits_IsPassedOn()
    {
        const string topic = "large";
        _broker.CreateTopic(topic, 1);
        using (var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output)))
        {
            await producer.ProduceAsync(topic, "k", new byte[512 * 1024], CancellationToken.None);
        }

        var options = TestSupport.Options(_broker, TestSupport.Unique("g")) with
        {
            ClientSettings = new Dictionary<string, string>(EmbeddedBroker.ClientSettings)
            {
                ["max.partition.fetch.bytes"] = "1024",
                ["fetch.max.bytes"] = "1000000",
            },
        };
        var channel = Channel.CreateBounded<SourceRecord>(10);
        await using var source = new KafkaSource(options, [topic], channel.Writer, new TestLogger<KafkaSource>(output));
        source.Start(CancellationToken.None);

        var records = await TestSupport.ReadAsync(channel.Reader, 1);

        Assert.Equal(512 * 1024, Assert.Single(records).Value.Length);
    }

    [Fact]
    public async Task Lag_AfterReadingEverything_IsZero()
    {
        const string topic = "lag";
        _broker.CreateTopic(topic, 2);
        await ProduceAsync(topic, 50);
        var channel = Channel.CreateBounded<SourceRecord>(100);
        await using var source = new KafkaSource(TestSupport.Options(_broker, TestSupport.Unique("g")), [topic], channel.Writer, new TestLogger<KafkaSource>(output));
        source.Start(CancellationToken.None);

        Assert.Equal(50, (await TestSupport.ReadAsync(channel.Reader, 50)).Count);

        await TestSupport.WaitUntilAsync(() => source.Lag.Count == 2 && source.Lag.Values.All(static l => l == 0), "the lag of both partitions is 0");
        Assert.Equal(2, source.Assignment.Count);
    }

    [Fact]
    public async Task ProduceAsync_ToEmbeddedBroker_CompletesWithoutErrors()
    {
        using var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output));

        await producer.ProduceAsync("async", "k", [1, 2, 3], CancellationToken.None);
        await producer.ProduceAsync("async", null, [4], CancellationToken.None);

        Assert.Equal(0, producer.DeliveryErrors);
    }

    [Fact]
    public void Produce_LargerThanMessageMaxBytes_CountsDeliveryErrorWithoutThrowing()
    {
        using var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output));

        producer.Produce("too-large", "k", new byte[2 * 1024 * 1024]);
        producer.Flush(TimeSpan.FromSeconds(5));

        Assert.Equal(1, producer.DeliveryErrors);
    }

    [Fact]
    public void Constructor_UnknownClientSetting_ThrowsNamingIt()
    {
        var options = TestSupport.Options(_broker, "g") with
        {
            ClientSettings = new Dictionary<string, string>(EmbeddedBroker.ClientSettings) { ["no.such.setting"] = "1", ["sasl.password"] = "hunter2" },
        };

        var error = Assert.Throws<ArgumentException>(() => new KafkaProducer(options, new TestLogger<KafkaProducer>(output)));

        Assert.Contains("no.such.setting", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    private async Task ProduceAsync(string topic, int count)
    {
        using var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output));
        for (var i = 0; i < count; i++)
        {
            producer.Produce(topic, $"k{i % 10}", BitConverter.GetBytes(i));
        }

        await Task.Yield();
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
    }
}
