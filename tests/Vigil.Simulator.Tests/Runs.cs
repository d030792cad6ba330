using System.Text.Json;
using Vigil.Simulator.Internal;

namespace Vigil.Simulator.Tests;

/// <summary>A decoded user event, as the tests need it.</summary>
internal sealed record Ev(string Id, string Type, long Ts, string? UserId, string? Username, string? Ip, string? SessionId,
    IReadOnlyDictionary<string, string> Props)
{
    public string Subject => UserId ?? Username!;
}

/// <summary>A finished run: messages, decoded events and labels.</summary>
internal sealed record Run(IReadOnlyList<SimulatedMessage> Messages, IReadOnlyList<Ev> Events, IReadOnlyList<CampaignLabel> Labels)
{
    public static Run Of(SimulatorOptions options)
    {
        var sim = new Simulation(options);
        var messages = sim.Messages().ToList();
        var events = messages.Where(m => m.Topic == SimulatedMessage.UserEventsTopic).Select(m => Decode(m.Value)).ToList();
        return new Run(messages, events, sim.Campaigns);
    }

    public static Ev Decode(byte[] value)
    {
        using var doc = JsonDocument.Parse(value);
        var r = doc.RootElement;
        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        if (r.TryGetProperty("properties", out var p))
        {
            foreach (var kv in p.EnumerateObject())
            {
                props[kv.Name] = kv.Value.GetString()!;
            }
        }

        return new Ev(r.GetProperty("eventId").GetString()!, r.GetProperty("eventType").GetString()!,
            DateTimeOffset.Parse(r.GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(),
            Str(r, "userId"), Str(r, "username"), Str(r, "ipAddress"), Str(r, "sessionId"), props);
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;

    public HashSet<string> LabelledEventIds() => Labels.SelectMany(l => l.EventIds).ToHashSet(StringComparer.Ordinal);

    public HashSet<string> CampaignUsers() => Labels.SelectMany(l => l.UserIds).ToHashSet(StringComparer.Ordinal);

    public List<Ev> EventsOf(CampaignLabel label)
    {
        var ids = label.EventIds.ToHashSet(StringComparer.Ordinal);
        return Events.Where(e => ids.Contains(e.Id)).OrderBy(e => e.Ts).ToList();
    }

    public static (double Lat, double Lon) Locate(string ip)
    {
        Assert.True(GeoSeed.Instance.TryLocate(ip, out var lat, out var lon, out _), $"{ip} is in no committed prefix");
        return (lat, lon);
    }

    /// <summary>The most events that fall inside any window of the given length.</summary>
    public static int MaxInWindow(IReadOnlyList<long> sortedTs, long windowMs)
    {
        var best = 0;
        var lo = 0;
        for (var hi = 0; hi < sortedTs.Count; hi++)
        {
            while (sortedTs[hi] - sortedTs[lo] > windowMs)
            {
                lo++;
            }

            best = Math.Max(best, hi - lo + 1);
        }

        return best;
    }

    public static readonly DateTimeOffset Start = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    private static readonly Lazy<Run> s_hour = new(() => Of(new SimulatorOptions { Seed = 7, Users = 1000, Start = Start, Duration = TimeSpan.FromHours(1) }));

    /// <summary>1000 users for one hour with every attack: shared because several tests read it.</summary>
    public static Run Hour => s_hour.Value;
}
