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

    [Theory]
    [InlineData("e-797f54cc048cf653", true)]
    [InlineData("A_z-09", true)]
    [InlineData("x", true)]
    [InlineData("abcdefghijABCDEFGHIJ", true)]
    [InlineData("abcdefghijABCDEFGHIJK", false)]
    [InlineData("3f2504e0-4f89-41d3-9a0c-0305e82c3301", true)]
    [InlineData("3F2504E0-4F89-41D3-9A0C-0305E82C3301", false)]
    [InlineData("3f2504e0-4f89-41d3-9a0c-0305e82c330z", false)]
    [InlineData("{3f2504e0-4f89-41d3-9a0c-0305e82c3301}", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("evt 42/ü", false)]
    [InlineData("üü", false)]
    [InlineData("", false)]
    public void TryFromUtf8_AnyId_PacksExactlyAsTheStringWouldOrDeclines(string id, bool packs)
    {
        // The decoder packs an id from its bytes and never makes the string; a rule comparing that with an id packed
        // from a string (a restored checkpoint, an event built in code) must find them equal.
        var packed = CompactId.TryFromUtf8(System.Text.Encoding.UTF8.GetBytes(id), out var fromBytes);

        Assert.Equal(packs, packed);
        if (packs)
        {
            Assert.Equal(CompactId.From(id), fromBytes);
            Assert.Equal(id, fromBytes.ToString());
        }
    }

    [Fact]
    public void TryFromUtf8_RandomIds_SameAsFromTheString()
    {
        var random = new Random(5);
        const string alphabet = "0123456789abcdefABCDEF-_xyzXYZ.:/ é";
        var packedCount = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var chars = new char[random.Next(1, 40)];
            for (var c = 0; c < chars.Length; c++)
            {
                chars[c] = alphabet[random.Next(random.Next(4) == 0 ? alphabet.Length : 30)];
            }
            var id = i % 7 == 0 ? Guid.NewGuid().ToString(i % 2 == 0 ? "D" : "N") : new string(chars);
            if (CompactId.TryFromUtf8(System.Text.Encoding.UTF8.GetBytes(id), out var fromBytes))
            {
                packedCount++;
                Assert.Equal(CompactId.From(id), fromBytes);
            }
        }

        Assert.InRange(packedCount, 2000, 18_000);
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
