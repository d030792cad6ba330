namespace Vigil.Core.Events;

/// <summary>The delivery channel of a notification.</summary>
public enum NotificationChannel : byte
{
    Email,
    Sms,
    Push,
}

/// <summary>A decoded event from the <c>notifications</c> topic: { notificationId, userId, channel, kind, timestamp }.</summary>
public sealed record Notification
{
    public required string NotificationId { get; init; }

    public required string UserId { get; init; }

    public required NotificationChannel Channel { get; init; }

    /// <summary>What the notification is about, for example <c>PASSWORD_RESET</c>.</summary>
    public required string Kind { get; init; }

    public required long TimestampMs { get; init; }
}
