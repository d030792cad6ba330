using System.Diagnostics.CodeAnalysis;
using Vigil.Core.Detection;

namespace Vigil.Core.Events;

/// <summary>A decoded, validated event from the <c>user-events</c> topic (DESIGN §2).</summary>
/// <remarks>Equality is by value over the properties (as a record's would be), whichever form the id is held in.</remarks>
public sealed record UserEvent
{
    // The id as text, or null while the decoder's compact form is all there is (most events' ids are only ever stored
    // compactly by the rules; the text is made the first time something asks for it).
    private string? _eventId;
    private CompactId _packedEventId;

    public UserEvent()
    {
    }

    /// <summary>An event whose id is given in its compact form (the decoder's, without a string); EventId then makes
    /// its text from that form (the nullable check cannot see that it is never null).</summary>
#pragma warning disable CS8618
    [SetsRequiredMembers]
    internal UserEvent(CompactId packedEventId)
    {
        _packedEventId = packedEventId;
    }
#pragma warning restore CS8618

    /// <summary>The de-duplication key, at most 128 characters.</summary>
    public required string EventId
    {
        get => _eventId ?? (_eventId = _packedEventId.ToString()!);
        init
        {
            _eventId = value;
            _packedEventId = default;
        }
    }

    /// <summary>The id as per-user state keeps it; no string is made when the decoder packed it.</summary>
    public CompactId PackedEventId => _packedEventId.IsNone ? CompactId.From(_eventId) : _packedEventId;

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

    public bool Equals(UserEvent? other) =>
        ReferenceEquals(this, other)
        || (other is not null && TimestampMs == other.TimestampMs && Type == other.Type
            && string.Equals(EventId, other.EventId, StringComparison.Ordinal)
            && string.Equals(RawType, other.RawType, StringComparison.Ordinal)
            && string.Equals(UserId, other.UserId, StringComparison.Ordinal)
            && string.Equals(Username, other.Username, StringComparison.Ordinal)
            && string.Equals(SessionId, other.SessionId, StringComparison.Ordinal)
            && string.Equals(IpAddress, other.IpAddress, StringComparison.Ordinal)
            && string.Equals(UserAgent, other.UserAgent, StringComparison.Ordinal)
            && EqualityComparer<IReadOnlyDictionary<string, string>?>.Default.Equals(Properties, other.Properties));

    public override int GetHashCode() => HashCode.Combine(EventId, Type, TimestampMs, UserId, Username, SessionId, IpAddress);
}
