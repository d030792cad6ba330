using Xunit.Abstractions;

namespace Vigil.Kafka.Tests;

/// <summary>
/// Disposing a producer while other threads still produce and flush, as a stopping host does when a sink or the
/// checkpoint's flush outlives the shutdown timeout: it must neither free the native client under a running call
/// (librdkafka then aborts the process) nor let a late call touch it afterwards.
/// </summary>
public sealed class ProducerShutdownTests(ITestOutputHelper output) : IDisposable
{
    private readonly EmbeddedBroker _broker = EmbeddedBroker.Start();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task Dispose_WhileOtherThreadsProduceAndFlush_WaitsForThemAndLaterCallsFailCleanly()
    {
        const string topic = "racing";
        _broker.CreateTopic(topic, 4);
        for (var round = 0; round < 10; round++)
        {
            var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output));
            var disposed = 0;
            var produced = 0L;
            var refusedAfterDispose = 0L;
            var unexpected = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
            var workers = new List<Task>();
            for (var w = 0; w < 3; w++)
            {
                var worker = w;
                workers.Add(Task.Run(async () =>
                {
                    var payload = new byte[64];
                    while (true)
                    {
                        try
                        {
                            if (worker == 0)
                            {
                                await producer.FlushAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
                            }
                            else
                            {
                                producer.Produce(topic, worker, "k", payload, null);
                                Interlocked.Increment(ref produced);
                            }
                        }
                        catch (ObjectDisposedException) when (Volatile.Read(ref disposed) == 1)
                        {
                            Interlocked.Increment(ref refusedAfterDispose);
                            return;
                        }
                        catch (Exception e)
                        {
                            unexpected.Enqueue(e);
                            return;
                        }
                    }
                }));
            }

            // Let the workers get going, so that Dispose lands in the middle of their calls.
            while (Interlocked.Read(ref produced) < 2000 && unexpected.IsEmpty)
            {
                await Task.Yield();
            }
            Volatile.Write(ref disposed, 1);
            producer.Dispose();
            await Task.WhenAll(workers);

            Assert.Empty(unexpected);
            // Every worker ran into the closed producer, and none of them got past it.
            Assert.Equal(3, Interlocked.Read(ref refusedAfterDispose));
        }
    }

    [Fact]
    public async Task Produce_AfterDispose_ThrowsObjectDisposedNamingTheTopic()
    {
        var producer = new KafkaProducer(TestSupport.Options(_broker, "unused"), new TestLogger<KafkaProducer>(output));
        producer.Dispose();
        producer.Dispose();

        var produce = Assert.Throws<ObjectDisposedException>(() => producer.Produce("late", null, [1]));
        Assert.Contains("late", produce.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => producer.Produce("late", 0, null, [1], null));
        Assert.Throws<ObjectDisposedException>(() => producer.Flush(TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => producer.FlushAsync(TimeSpan.FromSeconds(1), CancellationToken.None));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => producer.ProduceAsync("late", null, [1], CancellationToken.None));
    }

    [Fact]
    public void TransactionalProducer_AfterDispose_RefusesProduceAndCommit()
    {
        _broker.CreateTopic("late", 1);
        var producer = new TransactionalProducer(TestSupport.Options(_broker, "unused"), TestSupport.Unique("tx"), TimeSpan.FromMinutes(1),
            new TestLogger<TransactionalProducer>(output));
        producer.Produce("late", null, [1]);
        producer.Dispose();
        producer.Dispose();

        var produce = Assert.Throws<ObjectDisposedException>(() => producer.Produce("late", null, [2]));
        Assert.Contains("late", produce.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => producer.Produce("late", 0, null, [3], null));
    }
}
