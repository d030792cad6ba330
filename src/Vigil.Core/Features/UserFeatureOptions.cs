namespace Vigil.Core.Features;

/// <summary>Settings of the per-user features.</summary>
public sealed record UserFeatureOptions
{
    /// <summary>For events without a session id, a silence longer than this starts a new session (30 minutes, as web analytics count).</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>A user idle (in event time) this long is forgotten, which bounds the state.</summary>
    public TimeSpan StateTtl { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SessionTimeout, TimeSpan.Zero, nameof(SessionTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StateTtl, TimeSpan.Zero, nameof(StateTtl));
    }
}
