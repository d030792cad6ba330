using System.Text;
using System.Threading.Channels;
using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Processing;
using Vigil.Kafka;
using Vigil.Server.Hosting;
using Vigil.Storage;

namespace Vigil.Server.Pipeline;

/// <summary>
/// Consumes <c>user-events</c> and <c>notifications</c> in the consumer group, runs each message through its
/// partition's detection pipeline, and hands alerts and dead letters to their sinks. The blocking consume loop lives
/// on its own thread inside <see cref="KafkaSource"/>; this service drains its bounded channel.
/// </summary>
/// <remarks>
/// Checkpoints, of each partition once every <see cref="VigilOptions.CheckpointInterval"/>, staggered (one partition
/// every interval / partitions; all together under exactly_once): first wait until the sinks have persisted every
/// alert and dead letter emitted so far, then snapshot the partition's pipeline to the checkpoint store, and only
/// then store the partition's offset for the consumer to commit. So the committed offset never runs ahead of the
/// state and the outputs it covers: after a crash the pipeline restores its checkpoint, the consumer resumes at the
/// committed offset, events the checkpoint already covers are skipped by offset, and the alerts re-emitted between
/// checkpoint and crash carry the same ids, which the sinks drop.
/// </remarks>
public sealed class IngestService(VigilOptions options, PipelineOptions pipelineOptions, PipelineChannels channels,
    PipelineMetrics metrics, ICheckpointStore checkpoints, IVigilStore store, IRecordProducer outputs, PublishedAlerts published,
    IHostApplicationLifetime lifetime, TimeProvider clock, ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<IngestService>();
    private readonly Dictionary<(string Topic, int Partition), PartitionState> _partitions = [];

    // Whose turn it is in the staggered checkpoints (see NextInTurn).
    private int _checkpointTurn = -1;

    // The periodic checkpoint whose snapshot is taken and whose barrier and save run in the background.
    private Saving? _saving;

    private sealed record Saving(Task<bool> Saved, (string Topic, int Partition) Key, PartitionState State, int Generation, long Offset,
        long Bytes, long Started);
    private readonly List<Alert> _alerts = [];
    private readonly Dictionary<(string Topic, int Partition), long> _restoredInCluster = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<Handover> _handovers = new();
    private volatile TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _alertsEmitted;
    private long _deadLettersEmitted;
    // Counted on the loop, and added to the shared metrics once per batch of records (FlushCounts): per record, the
    // atomics and the clock reads were a measurable share of the loop at 120k records/s.
    private readonly LatencyHistogram.Local _latencies = new();
    private long _messagesCounted;
    private long _eventsCounted;
    private long _newestEventCounted = long.MinValue;
    private long _nowMs;
    private int _sinceClockRead;
    // Alerts and dead letters persisted when the store was last synced to the disk (see SyncStoreAsync).
    private long _persistedWhenSynced = -1;

    /// <summary>Records per batch from a consumer to the loop (<see cref="SourceBatch"/>).</summary>
    internal const int BatchSize = 256;

    /// <summary>Batches the channel from the consumers to the loop holds.</summary>
    internal const int InputBatches = 64;
    private bool _loopStopped;
    private InputSources? _sources;
    // Forwarded to the shared topic: the encoder's buffer, and how many since the producer was last flushed.
    private readonly MemoryStream _forwardBuffer = new();
    private long _forwarded;
    private long _forwardedFlushed;
    // exactly_once only: reads back the alerts topic after a restore, and tells where it ends at each checkpoint.
    private CommittedTopicReader? _alertsReader;
    private Dictionary<int, long>? _readBackFrom;
    private IReadOnlyDictionary<int, long>? _readBackEnds;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        // Batches of up to BatchSize records, each what a consumer had fetched already: the channel's lock and the
        // loop's wake-ups are paid per batch. At most InputBatches × BatchSize records wait here.
        var records = Channel.CreateBounded<SourceBatch>(new BoundedChannelOptions(InputBatches)
        {
            SingleReader = true,
            // One writer per input topic's consumer.
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var kafka = KafkaOptionsFactory.Create(options);
        // One consumer per input topic, all in the group: the assignor then balances each topic over the instances on
        // its own. One consumer of both balanced only their total, so an instance could get every notifications
        // partition and no user-events one. The shared topic's one partition goes to one instance.
        await using var sources = new InputSources();
        _sources = sources;
        foreach (var topic in new[] { options.UserEventsTopic, options.NotificationsTopic, options.SharedTopic })
        {
            // Only the shared topic's records carry headers the pipeline reads (SharedRecord).
            var source = new KafkaSource(kafka, [topic], records.Writer, BatchSize, loggers.CreateLogger<KafkaSource>(),
                headers: topic == options.SharedTopic);
            sources.Add(topic, source);
            // Revoked partitions are checkpointed before they go, so their next owner resumes exactly where this one
            // stopped; lost ones are dropped, and their next owner resumes from their last checkpoint.
            source.PartitionsRevoked += partitions => HandOver(partitions, lost: false);
            source.PartitionsLost += partitions => HandOver(partitions, lost: true);
            // The checkpoints, not the group's committed offsets, say where a partition resumes: the state and the
            // offset it covers are one record there, while a commit can be lost (a rebalance, a replaced cluster, a
            // broker that drops transactional offset commits).
            source.StartOffsets = ResolveStartOffsets;
        }
        if (outputs is TransactionalProducer)
        {
            _alertsReader = new CommittedTopicReader(kafka, options.SecurityAlertsTopic, loggers.CreateLogger<CommittedTopicReader>());
        }
        using var alertsReader = _alertsReader;
        foreach (var source in sources.All)
        {
            // Not stopped by the host's token: on shutdown the loop checkpoints, stores and commits the offsets first,
            // and the consumers leave the group only when `sources` is disposed after that. Stopped with the host, a
            // consumer closed (its handle destroyed) while the final checkpoint was storing its offsets.
            source.Start(CancellationToken.None);
        }
        metrics.LagProvider = () => sources.Lag;
        metrics.InputQueueDepth = () => records.Reader.Count;
        _logger.LogInformation("Consuming {Topics} from {Bootstrap} in group {Group}; checkpoints every {Interval}",
            $"{options.UserEventsTopic}, {options.NotificationsTopic}, {options.SharedTopic}", kafka.BootstrapServers, kafka.GroupId, options.CheckpointInterval);

        var reader = records.Reader;
        Task<bool>? waiting = null;
        var lastTick = clock.GetTimestamp();
        var lastCheckpoint = clock.GetTimestamp();
        // Checkpoints are staggered: each partition in its turn, one every interval / partitions, so that the loop
        // stops for one partition's snapshot at a time rather than for all of them at once (with 16 partitions of
        // 20,000 busy users, that was 118 MB and 1.9 s every 30 s). exactly_once commits every partition's offsets in
        // one transaction, so it checkpoints them together.
        var staggered = outputs is not TransactionalProducer;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                waiting ??= reader.WaitToReadAsync(stoppingToken).AsTask();
                // A rebalance parks the consume thread, so no record wakes the loop: the hand-over does.
                await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken), _wake.Task);
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                if (waiting.IsCompleted)
                {
                    if (!await waiting)
                    {
                        break;
                    }
                    waiting = null;
                }
                var taken = 0;
                _sinceClockRead = 0;
                while (taken < 5000 && reader.TryRead(out var batch))
                {
                    await ProcessAsync(batch, stoppingToken);
                    taken += batch.Count;
                    batch.Release();
                    // Per batch, not per loop turn: the next batch may wait (a partition's first record restores its
                    // checkpoint), and the counters must not lag behind the alerts already out.
                    FlushCounts();
                }
                while (_handovers.TryDequeue(out var handover))
                {
                    await CompleteHandoverAsync(reader, handover, stoppingToken);
                }
                if (clock.GetElapsedTime(lastTick) >= TimeSpan.FromSeconds(1))
                {
                    lastTick = clock.GetTimestamp();
                    await TickAsync(stoppingToken);
                }
                if (_saving is { Saved.IsCompleted: true })
                {
                    await FinishSavingAsync();
                }
                var step = staggered ? options.CheckpointInterval / Math.Max(1, _partitions.Count) : options.CheckpointInterval;
                // A turn waits while the previous partition's save is still in the background (its barrier waiting for
                // the sinks, or the disk): the loop goes on processing rather than stop for it.
                if (clock.GetElapsedTime(lastCheckpoint) >= step && (!staggered || _saving is null))
                {
                    lastCheckpoint = clock.GetTimestamp();
                    if (staggered)
                    {
                        await StartCheckpointAsync(NextInTurn(), stoppingToken);
                    }
                    else
                    {
                        await TryCheckpointAsync(null, stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // A clean stop checkpoints what it has, so a restart resumes without reprocessing.
        Volatile.Write(ref _loopStopped, true);
        while (_handovers.TryDequeue(out var pending))
        {
            pending.Done.TrySetResult();
        }
        using var finalTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await FinishSavingAsync();
            await CheckpointAsync(finalTimeout.Token);
            if (outputs is not TransactionalProducer)
            {
                // Before any of this instance's consumers leaves the group (and so starts a rebalance).
                await Task.Run(() =>
                {
                    foreach (var source in sources.All)
                    {
                        source.CommitStoredOffsets();
                    }
                }, finalTimeout.Token);
            }
            _logger.LogInformation("Checkpointed and released {Count} partitions on shutdown", _partitions.Count);
        }
        catch (Exception ex)
        {
            _logger.LogWarning("The final checkpoint did not complete ({Error}); the last periodic one stands", ex.Message);
        }
    }

    /// <summary>On the consume thread, inside the rebalance: waits for the processing loop to let the partitions go.</summary>
    /// <remarks>Never throws: an exception here would unwind into librdkafka's callback.</remarks>
    private void HandOver(IReadOnlyList<KafkaPartition> partitions, bool lost)
    {
        if (Volatile.Read(ref _loopStopped))
        {
            // Shutting down: the loop has already checkpointed every partition on its way out.
            return;
        }
        var handover = new Handover(partitions, lost, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        _handovers.Enqueue(handover);
        _wake.TrySetResult();
        try
        {
            if (!handover.Done.Task.Wait(TimeSpan.FromSeconds(30)))
            {
                _logger.LogWarning("Hand-over of {Partitions} did not finish in 30 s; their next owner resumes from the last checkpoint",
                    string.Join(", ", partitions));
            }
        }
        catch (AggregateException ex)
        {
            _logger.LogWarning(ex, "Hand-over of {Partitions} failed; their next owner resumes from the last checkpoint", string.Join(", ", partitions));
        }
    }

    private async Task CompleteHandoverAsync(ChannelReader<SourceBatch> reader, Handover handover, CancellationToken ct)
    {
        try
        {
            // The consume thread is parked in the rebalance, so the channel holds everything it read before it (what it
            // had read and not yet written, it dropped for the revoked partitions).
            _sinceClockRead = 0;
            while (reader.TryRead(out var batch))
            {
                await ProcessAsync(batch, ct);
                batch.Release();
                FlushCounts();
            }
            var keys = new List<(string Topic, int Partition)>();
            foreach (var p in handover.Partitions)
            {
                keys.Add((p.Topic, p.Partition));
            }
            // A checkpoint still being saved goes first: saves are in order, and its offsets are stored before the
            // partitions go.
            await FinishSavingAsync();
            if (!handover.Lost)
            {
                try
                {
                    await CheckpointAsync(ct, keys);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    metrics.CountCheckpointFailure();
                    _logger.LogWarning("Checkpoint on hand-over failed; the next owner resumes from the last one: {Error}", ex.Message);
                }
            }
            foreach (var key in keys)
            {
                _partitions.Remove(key);
            }
            _logger.LogInformation("{Action} {Partitions}", handover.Lost ? "Dropped lost" : "Checkpointed and released",
                string.Join(", ", handover.Partitions));
        }
        finally
        {
            handover.Done.TrySetResult();
        }
    }

    /// <summary>The partition's state: a lookup for every record but a partition's first, which restores it (see
    /// <see cref="CreatePartitionAsync"/>). No task and no closure on the lookup path.</summary>
    private ValueTask<PartitionState> GetPartitionAsync(string topic, int partition, long firstOffset, CancellationToken ct) =>
        _partitions.TryGetValue((topic, partition), out var state)
            ? new ValueTask<PartitionState>(state)
            : new ValueTask<PartitionState>(CreatePartitionAsync(topic, partition, firstOffset, ct));

    /// <summary>
    /// The partition's pipeline, restored on its first record from the newest checkpoint that does not run ahead of
    /// where the consumer resumed. A checkpoint is saved before its offsets are committed, so after a crash in between,
    /// the newest one is ahead and the one before it matches: with exactly-once that is the one whose outputs were
    /// committed, and the aborted outputs after it are produced again.
    /// </summary>
    private async Task<PartitionState> CreatePartitionAsync(string topic, int partition, long firstOffset, CancellationToken ct)
    {
        if (topic == options.SharedTopic)
        {
            return await GetSharedAsync(partition, firstOffset, ct);
        }
        var source = Sources.Of(topic);
        var rebaseShared = false;
        var pipeline = new DetectionPipeline(pipelineOptions, clock);
        IReadOnlyDictionary<int, long>? restoredEnds = null;
        var restored = false;
        var ids = await FromStoreAsync(token => checkpoints.ListAsync(JobId(topic), partition, token), topic, partition, ct);
        for (var i = ids.Count - 1; i >= 0; i--)
        {
            var id = ids[i];
            if (await FromStoreAsync(token => checkpoints.LoadAsync(JobId(topic), partition, id, token), topic, partition, ct) is not { } stored)
            {
                continue;
            }
            var candidate = new DetectionPipeline(pipelineOptions, clock);
            var status = candidate.Restore(CheckpointEnvelope.Unwrap(stored.Data, out var envelope));
            if (status != CheckpointReadStatus.Ok)
            {
                _logger.LogError("Checkpoint {Id} of {Topic}[{Partition}] cannot be restored ({Status})", ids[i], topic, partition, status);
                continue;
            }
            var marks = source.Watermarks(topic, partition);
            var clusterReplaced = source.ClusterChanges > (_restoredInCluster.TryGetValue((topic, partition), out var seen) ? seen : 0);
            if (candidate.ResumeOffset > firstOffset && (clusterReplaced || (marks is { } m && m.High < candidate.ResumeOffset)))
            {
                // The cluster was replaced under this process (a broker without storage restarted empty), or the log
                // ends before the checkpoint's position (truncated, or the topic deleted and created again): the
                // checkpoint's offsets mean nothing in this log. Keep the state; take the broker's offsets.
                LogTruncated(topic, partition, candidate.ResumeOffset - 1, firstOffset, marks?.High);
                candidate.RebaseOffset(partition, firstOffset - 1);
                // The IP and tenant rules take this partition's events from the same new offsets.
                rebaseShared = topic == options.UserEventsTopic;
            }
            else if (candidate.ResumeOffset > firstOffset)
            {
                _logger.LogInformation("Checkpoint {Id} of {Topic}[{Partition}] is ahead of the committed offset {Offset}; trying an older one",
                    ids[i], topic, partition, firstOffset);
                continue;
            }
            pipeline = candidate;
            restoredEnds = envelope?.OutputEnds;
            restored = true;
            _logger.LogInformation("Restored {Topic}[{Partition}] from checkpoint {Id}: resuming after offset {Offset}",
                topic, partition, stored.CheckpointId, pipeline.ResumeOffset - 1);
            break;
        }
        if (_alertsReader is not null)
        {
            // Without a checkpoint every alert this partition ever raised may be on the topic already.
            await ReadBackAsync(restored ? restoredEnds ?? s_fromStart : s_fromStart, ct);
        }
        // The first restore after a cluster change is the one whose checkpoint belongs to the old cluster.
        _restoredInCluster[(topic, partition)] = source.ClusterChanges;
        var state = new PartitionState(pipeline, pipeline.ResumeOffset - 1) { RebaseShared = rebaseShared };

        _partitions[(topic, partition)] = state;
        return state;
    }

    /// <summary>Inputs of the shared pipeline: partitions numbered beyond this are not seen by the IP and tenant rules.</summary>
    private const int SharedInputs = 64;

    private InputSources Sources => _sources ?? throw new InvalidOperationException("The consumers are not started.");

    /// <summary>
    /// The shared stage (the IP and tenant rules over every user-events partition), when the group assigns this
    /// instance the shared topic's partition: restored from its newest checkpoint. The records it reads again after a
    /// checkpoint ahead of the committed offset are skipped by their source offsets, so the newest one always fits.
    /// </summary>
    private async Task<PartitionState> GetSharedAsync(int partition, long firstOffset, CancellationToken ct)
    {
        var stage = new SharedStage(pipelineOptions, clock);
        IReadOnlyDictionary<int, long> readBackFrom = s_fromStart;
        var ids = await FromStoreAsync(token => checkpoints.ListAsync(JobId(options.SharedTopic), partition, token), options.SharedTopic, partition, ct);
        for (var i = ids.Count - 1; i >= 0; i--)
        {
            var id = ids[i];
            if (await FromStoreAsync(token => checkpoints.LoadAsync(JobId(options.SharedTopic), partition, id, token), options.SharedTopic, partition, ct) is not { } stored)
            {
                continue;
            }
            var candidate = new SharedStage(pipelineOptions, clock);
            var status = candidate.Restore(CheckpointEnvelope.Unwrap(stored.Data, out var envelope));
            if (status == CheckpointReadStatus.Ok)
            {
                stage = candidate;
                readBackFrom = envelope?.OutputEnds ?? s_fromStart;
                _logger.LogInformation("Restored the shared (IP and tenant) rules from checkpoint {Id}: {Buffered} events held for reordering",
                    stored.CheckpointId, stage.Buffered);
                break;
            }
            _logger.LogError("Checkpoint {Id} of the shared rules cannot be restored ({Status})", stored.CheckpointId, status);
        }
        // The reorder buffer waits for every source partition, including those that have not sent anything yet: one
        // of them may hold the oldest event.
        var sourcePartitions = await SourcePartitionCountAsync(ct);
        stage.ExpectPartitions(Math.Min(sourcePartitions, SharedInputs));
        if (_alertsReader is not null)
        {
            await ReadBackAsync(readBackFrom, ct);
        }
        _logger.LogInformation("Running the shared (IP and tenant) rules from {Topic}[{Partition}] offset {Offset}, over {Sources} partitions of {Source}",
            options.SharedTopic, partition, firstOffset, sourcePartitions, options.UserEventsTopic);
        var state = new PartitionState(stage.Pipeline, firstOffset - 1) { Shared = stage };
        _partitions[(options.SharedTopic, partition)] = state;
        return state;
    }

    /// <summary>The partition count of the user-events topic, from the cluster; the configured count if it does not answer.</summary>
    private async Task<int> SourcePartitionCountAsync(CancellationToken ct)
    {
        var count = await KafkaAdmin.PartitionCountAsync(KafkaOptionsFactory.Create(options), options.UserEventsTopic, TimeSpan.FromSeconds(10), ct);
        if (count is { } known and > 0)
        {
            return known;
        }
        _logger.LogWarning("The cluster did not say how many partitions {Topic} has; the shared stage waits for the configured {Count}",
            options.UserEventsTopic, options.Partitions);
        return options.Partitions;
    }

    private string JobId(string topic) => $"{options.CheckpointJobId}.{topic}";

    /// <summary>
    /// A read of a partition's checkpoints, retried while the store does not answer (PostgreSQL restarting): the
    /// partition's first record waits for its state rather than the service stopping, as the sinks wait out an outage.
    /// </summary>
    private Task<T> FromStoreAsync<T>(Func<CancellationToken, Task<T>> read, string topic, int partition, CancellationToken ct) =>
        StoreRetry.ReadAsync(read, (attempt, delay, ex) => _logger.LogWarning(
            "Reading the checkpoints of {Topic}[{Partition}] failed (attempt {Attempt}); retrying in {Delay} ms: {Error}",
            topic, partition, attempt, (int)delay.TotalMilliseconds, ex.Message), clock, ct);

    private async Task ProcessAsync(SourceBatch batch, CancellationToken ct)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var record = batch[i];
            var partition = await GetPartitionAsync(record.Topic, record.Partition, record.Offset, ct);
            await ProcessAsync(partition, record, ct);
        }
    }

    private async Task ProcessAsync(PartitionState partition, SourceRecord record, CancellationToken ct)
    {
        if (record.Topic == options.SharedTopic)
        {
            await ProcessForwardedAsync(partition, record, ct);
            return;
        }
        _messagesCounted++;
        if (record.Offset <= partition.LastSeen)
        {
            // Offsets went backwards within one assignment: the broker's log was replaced under the consumer (it
            // reset to the log start). Without this, every new record would be skipped as already processed.
            LogTruncated(record.Topic, record.Partition, partition.LastSeen, record.Offset, null);
            // Its offsets, and the checkpoints saved from now on, belong to the new log.
            _restoredInCluster[(record.Topic, record.Partition)] = _sources?.Of(record.Topic).ClusterChanges ?? 0;
            partition.Pipeline.RebaseOffset(record.Partition, record.Offset - 1);
            partition.LastOffset = record.Offset - 1;
            partition.CheckpointedOffset = Math.Min(partition.CheckpointedOffset, record.Offset - 1);
            partition.Generation++;
            partition.RebaseShared = record.Topic == options.UserEventsTopic;
        }
        partition.LastSeen = record.Offset;
        var pipeline = partition.Pipeline;
        // The key is only read if the message becomes a dead letter.
        var outcome = pipeline.ProcessWithKeyBytes(record.Topic, record.Partition, record.Offset, record.Key, record.Value.Span, _alerts,
            out var deadLetter);
        switch (outcome)
        {
            case ProcessOutcome.Event:
                _eventsCounted++;
                _newestEventCounted = Math.Max(_newestEventCounted, pipeline.MaxEventTimeMs);
                break;
            case ProcessOutcome.Notification:
                metrics.CountNotification();
                break;
            case ProcessOutcome.DeadLetter or ProcessOutcome.Late:
                metrics.CountDeadLetter();
                _deadLettersEmitted++;
                await channels.DeadLetters.Writer.WriteAsync(deadLetter!, ct);
                break;
            default:
                break;
        }
        partition.LastOffset = Math.Max(partition.LastOffset, record.Offset);
        if (outcome == ProcessOutcome.Event && record.Topic == options.UserEventsTopic && record.Partition < SharedInputs
            && pipeline.LastEvent is { } decoded)
        {
            // The IP and tenant rules see every partition's events: whichever instance runs them reads the shared
            // topic. The per-partition pipeline has already decoded and validated the event (and dead-lettered
            // whatever is bad): forward the decoded form, not the bytes.
            Forward(partition, record.Partition, record.Offset, decoded);
        }
        await EmitAsync(ct);
        if (record.TimestampMs > 0)
        {
            // The clock is read for the first record of a batch and every 16th after it: within a batch records are
            // microseconds apart.
            if ((_sinceClockRead++ & 15) == 0)
            {
                _nowMs = clock.GetUtcNow().ToUnixTimeMilliseconds();
            }
            _latencies.Record(_nowMs - record.TimestampMs);
        }
    }

    /// <summary>Adds the loop's counts since the last call to the shared metrics.</summary>
    private void FlushCounts()
    {
        metrics.CountMessages(_messagesCounted);
        metrics.CountEvents(_eventsCounted, _newestEventCounted);
        metrics.ProcessingLatency.Add(_latencies);
        _messagesCounted = 0;
        _eventsCounted = 0;
    }

    /// <summary>
    /// Sends one decoded user event to the shared topic, with where it came from and its partition's clock in the
    /// headers; an event of a type no shared rule reads is left out, and the partition's progress is sent instead at
    /// the next tick.
    /// </summary>
    private void Forward(PartitionState partition, int sourcePartition, long sourceOffset, Core.Events.UserEvent evt)
    {
        var forwarded = ForwardedTypes();
        if (forwarded is not null && !forwarded[(int)evt.Type])
        {
            partition.ProgressPending = true;
            return;
        }
        var headers = SharedRecord.Headers(sourcePartition, sourceOffset, partition.Pipeline.MaxEventTimeMs, partition.RebaseShared);
        // After a truncated or replaced source log, the shared stage takes this partition's offsets from here.
        partition.RebaseShared = false;
        partition.ProgressPending = false;
        outputs.Produce(options.SharedTopic, 0, null, SharedRecord.Encode(_forwardBuffer, evt), headers);
        _forwarded++;
    }

    /// <summary>
    /// Each source partition that processed events it did not forward since its last forwarded record tells the shared
    /// stage how far it got, so that the other partitions' events are not held back for it (nor it taken for idle).
    /// </summary>
    private void ForwardProgress()
    {
        foreach (var ((topic, number), partition) in _partitions)
        {
            if (!partition.ProgressPending || topic != options.UserEventsTopic || number >= SharedInputs)
            {
                continue;
            }
            var headers = SharedRecord.Headers(number, partition.LastOffset, partition.Pipeline.MaxEventTimeMs, partition.RebaseShared);
            partition.RebaseShared = false;
            partition.ProgressPending = false;
            outputs.Produce(options.SharedTopic, 0, null, [], headers);
            _forwarded++;
        }
    }

    /// <summary>
    /// Which event types go to the shared topic, indexed by <see cref="Core.Events.EventType"/> (null: all): those the
    /// shared rules read, worked out again when the rules file is reloaded.
    /// </summary>
    private bool[]? ForwardedTypes()
    {
        var rules = pipelineOptions.Rules?.Current;
        if (_forwardTypesComputed && ReferenceEquals(rules, _forwardTypesRules))
        {
            return _forwardTypes;
        }
        _forwardTypesComputed = true;
        _forwardTypesRules = rules;
        var types = SharedStage.EventTypesRead(pipelineOptions, rules);
        if (types is null)
        {
            _forwardTypes = null;
            _logger.LogInformation("Forwarding every user event to {Topic}: a shared rule reads events of any type", options.SharedTopic);
            return null;
        }
        var table = new bool[(int)Core.Events.EventType.UserDeleted + 1];
        var names = new List<string>();
        foreach (var type in types)
        {
            if ((int)type < table.Length)
            {
                table[(int)type] = true;
                names.Add(Core.Events.EventTypes.ToWireName(type));
            }
        }
        names.Sort(StringComparer.Ordinal);
        _forwardTypes = table;
        _logger.LogInformation("Forwarding {Types} events to {Topic}: the types the shared rules read", string.Join(", ", names), options.SharedTopic);
        return table;
    }

    private bool[]? _forwardTypes;
    private Core.Rules.RuleSet? _forwardTypesRules;
    private bool _forwardTypesComputed;

    /// <summary>The shared stage: one forwarded event, reordered with the other partitions' and run when its turn comes.</summary>
    private async Task ProcessForwardedAsync(PartitionState partition, SourceRecord record, CancellationToken ct)
    {
        partition.LastSeen = record.Offset;
        partition.LastOffset = Math.Max(partition.LastOffset, record.Offset);
        if (!SharedRecord.TryRead(record, out var sourcePartition, out var sourceOffset, out var sourceClock, out var rebase, out var evt))
        {
            // Only instances write this topic; a record that is not theirs is skipped, not fatal.
            metrics.CountDeadLetter();
            _logger.LogWarning("{Topic}[{Partition}] offset {Offset} is not a forwarded event; skipped", record.Topic, record.Partition, record.Offset);
            return;
        }
        if (sourcePartition >= SharedInputs)
        {
            return;
        }
        // A duplicate (forwarded again after a hand-over or a crash) is dropped by its source offset.
        if (evt is null)
        {
            partition.Shared!.Advance(sourcePartition, sourceOffset, sourceClock, rebase, _alerts);
        }
        else
        {
            partition.Shared!.Add(sourcePartition, sourceOffset, sourceClock, evt, rebase, _alerts);
        }
        await EmitAsync(ct);
    }

    private async Task TickAsync(CancellationToken ct)
    {
        ForwardProgress();
        long keys = 0;
        long unknown = 0;
        foreach (var partition in _partitions.Values)
        {
            if (partition.Shared is { } shared)
            {
                shared.Tick(_alerts);
            }
            else
            {
                partition.Pipeline.Tick(_alerts);
            }
            await EmitAsync(ct);
            keys += partition.Pipeline.TrackedKeys;
            unknown += partition.Pipeline.UnknownTypes;
        }
        metrics.SetTrackedKeys(keys);
        long buffered = 0;
        long behind = 0;
        foreach (var partition in _partitions.Values)
        {
            if (partition.Shared is { } stage)
            {
                buffered += stage.Buffered;
                behind += stage.BehindEvents;
            }
        }
        metrics.SharedBuffered = buffered;
        metrics.SharedBehind = behind;
        metrics.UnknownTypes = unknown;
        var lag = metrics.Lag;
        var statuses = new List<PartitionStatus>(_partitions.Count);
        foreach (var ((topic, number), partition) in _partitions)
        {
            var p = partition.Pipeline;
            var runtime = p.RuntimeMetrics;
            statuses.Add(new PartitionStatus(topic, number, partition.LastOffset, partition.CheckpointedOffset,
                lag.TryGetValue((topic, number), out var l) ? l : 0,
                p.Watermark == long.MinValue ? null : AlertJson.Format(DateTimeOffset.FromUnixTimeMilliseconds(p.Watermark)),
                p.Events + p.Notifications, p.LateEvents, p.DeadLetters, p.TrackedKeys, p.StateBytes,
                runtime.LastCheckpointId, runtime.LastCheckpointBytes, runtime.LastCheckpointDuration.TotalMilliseconds));
        }
        statuses.Sort((x, y) => x.Topic == y.Topic ? x.Partition.CompareTo(y.Partition) : string.CompareOrdinal(x.Topic, y.Topic));
        metrics.Partitions = statuses;
    }

    private async Task EmitAsync(CancellationToken ct)
    {
        foreach (var alert in _alerts)
        {
            metrics.CountAlert(alert.Severity);
            _alertsEmitted++;
            await channels.Alerts.Writer.WriteAsync(alert, ct);
        }
        _alerts.Clear();
    }

    /// <summary>The partition whose turn it is to be checkpointed: each in turn, in (topic, partition) order, so each
    /// comes round once per interval while the assignment stays the same.</summary>
    private (string Topic, int Partition)? NextInTurn()
    {
        if (_partitions.Count == 0)
        {
            return null;
        }
        var keys = _partitions.Keys.ToArray();
        Array.Sort(keys, static (a, b) => string.CompareOrdinal(a.Topic, b.Topic) is var c and not 0 ? c : a.Partition.CompareTo(b.Partition));
        _checkpointTurn = (_checkpointTurn + 1) % keys.Length;
        return keys[_checkpointTurn];
    }

    /// <summary>
    /// A periodic checkpoint of one partition, without holding up the loop for more than its snapshot: the snapshot is
    /// taken here, and the barrier (the sinks have persisted every alert and dead letter emitted so far, the events
    /// forwarded so far are on the shared topic) and the save run in the background while processing goes on. Only
    /// once the snapshot is saved does the loop store its offset (<see cref="FinishSavingAsync"/>), so the committed
    /// offset still never runs ahead of the state and the outputs it covers. One save at a time, in order.
    /// </summary>
    private async Task StartCheckpointAsync((string Topic, int Partition)? turn, CancellationToken ct)
    {
        if (turn is not { } key)
        {
            return;
        }
        await FinishSavingAsync();
        if (!_partitions.TryGetValue(key, out var partition) || partition.LastOffset <= partition.CheckpointedOffset)
        {
            return;
        }
        var started = clock.GetTimestamp();
        byte[] snapshot;
        try
        {
            snapshot = partition.Snapshot();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            metrics.CountCheckpointFailure();
            _logger.LogWarning("Checkpoint of {Topic}[{Partition}] failed, its offset stays at the last checkpoint and its next turn retries: {Error}",
                key.Topic, key.Partition, ex.Message);
            return;
        }
        var alerts = _alertsEmitted;
        var deadLetters = _deadLettersEmitted;
        var forwarded = outputs is KafkaProducer producer ? producer.QueuedTo(options.SharedTopic, 0) : 0;
        var id = partition.CheckpointId;
        var saved = Task.Run(() => BarrierThenSaveAsync(key, id, snapshot, alerts, deadLetters, forwarded, ct), ct);
        _saving = new Saving(saved, key, partition, partition.Generation, partition.LastOffset, snapshot.Length, started);
    }

    /// <summary>The background half of <see cref="StartCheckpointAsync"/>: false when the barrier timed out (the
    /// checkpoint is skipped; the offset stays where it is).</summary>
    private async Task<bool> BarrierThenSaveAsync((string Topic, int Partition) key, long id, byte[] snapshot, long alerts, long deadLetters,
        long forwarded, CancellationToken ct)
    {
        var deadline = clock.GetTimestamp() + (long)(TimeSpan.FromSeconds(20).TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (channels.AlertsPersisted < alerts || channels.DeadLettersPersisted < deadLetters
            || (outputs is KafkaProducer producer && producer.SettledIn(options.SharedTopic, 0) < forwarded))
        {
            if (clock.GetTimestamp() > deadline)
            {
                _logger.LogWarning("Checkpoint of {Topic}[{Partition}] skipped: the sinks, or the forwarding to the shared topic, have not caught up in 20 s; its offset stays where it is",
                    key.Topic, key.Partition);
                return false;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(5), clock, ct);
        }
        await SyncStoreAsync(ct);
        await checkpoints.SaveAsync(JobId(key.Topic), key.Partition, id, snapshot, ct);
        return true;
    }

    /// <summary>
    /// The end of the sinks' barrier: what they have persisted is made durable in the store (the sinks commit without
    /// waiting for the disk), so no offset is stored ahead of an alert a power cut could still take back. Skipped when
    /// nothing was persisted since the last sync.
    /// </summary>
    private async Task SyncStoreAsync(CancellationToken ct)
    {
        var persisted = channels.AlertsPersisted + channels.DeadLettersPersisted;
        if (persisted == Interlocked.Read(ref _persistedWhenSynced))
        {
            return;
        }
        await store.SyncAsync(ct);
        Interlocked.Exchange(ref _persistedWhenSynced, persisted);
    }

    /// <summary>Waits for the checkpoint being saved, if any, then stores its offset (on the loop, which owns the
    /// partitions), unless the partition's log was replaced meanwhile. A failed save is counted and logged; the
    /// partition's next turn retries.</summary>
    private async Task FinishSavingAsync()
    {
        if (_saving is not { } saving)
        {
            return;
        }
        _saving = null;
        bool saved;
        try
        {
            saved = await saving.Saved;
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception ex)
        {
            metrics.CountCheckpointFailure();
            _logger.LogWarning("Checkpoint of {Topic}[{Partition}] failed, its offset stays at the last checkpoint and its next turn retries: {Error}",
                saving.Key.Topic, saving.Key.Partition, ex.Message);
            return;
        }
        if (!saved)
        {
            return;
        }
        var partition = saving.State;
        if (partition.Generation == saving.Generation && saving.Offset > partition.CheckpointedOffset)
        {
            partition.CheckpointedOffset = saving.Offset;
            if (_partitions.TryGetValue(saving.Key, out var current) && ReferenceEquals(current, partition))
            {
                Sources.Of(saving.Key.Topic).StoreOffset(saving.Key.Topic, saving.Key.Partition, saving.Offset);
            }
        }
        var ms = clock.GetElapsedTime(saving.Started).TotalMilliseconds;
        metrics.RecordCheckpoint(ms, saving.Bytes, clock.GetUtcNow());
        _logger.LogDebug("Checkpoint of {Topic}[{Partition}]: {Bytes} bytes in {Ms} ms", saving.Key.Topic, saving.Key.Partition, saving.Bytes, ms);
    }

    /// <summary>A periodic checkpoint that fails (the store is down) is skipped: offsets stay put, the next one retries.</summary>
    private async Task TryCheckpointAsync(IReadOnlyCollection<(string Topic, int Partition)>? only, CancellationToken ct)
    {
        try
        {
            await CheckpointAsync(ct, only);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            metrics.CountCheckpointFailure();
            _logger.LogWarning("Checkpoint failed, offsets stay at the last checkpoint and the next interval retries: {Error}", ex.Message);
        }
    }

    private async Task CheckpointAsync(CancellationToken ct, IReadOnlyCollection<(string Topic, int Partition)>? only = null)
    {
        var dirty = false;
        foreach (var (key, partition) in _partitions)
        {
            dirty |= partition.LastOffset > partition.CheckpointedOffset && (only is null || only.Contains(key));
        }
        if (!dirty)
        {
            return;
        }
        var started = clock.GetTimestamp();
        // Barrier: everything emitted before this point must be in the sinks before the offsets that produced it commit.
        var deadline = started + (long)(TimeSpan.FromSeconds(20).TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (channels.AlertsPersisted < _alertsEmitted || channels.DeadLettersPersisted < _deadLettersEmitted)
        {
            if (clock.GetTimestamp() > deadline)
            {
                _logger.LogWarning("Checkpoint skipped: the sinks have not caught up in 20 s (the store may be down); offsets stay where they are");
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(10), clock, ct);
        }
        await SyncStoreAsync(ct);
        if (outputs is KafkaProducer producer && _forwarded > _forwardedFlushed)
        {
            // Barrier for the shared stage: the events forwarded so far must be on the shared topic before the source
            // offsets that produced them commit, or a crash would lose them for the IP and tenant rules. (exactly_once:
            // the transaction's commit does this.)
            var forwarded = _forwarded;
            var left = await producer.FlushAsync(TimeSpan.FromSeconds(20), ct);
            if (left > 0)
            {
                _logger.LogWarning("Checkpoint skipped: {Count} records are not delivered to Kafka after 20 s; offsets stay where they are", left);
                return;
            }
            _forwardedFlushed = forwarded;
        }
        long bytes = 0;
        if (outputs is TransactionalProducer transactional)
        {
            bytes += await CheckpointTransactionalAsync(transactional, only, ct);
        }
        else
        {
            foreach (var ((topic, number), partition) in _partitions)
            {
                if (partition.LastOffset <= partition.CheckpointedOffset || (only is not null && !only.Contains((topic, number))))
                {
                    continue;
                }
                var snapshot = partition.Snapshot();
                await checkpoints.SaveAsync(JobId(topic), number, partition.CheckpointId, snapshot, ct);
                bytes += snapshot.Length;
                partition.CheckpointedOffset = partition.LastOffset;
                Sources.Of(topic).StoreOffset(topic, number, partition.LastOffset);
            }
        }
        var ms = clock.GetElapsedTime(started).TotalMilliseconds;
        metrics.RecordCheckpoint(ms, bytes, clock.GetUtcNow());
        _logger.LogDebug("Checkpoint of {Partitions} partitions: {Bytes} bytes in {Ms} ms", _partitions.Count, bytes, ms);
    }

    /// <summary>
    /// exactly_once: snapshot the state, commit the transaction holding the outputs since the last round together with
    /// the consumed offsets, note where the alerts topic ends now, and only then save the snapshots with those ends. A
    /// crash between commit and save leaves the saved state behind the visible outputs, never ahead of them; the
    /// outputs it is behind by are read back on restore and not produced again.
    /// </summary>
    private async Task<long> CheckpointTransactionalAsync(TransactionalProducer transactional,
        IReadOnlyCollection<(string Topic, int Partition)>? only, CancellationToken ct)
    {
        var snapshots = new List<((string Topic, int Partition) Key, PartitionState State, long Offset, long Id, byte[] Data)>();
        // Per input topic: its consumer's offsets go with that consumer's group metadata.
        var committed = new Dictionary<string, List<Confluent.Kafka.TopicPartitionOffset>>(StringComparer.Ordinal);
        foreach (var (key, partition) in _partitions)
        {
            if (partition.LastOffset <= partition.CheckpointedOffset || (only is not null && !only.Contains(key)))
            {
                continue;
            }
            var snapshot = partition.Snapshot();
            snapshots.Add((key, partition, partition.LastOffset, partition.CheckpointId, snapshot));
            if (!committed.TryGetValue(key.Topic, out var offsets))
            {
                committed[key.Topic] = offsets = [];
            }
            offsets.Add(new Confluent.Kafka.TopicPartitionOffset(key.Topic, key.Partition, partition.LastOffset + 1));
        }
        try
        {
            var batches = new List<(IReadOnlyList<Confluent.Kafka.TopicPartitionOffset>, Confluent.Kafka.IConsumerGroupMetadata)>();
            foreach (var (topic, offsets) in committed)
            {
                batches.Add((offsets, Sources.Of(topic).GroupMetadata ?? throw new InvalidOperationException("The consumer is closed.")));
            }
            transactional.Commit(batches);
        }
        catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or InvalidOperationException)
        {
            // The aborted outputs will never be seen, and the pipelines are ahead of what was committed: start over
            // from the saved checkpoints, as a restart does.
            _logger.LogCritical("The exactly-once commit failed ({Error}); stopping so that a restart resumes from the saved checkpoints", ex.Message);
            Environment.ExitCode = 4;
            lifetime.StopApplication();
            throw;
        }
        var reader = _alertsReader ?? throw new InvalidOperationException("exactly_once runs without its alerts reader.");
        var ends = await Task.Run(() => reader.EndOffsets(TimeSpan.FromSeconds(10)), ct);
        long bytes = 0;
        foreach (var (key, state, offset, id, snapshot) in snapshots)
        {
            var data = new CheckpointEnvelope(offset + 1, ends).Wrap(id, snapshot);
            await checkpoints.SaveAsync(JobId(key.Topic), key.Partition, id, data, ct);
            bytes += data.Length;
            state.CheckpointedOffset = offset;
        }
        return bytes;
    }

    private static readonly IReadOnlyDictionary<int, long> s_fromStart = new Dictionary<int, long>();

    /// <summary>
    /// Notes the ids of the alerts on the topic from <paramref name="from"/> (partitions missing there: from their
    /// start) to its end, so the sink does not produce them again when the restored pipeline re-emits them.
    /// </summary>
    private async Task ReadBackAsync(IReadOnlyDictionary<int, long> from, CancellationToken ct)
    {
        var reader = _alertsReader!;
        // Several partitions restored in a row ask for nearly the same range: when an earlier read started no later on
        // every partition, only what arrived since it is read.
        var covered = _readBackFrom is not null && _readBackEnds is not null;
        if (covered)
        {
            foreach (var partition in _readBackEnds!.Keys)
            {
                var wanted = from.TryGetValue(partition, out var w) ? w : 0;
                var earlier = _readBackFrom!.TryGetValue(partition, out var e) ? e : 0;
                covered &= wanted >= earlier;
            }
        }
        var range = covered ? _readBackEnds! : from;
        var ends = await Task.Run(() => reader.EndOffsets(TimeSpan.FromSeconds(10)), ct);
        var read = await Task.Run(() => reader.Read(range, published.AddRecord, TimeSpan.FromSeconds(60)), ct);
        if (!covered)
        {
            _readBackFrom = new Dictionary<int, long>(from);
        }
        _readBackEnds = ends;
        _logger.LogInformation("Read back {Records} records of {Topic} from {From}: the alerts among them are not produced again",
            read, options.SecurityAlertsTopic, range.Count == 0 ? "its start" : "offsets " + string.Join(", ", range.Select(p => $"[{p.Key}]={p.Value}")));
    }

    /// <summary>
    /// On the consume thread, while partitions are assigned: where each resumes, from its newest checkpoint. Never
    /// throws; without an answer a partition starts at the group's committed offset.
    /// </summary>
    private IReadOnlyDictionary<KafkaPartition, long> ResolveStartOffsets(IReadOnlyList<KafkaPartition> partitions)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            // The consume thread exists to block (DESIGN §7.5), and the partitions must not be read before this is known.
            return Task.Run(() => NewestCheckpointOffsetsAsync(partitions, timeout.Token)).GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            _logger.LogWarning("Checkpoint offsets of {Partitions} could not be read ({Error}); they start at the committed offsets",
                string.Join(", ", partitions), ex.Message);
            return new Dictionary<KafkaPartition, long>();
        }
    }

    private async Task<IReadOnlyDictionary<KafkaPartition, long>> NewestCheckpointOffsetsAsync(IReadOnlyList<KafkaPartition> partitions, CancellationToken ct)
    {
        var offsets = new Dictionary<KafkaPartition, long>();
        foreach (var partition in partitions)
        {
            var ids = await checkpoints.ListAsync(JobId(partition.Topic), partition.Partition, ct);
            for (var i = ids.Count - 1; i >= 0; i--)
            {
                if (await checkpoints.LoadAsync(JobId(partition.Topic), partition.Partition, ids[i], ct) is { } stored)
                {
                    var snapshot = CheckpointEnvelope.Unwrap(stored.Data, out var envelope);
                    if (envelope is not null)
                    {
                        offsets[partition] = envelope.ResumeOffset;
                        break;
                    }
                    // A plain pipeline snapshot: the offset is in its header, no need to restore the state to read it.
                    if (CheckpointReader.TryRead(snapshot, out var header) == CheckpointReadStatus.Ok && header!.SourceOffsets.Count == 1)
                    {
                        offsets[partition] = header.SourceOffsets[0].Offset + 1;
                        break;
                    }
                }
            }
        }
        return offsets;
    }

    private void LogTruncated(string topic, int partition, long before, long now, long? logEnd)
    {
        metrics.CountLogTruncation();
        _logger.LogWarning("{Topic}[{Partition}]: the broker's log was truncated or replaced (offsets went back from {Before} to {Now}{End}); " +
            "carrying on from the broker's log with the partition's state kept. Events the old log held after the last checkpoint are gone with it",
            topic, partition, before, now, logEnd is { } end ? $", log end {end}" : "");
    }

    private sealed record Handover(IReadOnlyList<KafkaPartition> Partitions, bool Lost, TaskCompletionSource Done);

    private sealed class PartitionState(DetectionPipeline pipeline, long restoredOffset)
    {
        public DetectionPipeline Pipeline { get; } = pipeline;

        /// <summary>The last offset processed (or covered by the restored checkpoint).</summary>
        public long LastOffset { get; set; } = restoredOffset;

        /// <summary>The offset of the last record received in this assignment; -1 before the first.</summary>
        public long LastSeen { get; set; } = -1;

        /// <summary>The last offset a saved checkpoint covers.</summary>
        public long CheckpointedOffset { get; set; } = restoredOffset;

        /// <summary>How many times the source log was found replaced in this assignment: a checkpoint saved in the
        /// background stores its offset only if this has not moved since its snapshot.</summary>
        public int Generation { get; set; }

        /// <summary>The source log was truncated or replaced: the next forwarded event tells the shared stage to rebase.</summary>
        public bool RebaseShared { get; set; }

        /// <summary>Events processed here were not forwarded (no shared rule reads them) since the last forwarded record.</summary>
        public bool ProgressPending { get; set; }

        /// <summary>The shared stage, when this is the shared topic's partition (<see cref="Pipeline"/> is then its rules').</summary>
        public SharedStage? Shared { get; init; }

        public byte[] Snapshot() => Shared?.Snapshot(LastOffset) ?? Pipeline.Snapshot();

        /// <summary>The id the last <see cref="Snapshot"/> used.</summary>
        public long CheckpointId => Pipeline.RuntimeMetrics.LastCheckpointId;
    }

    /// <summary>The consumers, one per input topic, of this instance.</summary>
    private sealed class InputSources : IAsyncDisposable
    {
        private readonly Dictionary<string, KafkaSource> _byTopic = new(StringComparer.Ordinal);

        public IEnumerable<KafkaSource> All => _byTopic.Values;

        public void Add(string topic, KafkaSource source) => _byTopic.Add(topic, source);

        public KafkaSource Of(string topic) => _byTopic[topic];

        public IReadOnlyDictionary<(string Topic, int Partition), long> Lag
        {
            get
            {
                var lag = new Dictionary<(string Topic, int Partition), long>();
                foreach (var source in _byTopic.Values)
                {
                    foreach (var (key, value) in source.Lag)
                    {
                        lag[key] = value;
                    }
                }
                return lag;
            }
        }

        /// <summary>All leave the group together, so the rest of the group rebalances once, not once per consumer.</summary>
        public async ValueTask DisposeAsync()
        {
            var closing = new List<Task>();
            foreach (var source in _byTopic.Values)
            {
                closing.Add(source.DisposeAsync().AsTask());
            }
            await Task.WhenAll(closing);
        }
    }
}

/// <summary>Builds the Kafka client options from the service options.</summary>
public static class KafkaOptionsFactory
{
    public static KafkaOptions Create(VigilOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new KafkaOptions
        {
            BootstrapServers = options.KafkaBootstrapServers
                ?? throw new InvalidOperationException("The Kafka bootstrap servers are not known yet."),
            GroupId = options.ConsumerGroup,
            ClientSettings = options.KafkaClientSettings,
            ExactlyOnce = options.ExactlyOnce,
        };
    }
}
