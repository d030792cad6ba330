using System.Collections.Concurrent;
using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;

namespace Vigil.Server.Pipeline;

/// <summary>
/// Alert ids already visible on the <c>security-alerts</c> topic beyond a restored checkpoint: the alert sink does not
/// produce them again. Filled when a partition is restored in exactly_once mode, emptied as the replay re-emits them.
/// </summary>
/// <remarks>
/// Why it is needed beside Kafka transactions: a partition's state checkpoint and the transaction that made its
/// outputs visible are two writes to two systems, and whichever comes second can be lost in a crash. Vigil commits
/// the transaction first, so a restored checkpoint can only be behind the outputs, never ahead, and the outputs it is
/// behind by are read back and skipped here. It also covers brokers that make aborted records visible (librdkafka's
/// mock cluster does: it ignores transaction markers), since whatever a read_committed consumer can see is skipped.
/// </remarks>
public sealed class PublishedAlerts
{
    private readonly ConcurrentDictionary<string, byte> _ids = new(StringComparer.Ordinal);
    private long _skipped;

    /// <summary>Ids waiting to be skipped.</summary>
    public int Count => _ids.Count;

    /// <summary>Alerts not produced again because they were already on the topic.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>Notes the alert in an output record (an alert as JSON); records that are not alerts are ignored.</summary>
    public void AddRecord(byte[] value)
    {
        if (KeyOf(value) is { } key)
        {
            _ids.TryAdd(key, 0);
        }
    }

    /// <summary>True, once, when this alert record is already on the topic and must not be produced again.</summary>
    public bool TryConsume(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        if (_ids.IsEmpty)
        {
            return false;
        }

        var occurrences = alert.Evidence.TryGetValue(Evidence.Occurrences, out var o) && o is not null
            ? Convert.ToInt64(o, System.Globalization.CultureInfo.InvariantCulture)
            : 0;
        if (!_ids.TryRemove(Key(alert.AlertId, occurrences), out _))
        {
            return false;
        }

        Interlocked.Increment(ref _skipped);
        return true;
    }

    // A suppressed alert is published again under its id with a higher occurrence count: each count is its own record.
    private static string Key(string alertId, long occurrences) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{alertId}/{occurrences}");

    /// <summary>The record key (alert id and occurrence count) of an alert's JSON, or null when it is not an alert.</summary>
    internal static string? KeyOf(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        string? id = null;
        long occurrences = 0;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("alertId"u8);
                var isEvidence = reader.ValueTextEquals("evidence"u8);
                if (!reader.Read())
                {
                    return null;
                }

                if (isId && reader.TokenType == JsonTokenType.String)
                {
                    id = reader.GetString();
                }
                else if (isEvidence && reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isCount = reader.ValueTextEquals("occurrences"u8);
                        reader.Read();
                        if (isCount && reader.TokenType == JsonTokenType.Number)
                        {
                            occurrences = reader.GetInt64();
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            // Not an alert; nothing to skip.
            return null;
        }

        return id is null ? null : Key(id, occurrences);
    }
}

/// <summary>
/// What an exactly_once checkpoint carries besides the pipeline's state: the offset the partition resumes at, and
/// where the alerts topic ended, per partition, right after the transaction covering the state committed. After a
/// restore, every output beyond those ends may stem from events the checkpoint does not cover, so it is read back.
/// </summary>
/// <remarks>Stored as a checkpoint of its own format (so the stores verify its CRC as they do any checkpoint) with two
/// sections: these fields, and the pipeline's snapshot as it is.</remarks>
/// <param name="ResumeOffset">The next input offset to read.</param>
/// <param name="OutputEnds">The alerts topic's end per partition when the checkpoint was taken.</param>
public sealed record CheckpointEnvelope(long ResumeOffset, IReadOnlyDictionary<int, long> OutputEnds)
{
    private const string OutputsSection = "vigil.exactly-once.outputs";
    private const string PipelineSection = "vigil.exactly-once.pipeline";

    /// <summary>The envelope around the pipeline's snapshot, as checkpoint bytes.</summary>
    public byte[] Wrap(long checkpointId, byte[] snapshot)
    {
        using var writer = new CheckpointWriter(checkpointId, [new SourceOffset(0, ResumeOffset - 1)], snapshot.Length + 256);
        writer.WriteWatermarks(new Section("watermarks", _ => { }));
        writer.WriteTimers(_ => { });
        writer.WriteOperator(new Section(OutputsSection, w =>
        {
            w.Write(OutputEnds.Count);
            foreach (var (partition, offset) in OutputEnds)
            {
                w.Write(partition);
                w.Write(offset);
            }
        }));
        writer.WriteOperator(new Section(PipelineSection, w => w.Write(snapshot)));
        return writer.ToArray();
    }

    /// <summary>Splits stored checkpoint data into its envelope (null for a plain pipeline snapshot) and the snapshot.</summary>
    public static ReadOnlyMemory<byte> Unwrap(ReadOnlyMemory<byte> data, out CheckpointEnvelope? envelope)
    {
        envelope = null;
        if (CheckpointReader.TryRead(data, out var outer) != CheckpointReadStatus.Ok
            || !outer!.TryGetOperator(PipelineSection, out var snapshot)
            || !outer.TryGetOperator(OutputsSection, out var outputs)
            || outer.SourceOffsets.Count != 1)
        {
            return data;
        }

        using var reader = CheckpointReader.OpenSection(outputs);
        var count = reader.ReadInt32();
        var ends = new Dictionary<int, long>(count);
        for (var i = 0; i < count; i++)
        {
            var partition = reader.ReadInt32();
            ends[partition] = reader.ReadInt64();
        }

        envelope = new CheckpointEnvelope(outer.SourceOffsets[0].Offset + 1, ends);
        return snapshot;
    }

    private sealed class Section(string name, Action<BinaryWriter> write) : ICheckpointable
    {
        public string Name => name;

        public void Snapshot(BinaryWriter writer) => write(writer);

        public void Restore(BinaryReader reader) => throw new NotSupportedException();
    }
}
