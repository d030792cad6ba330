namespace Vigil.Core.Alerts;

/// <summary>Alert severities, ordered so that a comparison ranks them.</summary>
public enum Severity : byte
{
    Low = 1,
    Medium = 2,
    High = 3,
    Critical = 4,
}

/// <summary>The status workflow of an alert: OPEN → ACKNOWLEDGED → RESOLVED or FALSE_POSITIVE.</summary>
public enum AlertStatus : byte
{
    Open,
    Acknowledged,
    Resolved,
    FalsePositive,
}

/// <summary>Wire names of <see cref="Severity"/> and <see cref="AlertStatus"/>.</summary>
public static class AlertNames
{
    public static string ToWireName(this Severity severity) => severity switch
    {
        Severity.Low => "LOW",
        Severity.Medium => "MEDIUM",
        Severity.High => "HIGH",
        Severity.Critical => "CRITICAL",
        _ => throw new ArgumentOutOfRangeException(nameof(severity), severity, "Unknown severity."),
    };

    public static string ToWireName(this AlertStatus status) => status switch
    {
        AlertStatus.Open => "OPEN",
        AlertStatus.Acknowledged => "ACKNOWLEDGED",
        AlertStatus.Resolved => "RESOLVED",
        AlertStatus.FalsePositive => "FALSE_POSITIVE",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Unknown status."),
    };

    public static bool TryParseSeverity(string? text, out Severity severity)
    {
        severity = text?.ToUpperInvariant() switch
        {
            "LOW" => Severity.Low,
            "MEDIUM" => Severity.Medium,
            "HIGH" => Severity.High,
            "CRITICAL" => Severity.Critical,
            _ => 0,
        };
        return severity != 0;
    }

    public static bool TryParseStatus(string? text, out AlertStatus status)
    {
        switch (text?.ToUpperInvariant())
        {
            case "OPEN": status = AlertStatus.Open; return true;
            case "ACKNOWLEDGED": status = AlertStatus.Acknowledged; return true;
            case "RESOLVED": status = AlertStatus.Resolved; return true;
            case "FALSE_POSITIVE": status = AlertStatus.FalsePositive; return true;
            default: status = AlertStatus.Open; return false;
        }
    }
}
