using System.Globalization;
using Vigil.Core.Alerts;

namespace Vigil.Core.Detection;

/// <summary>Shared pieces of the rules' alerts: the entity key, evidence names and number formatting.</summary>
public static class Evidence
{
    /// <summary>The evidence key naming the entity an alert is about (<c>user:u-1</c>, <c>ip:203.0.113.7</c>,
    /// <c>username:admin</c>, <c>tenant</c>); suppression groups alerts by (rule, entity).</summary>
    public const string Entity = "entity";

    /// <summary>The evidence key of the triggering event ids.</summary>
    public const string EventIds = "eventIds";

    /// <summary>How many times the (rule, entity) fired within the suppression window (1 on the first alert).</summary>
    public const string Occurrences = "occurrences";

    /// <summary>Event time of the latest occurrence.</summary>
    public const string LastSeen = "lastSeen";

    /// <summary>Event time of the first occurrence.</summary>
    public const string FirstSeen = "firstSeen";

    /// <summary>The triggering event ids of the latest repeat.</summary>
    public const string LastEventIds = "lastEventIds";

    /// <summary>The summary of the latest repeat.</summary>
    public const string LastSummary = "lastSummary";

    /// <summary>The entity key of a user.</summary>
    public static string User(string userId) => "user:" + userId;

    /// <summary>The entity key of an IP address.</summary>
    public static string Ip(string ip) => "ip:" + ip;

    /// <summary>The entity key of a user event's subject: the user id, else the user name of an unknown account.</summary>
    public static string Subject(string? userId, string? username) =>
        userId is not null ? "user:" + userId : "username:" + username;

    /// <summary>The entity of an alert: its <see cref="Entity"/> evidence, else its user or IP.</summary>
    public static string EntityOf(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return alert.Evidence.TryGetValue(Entity, out var entity) && entity?.ToString() is { Length: > 0 } text
            ? text
            : alert.EntityKey;
    }

    /// <summary>Whole seconds, rounded.</summary>
    public static long Seconds(long ms) => (ms + 500) / 1000;

    /// <summary>A number with invariant formatting and at most <paramref name="decimals"/> decimals.</summary>
    public static double Round(double value, int decimals = 1) => Math.Round(value, decimals, MidpointRounding.AwayFromZero);

    /// <summary>Invariant text of a number for summaries.</summary>
    public static string Text(double value, int decimals = 0) =>
        Math.Round(value, decimals, MidpointRounding.AwayFromZero).ToString(decimals == 0 ? "0" : "0." + new string('#', decimals), CultureInfo.InvariantCulture);

    /// <summary>"1 IP" / "3 IPs".</summary>
    public static string Plural(long n, string noun) =>
        n.ToString(CultureInfo.InvariantCulture) + " " + noun + (n == 1 ? "" : "s");
}
