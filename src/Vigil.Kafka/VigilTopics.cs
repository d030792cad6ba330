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

    /// <summary>
    /// Internal, one partition: the decoded user events every instance forwards to the one instance running the IP and
    /// tenant rules (binary <c>UserEventSerializer</c> values, source partition and offset in headers).
    /// </summary>
    public const string Shared = "streaming-analytics-shared";

    /// <summary>Header of a forwarded event: its partition in the source topic, 4 bytes big-endian.</summary>
    public const string SourcePartitionHeader = "vigil-source-partition";

    /// <summary>Header of a forwarded event: its offset in the source partition, 8 bytes big-endian.</summary>
    public const string SourceOffsetHeader = "vigil-source-offset";

    /// <summary>
    /// Header of a forwarded event or progress record: the latest event time its source partition had seen up to that
    /// offset (the events not forwarded included), Unix milliseconds, 8 bytes big-endian.
    /// </summary>
    public const string SourceClockHeader = "vigil-source-clock";

    /// <summary>The dead-letter topic for messages from <paramref name="topic"/> that could not be decoded or validated.</summary>
    public static string DeadLetter(string topic) => topic + ".dlq";
}
