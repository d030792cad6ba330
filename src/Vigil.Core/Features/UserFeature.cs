namespace Vigil.Core.Features;

/// <summary>The per-user behaviour features, in vector order (<see cref="UserFeatures.Count"/> of them).</summary>
public enum UserFeature
{
    /// <summary>Events of any type.</summary>
    Events,

    /// <summary>Sessions: a new session id, or a gap of more than the session timeout when events carry none.</summary>
    Sessions,

    EventsPerSession,

    /// <summary>The circular mean of the hour of day (UTC) of the events, in [0, 24).</summary>
    MeanActiveHour,

    /// <summary>Share of events between 00:00 and 06:00 UTC.</summary>
    NightShare,

    /// <summary>Failed logins over all login attempts (0 when there were none).</summary>
    FailedLoginRatio,

    DistinctIps,

    /// <summary>Countries the user's IPs resolve to (0 without a geo database).</summary>
    DistinctCountries,

    /// <summary>Distinct user agents.</summary>
    DistinctDevices,

    SearchesPerSession,

    /// <summary>The mean time between consecutive events, in seconds (Welford).</summary>
    GapMeanSeconds,

    /// <summary>The standard deviation of the time between consecutive events, in seconds (Welford).</summary>
    GapStdSeconds,

    /// <summary>Distinct UTC days with at least one event.</summary>
    DaysActive,

    /// <summary>Successful logins (the learning minimum of the anomaly rule counts these).</summary>
    Logins,

    /// <summary>Password, e-mail and MFA changes and password-reset requests.</summary>
    AccountChanges,
}

/// <summary>Names and properties of the <see cref="UserFeature"/>s.</summary>
public static class UserFeatures
{
    /// <summary>The length of a feature vector.</summary>
    public const int Count = 15;

    private static readonly string[] s_names =
    [
        "events", "sessions", "eventsPerSession", "meanActiveHour", "nightShare", "failedLoginRatio",
        "distinctIps", "distinctCountries", "distinctDevices", "searchesPerSession", "gapMeanSeconds",
        "gapStdSeconds", "daysActive", "logins", "accountChanges",
    ];

    // Counts and durations are heavy-tailed: a few users have a thousand times the median, and on a linear scale
    // they alone would decide every centroid and every split. log1p before standardising evens that out.
    private static readonly bool[] s_logScaled =
    [
        true, true, true, false, false, false,
        true, true, true, true, true,
        true, true, true, true,
    ];

    /// <summary>The camelCase name of each feature, in vector order (the CSV header and the API's keys).</summary>
    public static IReadOnlyList<string> Names => s_names;

    /// <summary>The camelCase name of <paramref name="feature"/>.</summary>
    public static string Name(this UserFeature feature) => s_names[(int)feature];

    /// <summary>True for the features the model scales with log(1 + x) before standardising.</summary>
    public static bool IsLogScaled(UserFeature feature) => s_logScaled[(int)feature];

    /// <summary>The index of the feature called <paramref name="name"/>, or −1.</summary>
    public static int IndexOf(string name) => Array.IndexOf(s_names, name);
}
