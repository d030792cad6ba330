namespace Vigil.Core.Tests;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("1h30m", 5400)]
    [InlineData("250ms", 0.25)]
    [InlineData("45", 45)]
    [InlineData("00:05:00", 300)]
    public void TryParse_KnownForms_Parsed(string text, double seconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(seconds, value.TotalSeconds, 6);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("5x")]
    [InlineData("h")]
    [InlineData("-5s")]
    [InlineData("00:00:00")]
    [InlineData("99999999999d")]
    public void TryParse_GarbageOrNotPositive_IsFalse(string text) => Assert.False(Durations.TryParse(text, out _));
}
