namespace Vigil.Core.Tests.Events;

/// <summary>A clock that stands still unless a test moves it, so time-dependent rules are deterministic.</summary>
internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
