namespace Vigil.Core.Events;

/// <summary>A decoded, validated event from the <c>user-events</c> topic (DESIGN §2).</summary>
public sealed record UserEvent
{
    /// <summary>The de-duplication key, at most 128 characters.</summary>
    public required string EventId { get; init; }

    public required EventType Type { get; init; }

    /// <summary>The type as it arrived, kept when <see cref="Type"/> is <see cref="EventType.Other"/>.</summary>
    public string? RawType { get; init; }

    /// <summary>Event time, milliseconds since the Unix epoch (UTC).</summary>
    public required long TimestampMs { get; init; }

    /// <summary>The user; null only for a failed login against an unknown account, which carries <see cref="Username"/>.</summary>
    public string? UserId { get; init; }

    public string? Username { get; init; }

    public string? SessionId { get; init; }

    /// <summary>The client address in its canonical text form (IPv4 dotted quad or compressed IPv6).</summary>
    public string? IpAddress { get; init; }

    public string? UserAgent { get; init; }

    /// <summary>Free-form string properties (search query, failure reason, amount, …); null when absent.</summary>
    public IReadOnlyDictionary<string, string>? Properties { get; init; }

    /// <summary>The entity the event belongs to: the user id, or the user name when the account is unknown.</summary>
    public string SubjectKey => UserId ?? Username ?? string.Empty;

    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs);
}
