using Vigil.Simulator.Internal;

namespace Vigil.Simulator;

/// <summary>
/// Deterministic user-service traffic: a population with homes, devices, daily rhythms, sessions, typos,
/// forgotten passwords and trips, plus labelled attack campaigns of every DESIGN §3 kind.
/// </summary>
/// <remarks>
/// Messages are generated lazily in event-time order and held only while their session is in flight, so an
/// endless run streams in bounded memory. The same options always produce byte-identical messages and labels.
/// </remarks>
public sealed class Simulation
{
    private readonly SimulatorOptions _options;
    private readonly Lock _gate = new();
    private List<CampaignLabel> _completed = [];

    /// <summary>Creates a simulation; nothing is generated until <see cref="Messages"/> is enumerated.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public Simulation(SimulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _ = GeoSeed.Instance;
    }

    /// <summary>Campaigns whose events have all been emitted so far; complete once <see cref="Messages"/> has been enumerated to the end.</summary>
    public IReadOnlyList<CampaignLabel> Campaigns
    {
        get
        {
            lock (_gate)
            {
                return [.. _completed];
            }
        }
    }

    /// <summary>Raised, on the enumerating thread, as soon as the last event of a campaign has been emitted.</summary>
    public event Action<CampaignLabel>? CampaignCompleted;

    /// <summary>
    /// The messages, ordered by <see cref="SimulatedMessage.TimestampMs"/> with ties in a fixed order; endless when
    /// <see cref="SimulatorOptions.Duration"/> is null. Each enumeration starts the simulation afresh.
    /// </summary>
    public IEnumerable<SimulatedMessage> Messages()
    {
        foreach (var (message, _) in Tagged())
        {
            yield return message;
        }
    }

    /// <summary>The messages, each with whether it belongs to a campaign.</summary>
    internal IEnumerable<(SimulatedMessage Message, bool Campaign)> Tagged()
    {
        var engine = new Engine(_options);
        lock (_gate)
        {
            _completed = [];
        }

        engine.OnCampaignCompleted = state =>
        {
            var label = state.ToLabel();
            lock (_gate)
            {
                _completed.Add(label);
            }

            CampaignCompleted?.Invoke(label);
        };
        return engine.Run();
    }

    /// <summary>
    /// A short, self-contained burst: about <paramref name="legitimateEvents"/> legitimate user events plus one
    /// campaign of the single kind <paramref name="attack"/> starting at <paramref name="start"/>, squeezed into
    /// five minutes. Used by <c>POST /api/generate-test-data</c>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="attack"/> is not exactly one kind.</exception>
    public static IReadOnlyList<SimulatedMessage> Burst(int seed, DateTimeOffset start, AttackKinds attack, int legitimateEvents,
        out CampaignLabel label)
    {
        _ = attack.ToWireName();
        ArgumentOutOfRangeException.ThrowIfNegative(legitimateEvents);
        var window = TimeSpan.FromMinutes(5);
        var simulation = new Simulation(new SimulatorOptions
        {
            Seed = seed,
            Users = 500,
            Start = start,
            Duration = TimeSpan.FromMinutes(15),
            // Enough legitimate traffic to fill the budget inside the campaign's five minutes.
            Rate = legitimateEvents > 0 ? Math.Max(0.5, legitimateEvents / window.TotalSeconds * 1.2) : null,
            Attacks = attack,
            FirstAttackAfter = TimeSpan.Zero,
            AttackInterval = TimeSpan.FromDays(1),
            MaxCampaignSpan = window,
        });

        var result = new List<SimulatedMessage>();
        var legitimate = 0;
        foreach (var (message, campaign) in simulation.Tagged())
        {
            if (campaign)
            {
                result.Add(message);
            }
            else if (legitimate < legitimateEvents)
            {
                result.Add(message);
                if (message.Topic == SimulatedMessage.UserEventsTopic)
                {
                    legitimate++;
                }
            }

            if (legitimate >= legitimateEvents && simulation.Campaigns.Count > 0)
            {
                break;
            }
        }

        var labels = simulation.Campaigns;
        label = labels.Count > 0 ? labels[0] : throw new InvalidOperationException("The burst produced no campaign.");
        return result;
    }
}
