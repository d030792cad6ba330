namespace Vigil.Simulator;

/// <summary>What to simulate. The same options always give byte-identical output.</summary>
public sealed record SimulatorOptions
{
    /// <summary>Seeds every random choice.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The size of the user population.</summary>
    public int Users { get; init; } = 1000;

    /// <summary>Event time of the first event.</summary>
    public DateTimeOffset Start { get; init; } = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    /// <summary>How much event time to generate; null is endless (live mode).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Target mean events per second of legitimate traffic; null is the population's natural rate. Attacks come on top.</summary>
    public double? Rate { get; init; }

    /// <summary>Which campaigns to inject.</summary>
    public AttackKinds Attacks { get; init; } = AttackKinds.All;

    /// <summary>
    /// Mean gap between campaign starts. By default the enabled kinds are spread so each occurs at least once
    /// per <see cref="Duration"/>, and a campaign starts at least every ten minutes (every three in live mode).
    /// </summary>
    public TimeSpan? AttackInterval { get; init; }

    /// <summary>When the first campaign starts, so a live demo shows an alert within a minute.</summary>
    public TimeSpan FirstAttackAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The kind of the first campaign, when it is among <see cref="Attacks"/>; later ones follow the shuffled cycles.
    /// A live demo sets it so the first alert is one the viewer can recognise quickly.
    /// </summary>
    public AttackKinds? FirstAttackKind { get; init; }

    /// <summary>Longest span of one campaign; longer campaigns are compressed to fit (bursts keep them short).</summary>
    internal TimeSpan? MaxCampaignSpan { get; init; }

    internal void Validate()
    {
        if (Users < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Users), Users, "At least one user is needed.");
        }

        if (Duration is { } d && d <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Duration), d, "The duration must be positive.");
        }

        if (Rate is { } r && (!(r > 0) || double.IsInfinity(r)))
        {
            throw new ArgumentOutOfRangeException(nameof(Rate), r, "The rate must be a positive number of events per second.");
        }

        if (AttackInterval is { } i && i <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(AttackInterval), i, "The attack interval must be positive.");
        }

        if (FirstAttackAfter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FirstAttackAfter), FirstAttackAfter, "Must not be negative.");
        }
    }
}

/// <summary>One message as a Kafka producer would send it.</summary>
/// <param name="Topic"><c>user-events</c> or <c>notifications</c>.</param>
/// <param name="Key">The user id, or the user name for a failed login against an unknown account.</param>
/// <param name="TimestampMs">Event time, milliseconds since the Unix epoch.</param>
/// <param name="Value">UTF-8 JSON of the DESIGN §2 contract.</param>
public readonly record struct SimulatedMessage(string Topic, string Key, long TimestampMs, byte[] Value)
{
    /// <summary>The user-events topic name.</summary>
    public const string UserEventsTopic = "user-events";

    /// <summary>The notifications topic name.</summary>
    public const string NotificationsTopic = "notifications";
}

/// <summary>The ground truth of one injected attack campaign.</summary>
/// <param name="CampaignId">Deterministic id, for example <c>c-0003</c>.</param>
/// <param name="Kind">The DESIGN §3 rule that should fire, for example <c>BRUTE_FORCE</c>.</param>
/// <param name="UserIds">Known accounts the campaign touched, in order of first appearance.</param>
/// <param name="Ips">Addresses the attacker used, in order of first appearance.</param>
/// <param name="Start">Time of the first event.</param>
/// <param name="End">Time of the last event.</param>
/// <param name="EventIds">Every user event of the campaign, in emission order.</param>
public sealed record CampaignLabel(string CampaignId, string Kind, IReadOnlyList<string> UserIds, IReadOnlyList<string> Ips,
    DateTimeOffset Start, DateTimeOffset End, IReadOnlyList<string> EventIds);
