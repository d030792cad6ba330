namespace Vigil.Kafka;

/// <summary>The topic names users of the original stack know (DESIGN §5), and the dead-letter naming rule.</summary>
public static class VigilTopics
{
    /// <summary>Input: user-service events, keyed by user id.</summary>
    public const string UserEvents = "user-events";

    /// <summary>Input: notifications sent to users.</summary>
    public const string Notifications = "notifications";

    /// <summary>Output: security alerts, keyed by the alert's entity.</summary>
    public const string SecurityAlerts = "security-alerts";

    /// <summary>Output: segments, risk scores, model and traffic insights.</summary>
    public const string AnalyticsInsights = "analytics-insights";

    /// <summary>The dead-letter topic for messages from <paramref name="topic"/> that could not be decoded or validated.</summary>
    public static string DeadLetter(string topic) => topic + ".dlq";
}
