using System.Text.RegularExpressions;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Events;

public sealed partial class DeadLetterReasonsTests
{
    [GeneratedRegex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")]
    private static partial Regex UpperSnake();

    [Fact]
    public void ToCode_EveryReason_DistinctUpperSnakeCode()
    {
        var codes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var reason in Enum.GetValues<DeadLetterReason>())
        {
            var code = reason.ToCode();
            Assert.Matches(UpperSnake(), code);
            Assert.True(codes.Add(code), $"{code} is used twice");
        }
    }

    [Theory]
    [InlineData(DeadLetterReason.MissingField, "MISSING_FIELD")]
    [InlineData(DeadLetterReason.TimestampInFuture, "TIMESTAMP_IN_FUTURE")]
    [InlineData(DeadLetterReason.TruncatedJson, "TRUNCATED_JSON")]
    [InlineData(DeadLetterReason.InvalidNumber, "INVALID_NUMBER")]
    public void ToCode_KnownReason_StableCode(DeadLetterReason reason, string code)
    {
        Assert.Equal(code, reason.ToCode());
    }
}
