namespace Vigil.Core.Events;

/// <summary>
/// A message that could not be decoded or failed validation. Kept, never dropped: it goes to the
/// <c>&lt;topic&gt;.dlq</c> topic and the dead_letters table with the reason and where it came from.
/// </summary>
public sealed record DeadLetter
{
    /// <summary>Raw bytes past this size are truncated before the dead letter is stored.</summary>
    public const int MaxRawBytes = 64 * 1024;

    /// <summary>The source topic (or <c>http</c> / <c>file</c> for the other sources).</summary>
    public required string SourceTopic { get; init; }

    public int Partition { get; init; } = -1;

    public long Offset { get; init; } = -1;

    /// <summary>A stable, machine-readable reason code, for example <c>MISSING_FIELD</c>.</summary>
    public required string Reason { get; init; }

    /// <summary>Human-readable detail: which field, what was wrong.</summary>
    public required string Detail { get; init; }

    /// <summary>The message key, if any.</summary>
    public string? Key { get; init; }

    /// <summary>The raw message bytes, truncated to <see cref="MaxRawBytes"/>.</summary>
    public required ReadOnlyMemory<byte> Raw { get; init; }

    /// <summary>The original size of the message in bytes, before truncation.</summary>
    public required int RawLength { get; init; }

    public required DateTimeOffset ReceivedAt { get; init; }

    /// <summary>Builds a dead letter, copying at most <see cref="MaxRawBytes"/> of <paramref name="raw"/>.</summary>
    public static DeadLetter Create(string sourceTopic, int partition, long offset, string? key,
        ReadOnlySpan<byte> raw, string reason, string detail, DateTimeOffset receivedAt) => new()
    {
        SourceTopic = sourceTopic,
        Partition = partition,
        Offset = offset,
        Key = key,
        Raw = raw[..Math.Min(raw.Length, MaxRawBytes)].ToArray(),
        RawLength = raw.Length,
        Reason = reason,
        Detail = detail,
        ReceivedAt = receivedAt,
    };
}
