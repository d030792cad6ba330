using System.Diagnostics;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Vigil.Kafka;

/// <summary>
/// Reads topics as a member of the consumer group and writes every record into a bounded channel.
/// </summary>
/// <remarks>
/// <para>The blocking consume loop runs on a dedicated thread. When the channel is full the thread waits; if the
/// stall lasts over a second it pauses its partitions and keeps polling, so back-pressure reaches Kafka without the
/// member missing rebalances or exceeding <c>max.poll.interval.ms</c>. The source never completes the channel (its
/// owner does); completing it stops the source when its next record finds the channel closed.</para>
/// <para>Delivery is at least once: offsets are committed automatically, but only those the pipeline has handed
/// back through <see cref="StoreOffset"/>. After a crash or a rebalance a partition's new owner resumes after the
/// last stored offset, so records processed but not yet stored are read again.</para>
/// <para>Records are passed on whatever their size (librdkafka returns a batch larger than the fetch limits
/// rather than stall on it); deciding what is too large is the decoder's job, which dead-letters it.</para>
/// </remarks>
public sealed class KafkaSource : IAsyncDisposable
{
    private static readonly TimeSpan s_pollTimeout = TimeSpan.FromMilliseconds(100);
    // A short stall is waited out with the prefetched records kept; a longer one pauses the partitions, which
    // discards the prefetch (resuming costs a fetch round trip) but keeps serving rebalances meanwhile.
    private static readonly TimeSpan s_waitBeforePause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_waitSlice = TimeSpan.FromMilliseconds(100);
    // While paused, how long each poll waits before trying the channel again.
    private static readonly TimeSpan s_pausedPoll = TimeSpan.FromMilliseconds(20);

    private readonly IReadOnlyList<string> _topics;
    // One of the two: records one by one, or batches of up to _maxBatch.
    private readonly ChannelWriter<SourceRecord>? _records;
    private readonly ChannelWriter<SourceBatch>? _batches;
    private readonly int _maxBatch;
    private readonly System.Collections.Concurrent.ConcurrentQueue<SourceBatch> _freeBatches = new();
    private readonly ILogger<KafkaSource> _logger;
    private readonly IConsumer<byte[], ReadOnlyMemory<byte>> _consumer;
    private readonly string _groupId;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Orders StoreOffset and Lag against the consumer's disposal, which frees the native handle.
    private readonly Lock _gate = new();
    private bool _open = true;
    private Thread? _thread;
    private CancellationTokenRegistration _callerStop;
    private volatile Error? _fatal;

    // The one topic subscribed, when records do not carry their topic's name (see the headers parameter).
    private readonly string? _onlyTopic;

    // Only touched on the consume thread (which also runs the rebalance callbacks).
    // Read but not yet (wholly) in the channel: the batch waiting for room, and how much of it is written (records
    // mode writes a batch record by record); the batch being read.
    private SourceBatch? _pending;
    private int _pendingFrom;
    private SourceBatch? _reading;
    // Batch mode: the batch the next record read goes into, taken before the read so that the value deserializer can
    // copy the record's value into its buffer (consume thread only).
    private SourceBatch? _next;
    private bool _paused;
    private bool _outputClosed;
    private Task<bool>? _room;

