using Vigil.Core.Detection;

namespace Vigil.Core.Tests.Detection;

public sealed class CompactIdTests
{
    [Theory]
    [InlineData("e-797f54cc048cf653")]
    [InlineData("user-0000001-0")]
    [InlineData("A_z-09")]
    [InlineData("x")]
    [InlineData("abcdefghijABCDEFGHIJ")]
    [InlineData("abcdefghijABCDEFGHIJK")]
    [InlineData("3f2504e0-4f89-41d3-9a0c-0305e82c3301")]
    [InlineData("3F2504E0-4F89-41D3-9A0C-0305E82C3301")]
    [InlineData("{3f2504e0-4f89-41d3-9a0c-0305e82c3301}")]
    [InlineData("evt 42/ü")]
    [InlineData("")]
    public void ToString_AnyId_GivesBackTheSameText(string id)
    {
        var compact = CompactId.From(id);

        Assert.Equal(id, compact.ToString());
        Assert.False(compact.IsNone);
    }

    [Fact]
    public void From_Null_IsNone()
    {
        var compact = CompactId.From(null);

        Assert.True(compact.IsNone);
        Assert.Null(compact.ToString());
    }

    [Fact]
    public void ToString_PackedForm_IsANewStringNotTheOriginal()
    {
        // The packed forms hold no reference to the event's string, which is what frees it.
        var id = string.Concat("e-", "797f54cc048cf653");

        Assert.NotSame(id, CompactId.From(id).ToString());
        Assert.NotSame(id, CompactId.From("3f2504e0-4f89-41d3-9a0c-0305e82c3301").ToString());
    }
}
