using System.Text;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Events;

public sealed class EventTypeNamesTests
{
    public static TheoryData<string> WireNames => [.. EventTypes.WireNames];

    [Theory]
    [MemberData(nameof(WireNames))]
    public void Resolve_WireNameInAnyCase_SameTypeFromBytesAndChars(string name)
    {
        var expected = EventTypeNames.Resolve(name.AsSpan());

        Assert.NotEqual(EventType.Other, expected);
        Assert.Equal(name, expected.ToWireName());
        Assert.Equal(expected, EventTypeNames.Resolve(Encoding.ASCII.GetBytes(name)));
        Assert.Equal(expected, EventTypeNames.Resolve(Encoding.ASCII.GetBytes(name.ToLowerInvariant())));
        Assert.Equal(EventType.Other, EventTypeNames.Resolve(Encoding.ASCII.GetBytes(name + "S")));
        Assert.Equal(EventType.Other, EventTypeNames.Resolve(Encoding.ASCII.GetBytes(name[..^1] + "#")));
    }

    [Theory]
    [InlineData("USER_LOGIN", EventType.LoginSuccess)]
    [InlineData("login", EventType.LoginSuccess)]
    [InlineData("Failed_Login", EventType.LoginFailed)]
    [InlineData("PAGE_VIEX", EventType.Other)]
    [InlineData("PURCHASED", EventType.Other)]
    [InlineData("", EventType.Other)]
    public void Resolve_AliasesAndNearMisses_TypeOrOther(string name, EventType expected)
    {
        Assert.Equal(expected, EventTypeNames.Resolve(Encoding.ASCII.GetBytes(name)));
    }
}
