using System.Security.Cryptography;
using System.Text;

namespace Vigil.Core.Alerts;

/// <summary>A security alert (DESIGN §3). Immutable; sinks de-duplicate on <see cref="AlertId"/>.</summary>
public sealed record Alert
{
    /// <summary>Deterministic: derived from the rule, the entity and the triggering event or window (see <see cref="MakeId"/>).</summary>
    public required string AlertId { get; init; }

    /// <summary>The rule name, for example <c>BRUTE_FORCE</c>.</summary>
    public required string Rule { get; init; }

    public required Severity Severity { get; init; }

    public string? UserId { get; init; }

    public string? IpAddress { get; init; }

    /// <summary>Event time of the event that triggered the alert.</summary>
    public required DateTimeOffset EventTime { get; init; }

    /// <summary>Wall-clock time at which the engine raised the alert; not part of the identity.</summary>
    public required DateTimeOffset DetectedAt { get; init; }

    public DateTimeOffset? WindowStart { get; init; }

    public DateTimeOffset? WindowEnd { get; init; }

    /// <summary>Confidence in [0, 1].</summary>
    public double Score { get; init; }

    /// <summary>A plain-words explanation an analyst can act on.</summary>
    public required string Summary { get; init; }

    /// <summary>The triggering event ids under <c>eventIds</c>, and the numbers behind the decision.</summary>
    public required IReadOnlyDictionary<string, object?> Evidence { get; init; }

    public AlertStatus Status { get; init; } = AlertStatus.Open;

    /// <summary>Who moved the alert to its current status; null while it is OPEN.</summary>
    public string? StatusBy { get; init; }

    /// <summary>When the alert moved to its current status; null while it is OPEN.</summary>
    public DateTimeOffset? StatusAt { get; init; }

    /// <summary>The analyst's note on the last status change, if any.</summary>
    public string? StatusNote { get; init; }

    /// <summary>
    /// Whether the workflow allows moving from <paramref name="from"/> to <paramref name="to"/>:
    /// OPEN → ACKNOWLEDGED → RESOLVED or FALSE_POSITIVE, and OPEN straight to either end state.
    /// </summary>
    public static bool CanMove(AlertStatus from, AlertStatus to) => (from, to) switch
    {
        (AlertStatus.Open, AlertStatus.Acknowledged) => true,
        (AlertStatus.Open or AlertStatus.Acknowledged, AlertStatus.Resolved or AlertStatus.FalsePositive) => true,
        _ => false,
    };

    /// <summary>The key of the alert on the <c>security-alerts</c> topic: the user id, else the IP.</summary>
    public string EntityKey => UserId ?? IpAddress ?? string.Empty;

    /// <summary>
    /// A stable id for (rule, entity, trigger): the first 128 bits of SHA-256 over the three, in UUID text form,
    /// so a replay after a crash yields the same id and the sinks drop the repeat.
    /// </summary>
    public static string MakeId(string rule, string entity, string trigger)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(trigger);
        var text = string.Concat(rule, "\u001f", entity, "\u001f", trigger);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        // Mark as an RFC 9562 version-8 (custom) UUID so the text is a valid UUID.
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString("D");
    }
}
