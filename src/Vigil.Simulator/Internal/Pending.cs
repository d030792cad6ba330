using Vigil.Core.Events;

namespace Vigil.Simulator.Internal;

internal enum PendingKind : byte
{
    Event,
    Notification,
    UserWake,
    CampaignWake,
}

/// <summary>One item in the engine's time-ordered queue: an event or notification to emit, or a wake-up to generate more.</summary>
internal sealed class Pending
{
    public long Ts;
    public PendingKind Kind;
    public EventType Type;
    public string? UserId;
    public string? Username;
    public string? SessionId;
    public string? Ip;
    public string? UserAgent;
    public KeyValuePair<string, string>[]? Properties;
    public CampaignState? Campaign;
    public UserState? User;
    public NotificationChannel Channel;
    public string? NotificationKind;
}

/// <summary>Queue order: event time, then insertion sequence, which is itself deterministic.</summary>
internal readonly record struct QueueOrder(long Ts, long Seq) : IComparable<QueueOrder>
{
    public int CompareTo(QueueOrder other)
    {
        var c = Ts.CompareTo(other.Ts);
        return c != 0 ? c : Seq.CompareTo(other.Seq);
    }
}

/// <summary>A campaign being emitted; becomes a <see cref="CampaignLabel"/> when its last event is out.</summary>
internal sealed class CampaignState(string id, string kind)
{
    public string Id { get; } = id;

    public string Kind { get; } = kind;

    public List<string> UserIds { get; } = [];

    public List<string> Ips { get; } = [];

    public List<string> EventIds { get; } = [];

    public int Remaining { get; set; }

    public long FirstTs { get; set; } = long.MaxValue;

    public long LastTs { get; set; } = long.MinValue;

    public void AddUser(string userId)
    {
        if (!UserIds.Contains(userId))
        {
            UserIds.Add(userId);
        }
    }

    public void AddIp(string ip)
    {
        if (!Ips.Contains(ip))
        {
            Ips.Add(ip);
        }
    }

    public CampaignLabel ToLabel() => new(Id, Kind, [.. UserIds], [.. Ips],
        DateTimeOffset.FromUnixTimeMilliseconds(FirstTs), DateTimeOffset.FromUnixTimeMilliseconds(LastTs), [.. EventIds]);
}

/// <summary>A simulated account: fixed profile plus the little state its sessions need.</summary>
internal sealed class UserState
{
    public required int Index { get; init; }

    public required string Id { get; init; }

    public required string Username { get; init; }

    public required string EmailDomain { get; init; }

    public required City Home { get; init; }

    public required uint HomeIp { get; init; }

    public required string[] Devices { get; init; }

    public required bool[] DeviceIsMobile { get; init; }

    public required bool NightOwl { get; init; }

    /// <summary>A VPN user's exit network; all their traffic leaves through it.</summary>
    public required HostingNetwork? Vpn { get; init; }

    public required double SessionsPerDay { get; init; }

    public required double UtcOffsetHours { get; init; }

    public bool Registered { get; set; }

    /// <summary>The time of the user's latest successful login so far (ms), or <see cref="long.MinValue"/>.</summary>
    public long LastLoginMs { get; set; } = long.MinValue;

    public Prng Rng;

    /// <summary>The trip destination while the user is away, else null.</summary>
    public City? Away { get; set; }

    public long ReturnTs { get; set; }

    public long LastSessionEndTs { get; set; } = long.MinValue / 4;

    public long LastFailureTs { get; set; } = long.MinValue / 4;

    /// <summary>Successful logins of the user's own sessions so far: how much history a detector has of them.</summary>
    public int Logins { get; set; }
}