    /// <summary>Creates the consumer; nothing is read until <see cref="Start"/>.</summary>
    /// <param name="options">The cluster, the group and pass-through client settings.</param>
    /// <param name="topics">The topics to subscribe to.</param>
    /// <param name="output">Where records go, in order per partition; a full channel holds the consumer back.</param>
    /// <param name="logger">Where the consumer logs.</param>
    /// <param name="headers">Whether records carry their headers. Without them (and, for a single topic, without
    /// the topic name, which is then known), Confluent.Kafka makes no header objects and no topic string per
    /// record.</param>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public KafkaSource(KafkaOptions options, IReadOnlyList<string> topics, ChannelWriter<SourceRecord> output, ILogger<KafkaSource> logger,
        bool headers = true)
        : this(options, topics, output ?? throw new ArgumentNullException(nameof(output)), null, 1, logger, headers)
    {
    }

    /// <summary>Creates the consumer, writing batches of records; nothing is read until <see cref="Start"/>.</summary>
    /// <param name="options">The cluster, the group and pass-through client settings.</param>
    /// <param name="topics">The topics to subscribe to.</param>
    /// <param name="output">Where batches go, in order; a full channel holds the consumer back. The reader releases
    /// each batch (<see cref="SourceBatch.Release"/>) when done with it.</param>
    /// <param name="maxBatch">The most records in one batch. A batch holds what the client has fetched already, up
    /// to this many: the source never waits to fill one.</param>
    /// <param name="logger">Where the consumer logs.</param>
    /// <param name="headers">As for the other constructor.</param>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public KafkaSource(KafkaOptions options, IReadOnlyList<string> topics, ChannelWriter<SourceBatch> output, int maxBatch,
        ILogger<KafkaSource> logger, bool headers = true)
        : this(options, topics, null, output ?? throw new ArgumentNullException(nameof(output)), maxBatch, logger, headers)
    {
    }

    private KafkaSource(KafkaOptions options, IReadOnlyList<string> topics, ChannelWriter<SourceRecord>? records,
        ChannelWriter<SourceBatch>? batches, int maxBatch, ILogger<KafkaSource> logger, bool headers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        if (topics.Count == 0)
        {
            throw new ArgumentException("A Kafka source needs at least one topic.", nameof(topics));
        }

        _topics = topics;
        _records = records;
        _batches = batches;
        _maxBatch = maxBatch;
        _logger = logger;

        var config = options.Apply(new ConsumerConfig
        {
            GroupId = options.GroupId,
            ClientId = KafkaLogging.ClientId("consumer"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            // With exactly-once, offsets are committed inside the output transaction, never by the consumer itself.
            EnableAutoCommit = !options.ExactlyOnce,
            IsolationLevel = IsolationLevel.ReadCommitted,
            AutoCommitIntervalMs = 1000,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            EnablePartitionEof = false,
            // Latency over request count: the broker answers a fetch as soon as data arrives, or after this. The
            // default 500 ms put half a second on the produce→alert path when input is sparse.
            FetchWaitMaxMs = 25,
            // Per-partition and per-request targets, not caps: a single larger batch is still returned whole,
            // up to receive.message.max.bytes (100 MB by default).
            MaxPartitionFetchBytes = 1024 * 1024,
            FetchMaxBytes = 50 * 1024 * 1024,
            // Bounds what librdkafka prefetches ahead of the channel.
            QueuedMaxMessagesKbytes = 32 * 1024,
            // Once that prefetch is full (the pipeline fell behind for a moment), the next fetch waits this long. At
            // librdkafka's default of 1 s the pipeline drained the prefetch in a fraction of that and then stood idle
            // with the lag in the broker: bench e2e's maximum saw 0.3–0.6 s stalls at 0.2 cores.
            FetchQueueBackoffMs = 10,
        });
        // The at-least-once guarantee rests on this one; a pass-through setting must not turn it off.
        config.EnableAutoOffsetStore = false;
        if (!headers)
        {
            _onlyTopic = topics.Count == 1 ? topics[0] : null;
            config.ConsumeResultFields = _onlyTopic is null ? "topic,timestamp" : "timestamp";
        }
        _groupId = config.GroupId;

        try
        {
            _consumer = new ConsumerBuilder<byte[], ReadOnlyMemory<byte>>(config)
                .SetValueDeserializer(new ValueCopier(this))
                .SetLogHandler((_, message) => OnLog(message))
                .SetErrorHandler(OnError)
                .SetPartitionsAssignedHandler(OnAssigned)
                .SetPartitionsRevokedHandler(OnRevoked)
                .SetPartitionsLostHandler(OnLost)
                .Build();
        }
        catch (Exception e) when (e is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new ArgumentException("Invalid Kafka consumer setting: " + e.Message, nameof(options), e);
        }

        if (options.ClientSettings.Count > 0)
        {
            _logger.LogInformation("Kafka consumer settings: {Settings}", options.DescribeClientSettings());
        }
    }

    /// <summary>
    /// Optional, set before <see cref="Start"/>: called on the consume thread when partitions are assigned, it returns
    /// the next offset to read for those the caller knows better than the group's committed offsets (its own
    /// checkpoints); the others start at the committed offset, or the log start when there is none.
    /// </summary>
    public Func<IReadOnlyList<KafkaPartition>, IReadOnlyDictionary<KafkaPartition, long>>? StartOffsets { get; set; }

    /// <summary>Raised on the consume thread when partitions are assigned to this member, before they are read.</summary>
    public event Action<IReadOnlyList<KafkaPartition>>? PartitionsAssigned;

    /// <summary>
    /// Raised on the consume thread when partitions are taken away in an orderly rebalance, before the group moves
    /// them: the place to checkpoint their state. Stored offsets of revoked partitions are committed after it.
    /// </summary>
    public event Action<IReadOnlyList<KafkaPartition>>? PartitionsRevoked;

    /// <summary>
    /// Raised on the consume thread when partitions were lost (session timeout, fencing): other members may own them
    /// already, so their offsets can no longer be committed and their state must be dropped, not checkpointed.
    /// </summary>
    public event Action<IReadOnlyList<KafkaPartition>>? PartitionsLost;

    /// <summary>Completes when the consume loop has ended and the consumer has left the group; faults on a fatal error.</summary>
    public Task Completion => _completion.Task;

    /// <summary>The partitions currently assigned to this member.</summary>
    public IReadOnlyList<KafkaPartition> Assignment
    {
        get
        {
            lock (_gate)
            {
                return _open ? ToPartitions(_consumer.Assignment) : [];
            }
        }
    }

    /// <summary>
    /// Per assigned partition, the records in Kafka not yet read by this member: the cached high watermark minus
    /// the consume position. Partitions not read from yet are left out. Cheap: no broker round trip.
    /// </summary>
    public IReadOnlyDictionary<(string Topic, int Partition), long> Lag
    {
        get
        {
            var lag = new Dictionary<(string Topic, int Partition), long>();
            lock (_gate)
            {
                if (!_open)
                {
                    return lag;
                }

                foreach (var partition in _consumer.Assignment)
                {
                    var position = _consumer.Position(partition);
                    var watermarks = _consumer.GetWatermarkOffsets(partition);
                    if (position.Value >= 0 && watermarks.High.Value >= 0)
                    {
                        lag[(partition.Topic, partition.Partition.Value)] = Math.Max(0, watermarks.High.Value - position.Value);
                    }
                }
            }

            return lag;
        }
    }

    /// <summary>
    /// The partition's log start and end (high watermark) as last seen by a fetch, or null before the first fetch
    /// answered. Cheap: no broker round trip.
    /// </summary>
    public (long Low, long High)? Watermarks(string topic, int partition)
    {
        lock (_gate)
        {
            if (!_open)
            {
                return null;
            }

            var watermarks = _consumer.GetWatermarkOffsets(new TopicPartition(topic, partition));
            return watermarks.High.Value < 0 ? null : (watermarks.Low.Value, watermarks.High.Value);
        }
    }

    /// <summary>Joins the group and starts the consume thread; it runs until <paramref name="ct"/> is cancelled or the source is disposed.</summary>
    /// <exception cref="InvalidOperationException">The source was started already.</exception>
    public void Start(CancellationToken ct)
    {
        if (Interlocked.CompareExchange(ref _thread, new Thread(Run) { IsBackground = true, Name = "kafka-source" }, null) is not null)
        {
            throw new InvalidOperationException("The Kafka source is already started.");
        }

        _callerStop = ct.Register(static state => ((CancellationTokenSource)state!).Cancel(), _stop);
        _thread.Start();
    }

    /// <summary>The group's metadata for a transactional offset commit; null once the consumer is closed.</summary>
    public IConsumerGroupMetadata? GroupMetadata
    {
        get
        {
            lock (_gate)
            {
                return _open ? _consumer.ConsumerGroupMetadata : null;
            }
        }
    }

    /// <summary>
    /// Marks the record at <paramref name="offset"/> of a partition, and everything before it, as processed: the
    /// next automatic commit covers it. Call it per partition with increasing offsets; once per batch is enough.
    /// Thread-safe. Offsets of partitions no longer assigned are ignored (their new owner reads them again).
    /// </summary>
    public void StoreOffset(string topic, int partition, long offset)
    {
        lock (_gate)
        {
            if (!_open)
            {
                return;
            }

            try
            {
                // Kafka commits the next offset to read, not the last one processed.
                _consumer.StoreOffset(new TopicPartitionOffset(topic, new Partition(partition), new Offset(offset + 1)));
            }
            catch (KafkaException e) when (e.Error.Code is ErrorCode.Local_State or ErrorCode.Local_UnknownPartition)
            {
                _logger.LogDebug("Offset {Offset} of {Topic}[{Partition}] not stored: the partition is no longer assigned", offset, topic, partition);
            }
        }
    }

    /// <summary>
    /// Commits the stored offsets now and waits for the answer. For a clean stop of several consumers of one group:
    /// the first to leave starts a rebalance, which makes the others' commit on leaving fail ("unassigned
    /// partitions"), so each commits before any leaves. Never throws; a failure is logged.
    /// </summary>
    public void CommitStoredOffsets()
    {
        lock (_gate)
        {
            if (!_open)
            {
                return;
            }

            try
            {
                _consumer.Commit();
            }
            catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_NoOffset)
            {
                // Nothing stored since the last commit.
            }
            catch (KafkaException e)
            {
                _logger.LogWarning("Committing the stored offsets of group {Group} failed: {Reason}", _groupId, e.Error.Reason);
            }
        }
    }

    /// <summary>Stops the loop, commits stored offsets and leaves the group (so it rebalances at once), then frees the consumer.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (Volatile.Read(ref _thread) is null)
        {
            CloseConsumer(leaveGroup: false);
        }
        else
        {
            try
            {
                await _completion.Task;
            }
            catch (Exception)
            {
                // Reported through Completion and the log already; disposal itself succeeds.
            }
        }

        await _callerStop.DisposeAsync();
        _stop.Dispose();
    }

    private void Run()
    {
        Exception? failure = null;
        try
        {
            _consumer.Subscribe(_topics);
            _logger.LogInformation("Kafka source joined group {Group} for {Topics}", _groupId, string.Join(", ", _topics));
            var ct = _stop.Token;
            while (!ct.IsCancellationRequested)
            {
                if (_fatal is { } fatal)
                {
                    throw new KafkaException(fatal);
                }

                if (_pending is { } pending)
                {
                    if (TryPut(pending))
                    {
                        _pending = null;
                    }
                    else if (OutputClosed())
                    {
                        _logger.LogInformation("Kafka source for group {Group} stops: its output channel was completed", _groupId);
                        break;
                    }
                }

                if (_pending is null && _paused)
                {
                    SetPaused(false);
                }

                RewindIfClusterChanged();
                if (_batches is not null && _pending is null)
                {
                    _next ??= TakeBatch();
                }

                var result = Consume(_pending is null ? s_pollTimeout : s_pausedPoll);
                if (result is null)
                {
                    continue;
                }

                var topic = result.Topic ?? _onlyTopic!;
                if (_pending is not null)
                {
                    // A partition assigned while paused, or a message fetched just before the pause: rewind it so it
                    // is fetched again after the resume, and pause it with the rest.
                    var at = new TopicPartitionOffset(topic, result.Partition, result.Offset);
                    _consumer.Seek(at);
                    _consumer.Pause([at.TopicPartition]);
                    continue;
                }

                // What the client has fetched already goes into the batch too, up to its size: no waiting to fill it.
                var batch = _next ?? TakeBatch();
                _next = null;
                _reading = batch;
                batch.Add(ToRecord(result, topic));
                while (!batch.IsFull && Consume(TimeSpan.Zero) is { } more)
                {
                    // A rebalance inside that call may have dropped records of revoked partitions from the batch.
                    batch.Add(ToRecord(more, more.Topic ?? _onlyTopic!));
                }

                _reading = null;
                if (batch.Count == 0)
                {
                    batch.Release();
                    continue;
                }

                _pendingFrom = 0;
                if (!TryPut(batch) && !WaitForRoom(batch, ct))
                {
                    if (_outputClosed)
                    {
                        _logger.LogInformation("Kafka source for group {Group} stops: its output channel was completed", _groupId);
                        break;
                    }

                    _pending = batch;
                    SetPaused(true);
                }
            }
        }
        catch (Exception e)
        {
            failure = e;
            _logger.LogError(e, "Kafka source for group {Group} stopped on an error", _groupId);
        }

        try
        {
            CloseConsumer(leaveGroup: true);
        }
        catch (KafkaException e)
        {
            failure ??= e;
        }

        if (failure is null)
        {
            _completion.TrySetResult();
        }
        else
        {
            _completion.TrySetException(failure);
        }
    }

    private static SourceRecord ToRecord(ConsumeResult<byte[], ReadOnlyMemory<byte>> result, string topic) => new(
        topic,
        result.Partition.Value,
        result.Offset.Value,
        result.Message.Key,
        result.Message.Value,
        result.Message.Timestamp.UnixTimestampMs)
    {
        Headers = result.Message.Headers is { Count: > 0 } headers ? headers : null,
    };

    private SourceBatch TakeBatch() => _freeBatches.TryDequeue(out var free) ? free : new SourceBatch(_maxBatch, _freeBatches);

    /// <summary>
    /// Copies each record's value out of librdkafka's buffer: in batch mode into the buffer of the batch being filled,
    /// which is reused with the batch (no array per record); in records mode, or outside a batch, into an array of its
    /// own, since a record then outlives any batch.
    /// </summary>
    private sealed class ValueCopier(KafkaSource source) : IDeserializer<ReadOnlyMemory<byte>>
    {
        public ReadOnlyMemory<byte> Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
        {
            if (isNull || data.IsEmpty)
            {
                return ReadOnlyMemory<byte>.Empty;
            }
            // Only the consume thread reads, so these fields are its own. In records mode the source fills a batch too,
            // but hands its records on one by one and reuses it at once: their values need arrays of their own.
            return source._batches is not null && (source._reading ?? source._next) is { } batch ? batch.CopyIn(data) : data.ToArray();
        }
    }

    /// <summary>Writes <paramref name="batch"/> (records mode: what is left of it) if the channel has room.</summary>
    /// <returns>True when all of it is in the channel.</returns>
    private bool TryPut(SourceBatch batch)
    {
        if (_batches is not null)
        {
            return _batches.TryWrite(batch);
        }

        while (_pendingFrom < batch.Count)
        {
            if (!_records!.TryWrite(batch[_pendingFrom]))
            {
                return false;
            }

            _pendingFrom++;
        }

        batch.Release();
        return true;
    }

    private ValueTask<bool> WaitToWriteAsync() =>
        _batches?.WaitToWriteAsync(CancellationToken.None) ?? _records!.WaitToWriteAsync(CancellationToken.None);

    /// <summary>Blocks the consume thread until the channel takes <paramref name="batch"/>, for a short while at most.</summary>
    /// <returns>True when written; false when the stall lasted, the source is stopping or the channel was completed.</returns>
    private bool WaitForRoom(SourceBatch batch, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        Task<bool>? room = null;
        while (!ct.IsCancellationRequested)
        {
            if (TryPut(batch))
            {
                return true;
            }

            var left = s_waitBeforePause - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            // This thread exists to block (DESIGN §7.5); the waiter is awaited in slices so a stop is noticed promptly.
            room ??= WaitToWriteAsync().AsTask();
            if (room.Wait(left < s_waitSlice ? left : s_waitSlice))
            {
                if (!room.Result)
                {
                    _outputClosed = true;
                    return false;
                }

                room = null;
            }
        }

        return false;
    }

    /// <summary>While paused: whether the channel was completed, which no TryWrite can tell.</summary>
    private bool OutputClosed()
    {
        _room ??= WaitToWriteAsync().AsTask();
        if (!_room.IsCompleted)
        {
            return false;
        }

        var open = _room.Result;
        _room = null;
        return !open;
    }

    private ConsumeResult<byte[], ReadOnlyMemory<byte>>? Consume(TimeSpan timeout)
    {
        try
        {
            return _consumer.Consume(timeout);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            // Typically an unknown topic or an authorisation error on one partition: the consumer carries on with
            // the rest and retries, so the loop does too.
            _logger.LogWarning("Kafka consume error on {Partition}: {Reason}", e.ConsumerRecord?.TopicPartition.ToString() ?? "-", e.Error.Reason);
            return null;
        }
    }

    private void SetPaused(bool paused)
    {
        if (paused == _paused)
        {
            return;
        }

        var assignment = _consumer.Assignment;
        if (paused)
        {
            _consumer.Pause(assignment);
            _logger.LogDebug("Kafka source paused {Count} partitions: the channel is full", assignment.Count);
        }
        else
        {
            _consumer.Resume(assignment);
        }

        _paused = paused;
    }

    private void CloseConsumer(bool leaveGroup)
    {
        if (leaveGroup)
        {
            // Commits the stored offsets and leaves the group, so the others take over the partitions at once
            // instead of after session.timeout.ms.
            _consumer.Close();
            _logger.LogInformation("Kafka source left group {Group}", _groupId);
        }

        lock (_gate)
        {
            if (!_open)
            {
                return;
            }

            _open = false;
            _consumer.Dispose();
        }
    }

    private IEnumerable<TopicPartitionOffset> OnAssigned(IConsumer<byte[], ReadOnlyMemory<byte>> consumer, List<TopicPartition> partitions)
    {
        var assigned = ToPartitions(partitions);
        _logger.LogInformation("Kafka partitions assigned: {Partitions} (consumer of {Topics})", string.Join(", ", assigned), string.Join(", ", _topics));
        PartitionsAssigned?.Invoke(assigned);
        // librdkafka reports a replaced cluster only when a metadata answer reaches it, which can come after the group
        // (already on the new cluster) assigned the partitions: the checkpoints' positions would then be fetched from
        // the new logs before the rewind, and those records processed ahead of the ones before them.
        CheckClusterId(consumer);
        var starts = StartOffsets?.Invoke(assigned);
        var result = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var partition in partitions)
        {
            if (NeedsRewind(partition))
            {
                // Positions from before a cluster change, checkpoints' among them, do not apply to the new logs.
                _logger.LogWarning("The Kafka cluster was replaced (another cluster id); {Topic}[{Partition}] is read from its log start",
                    partition.Topic, partition.Partition.Value);
                result.Add(new TopicPartitionOffset(partition, Offset.Beginning));
            }
            else if (starts is not null && starts.TryGetValue(new KafkaPartition(partition.Topic, partition.Partition.Value), out var offset) && offset >= 0)
            {
                _logger.LogInformation("{Topic}[{Partition}] starts at offset {Offset}, after its checkpoint", partition.Topic, partition.Partition.Value, offset);
                result.Add(new TopicPartitionOffset(partition, new Offset(offset)));
            }
            else
            {
                result.Add(new TopicPartitionOffset(partition, Offset.Unset));
            }
        }

        return result;
    }

    private void OnRevoked(IConsumer<byte[], ReadOnlyMemory<byte>> consumer, List<TopicPartitionOffset> partitions)
    {
        var revoked = ToPartitions(partitions);
        DropPending(revoked);
        _logger.LogInformation("Kafka partitions revoked: {Partitions} (consumer of {Topics})", string.Join(", ", revoked), string.Join(", ", _topics));
        PartitionsRevoked?.Invoke(revoked);
    }

    private void OnLost(IConsumer<byte[], ReadOnlyMemory<byte>> consumer, List<TopicPartitionOffset> partitions)
    {
        var lost = ToPartitions(partitions);
        DropPending(lost);
        _logger.LogWarning("Kafka partitions lost: {Partitions}", string.Join(", ", lost));
        PartitionsLost?.Invoke(lost);
    }

    private void DropPending(IReadOnlyList<KafkaPartition> partitions)
    {
        // Records read but not in the channel yet belong to their partition's next owner now: their offsets were never
        // handed back, so it reads them again.
        var dropped = 0;
        if (_reading is { } reading)
        {
            var before = reading.Count;
            reading.RemovePartitions(partitions);
            dropped += before - reading.Count;
        }
        if (_pending is { } pending)
        {
            // Records mode: what is written is the channel's; only the rest is dropped.
            var before = pending.Count;
            pending.RemovePartitions(partitions, from: _pendingFrom);
            dropped += before - pending.Count;

            if (pending.Count == _pendingFrom)
            {
                // Nothing of it is left to write, and the channel holds no reference to it.
                _pending = null;
                pending.Release();
            }
        }
        if (dropped > 0)
        {
            _logger.LogInformation("Dropped {Count} records read from {Partitions} and not yet handed on; their next owner reads them again",
                dropped, string.Join(", ", partitions));
        }
    }

    private long _clusterChanges;
    // The cluster id last seen, by either path that learns it; guarded by _clusterGate.
    private string? _clusterId;
    private readonly Lock _clusterGate = new();
    private static readonly TimeSpan s_describeClusterTimeout = TimeSpan.FromSeconds(5);
    // Consume thread only: per partition, the cluster change it was last rewound for.
    private readonly Dictionary<TopicPartition, long> _rewoundFor = [];

    /// <summary>
    /// Times the brokers answered with another cluster id than before: the cluster was replaced, for example a broker
    /// without persistent storage restarted empty. Its logs, committed offsets and groups are new; positions from
    /// before (checkpoints among them) do not apply to them.
    /// </summary>
    public long ClusterChanges => Interlocked.Read(ref _clusterChanges);

    /// <summary>
    /// On the consume thread, at an assignment: asks the cluster for its id, so a replaced cluster is known before
    /// the partitions' start positions are chosen. Never throws; without an answer the log line still tells, later.
    /// </summary>
    private void CheckClusterId(IConsumer<byte[], ReadOnlyMemory<byte>> consumer)
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            // The consume thread exists to block (DESIGN §7.5); the answer comes from librdkafka's own threads.
            var cluster = admin.DescribeClusterAsync(new Confluent.Kafka.Admin.DescribeClusterOptions { RequestTimeout = s_describeClusterTimeout })
                .GetAwaiter().GetResult();
            if (!string.IsNullOrEmpty(cluster.ClusterId))
            {
                NoteClusterId(cluster.ClusterId, fromChangeLog: false);
            }
        }
        catch (Exception e) when (e is KafkaException or InvalidOperationException or TimeoutException)
        {
            _logger.LogDebug("The cluster id could not be read at the assignment ({Reason})", e.Message);
        }
    }

    /// <summary>Counts a cluster change when <paramref name="clusterId"/> differs from the one last seen.</summary>
    private void NoteClusterId(string clusterId, bool fromChangeLog)
    {
        lock (_clusterGate)
        {
            if (_clusterId == clusterId)
            {
                return;
            }

            // The first id seen is the starting point, except when librdkafka itself says it replaced an earlier one.
            var changed = _clusterId is not null || fromChangeLog;
            _clusterId = clusterId;
            if (changed)
            {
                Interlocked.Increment(ref _clusterChanges);
            }
        }
    }

    /// <summary>Whether the partition was last positioned in a cluster that has since been replaced; notes it as rewound.</summary>
    private bool NeedsRewind(TopicPartition partition)
    {
        var changes = Interlocked.Read(ref _clusterChanges);
        if (changes == 0 || (_rewoundFor.TryGetValue(partition, out var done) && done == changes))
        {
            return false;
        }

        _rewoundFor[partition] = changes;
        return true;
    }

    /// <summary>
    /// After the cluster was replaced, every position held is meaningless: each assigned partition is read from its
    /// log start, as Kafka's auto.offset.reset=earliest would for a position out of range, but at once rather than
    /// after whatever the client makes of a stale position.
    /// </summary>
    private void RewindIfClusterChanged()
    {
        if (Interlocked.Read(ref _clusterChanges) == 0)
        {
            return;
        }

        foreach (var partition in _consumer.Assignment)
        {
            if (NeedsRewind(partition))
            {
                _logger.LogWarning("The Kafka cluster was replaced (another cluster id); {Topic}[{Partition}] is read from its log start",
                    partition.Topic, partition.Partition.Value);
                try
                {
                    _consumer.Seek(new TopicPartitionOffset(partition, Offset.Beginning));
                }
                catch (KafkaException e)
                {
                    _logger.LogWarning("Rewinding {Topic}[{Partition}] failed ({Reason}); the client's own offset reset applies",
                        partition.Topic, partition.Partition.Value, e.Error.Reason);
                }
            }
        }
    }

    private void OnLog(LogMessage message)
    {
        // librdkafka notices a replaced cluster only in this log line; it carries on silently otherwise.
        if (message.Facility == "CLUSTERID")
        {
            // "... reports different ClusterId "NEW" than previously known "OLD" ...": counted unless the assignment's
            // own check saw NEW first.
            var text = message.Message;
            var start = text.IndexOf("ClusterId \"", StringComparison.Ordinal);
            var end = start < 0 ? -1 : text.IndexOf('"', start + 11);
            if (end > start)
            {
                NoteClusterId(text.Substring(start + 11, end - start - 11), fromChangeLog: true);
            }
            else
            {
                Interlocked.Increment(ref _clusterChanges);
            }
        }

        KafkaLogging.Forward(_logger, message);
    }

    private void OnError(IConsumer<byte[], ReadOnlyMemory<byte>> consumer, Error error)
    {
        if (error.IsFatal)
        {
            _fatal = error;
            _logger.LogCritical("Fatal Kafka consumer error: {Code} {Reason}", error.Code, error.Reason);
        }
        else
        {
            // librdkafka recovers from these by itself (broker down, connection refused); they matter when they last.
            _logger.LogWarning("Kafka consumer error: {Code} {Reason}", error.Code, error.Reason);
        }
    }

    private static KafkaPartition[] ToPartitions(List<TopicPartition> partitions)
    {
        var result = new KafkaPartition[partitions.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new KafkaPartition(partitions[i].Topic, partitions[i].Partition.Value);
        }

        return result;
    }

    private static KafkaPartition[] ToPartitions(List<TopicPartitionOffset> partitions)
    {
        var result = new KafkaPartition[partitions.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new KafkaPartition(partitions[i].Topic, partitions[i].Partition.Value);
        }

        return result;
    }
}
