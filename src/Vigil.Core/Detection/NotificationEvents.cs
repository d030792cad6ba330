using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>
/// Carries notifications through the same engine as user events, so the notification rules share the partition's
/// event time, offsets and checkpoint: a notification becomes a <see cref="UserEvent"/> of type
/// <see cref="EventType.Other"/> with <see cref="RawType"/> and its kind and channel as properties.
/// </summary>
/// <remarks>User-event rules never mistake one for a user action: they select on event types, and the rules that
/// count every event of a user (rapid activity, behaviour) skip these with <see cref="IsNotification"/>.</remarks>
public static class NotificationEvents
{
    /// <summary>The raw type marking a notification.</summary>
    public const string RawType = "NOTIFICATION";

    /// <summary>The property holding the notification's kind (for example PASSWORD_RESET).</summary>
    public const string KindProperty = "kind";

    /// <summary>The property holding the delivery channel (EMAIL, SMS, PUSH).</summary>
    public const string ChannelProperty = "channel";

    /// <summary>The notification as an engine event.</summary>
    public static UserEvent ToEvent(Notification notification)
    {
        ArgumentNullException.ThrowIfNull(notification);
        return new UserEvent
        {
            EventId = notification.NotificationId,
            Type = EventType.Other,
            RawType = RawType,
            TimestampMs = notification.TimestampMs,
            UserId = notification.UserId,
            Properties = new Dictionary<string, string>(2, StringComparer.Ordinal)
            {
                [KindProperty] = notification.Kind,
                [ChannelProperty] = notification.Channel switch
                {
                    NotificationChannel.Sms => "SMS",
                    NotificationChannel.Push => "PUSH",
                    _ => "EMAIL",
                },
            },
        };
    }

    /// <summary>Whether an engine event is a notification.</summary>
    public static bool IsNotification(UserEvent evt) =>
        evt is { Type: EventType.Other, RawType: RawType };

    /// <summary>The kind of a notification event; null for anything else.</summary>
    public static string? KindOf(UserEvent evt) =>
        IsNotification(evt) && evt.Properties is { } p && p.TryGetValue(KindProperty, out var kind) ? kind : null;
}
