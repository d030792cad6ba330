using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

public sealed class LabelledCsvTests
{
    private static LabelledDataset Read(string text, string label = "label") => LabelledCsv.Read(new StringReader(text), label);

    [Fact]
    public void Read_LabelInTheMiddle_ExcludedFromFeatures()
    {
        var data = Read("a,label,b\n1,0,2.5\n-3e2, 1 ,\"4\"\n\n");

        Assert.Equal(["a", "b"], data.FeatureNames);
        Assert.Equal(2, data.RowCount);
        Assert.Equal([1f, 2.5f, -300f, 4f], data.Features.ToArray());
        Assert.Equal([false, true], data.Labels.ToArray());
    }

    [Fact]
    public void Read_BadCell_NamesLineAndColumn()
    {
        var ex = Assert.Throws<FormatException>(() => Read("f0,f1,label\n1,2,0\n3,abc,1\n"));

        Assert.Contains("line 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'f1'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'abc'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("f0,label\nNaN,0\n")]
    [InlineData("f0,label\n1e40,0\n")]
    [InlineData("f0,label\n,0\n")]
    public void Read_NotAFiniteNumber_Throws(string text)
    {
        var ex = Assert.Throws<FormatException>(() => Read(text));

        Assert.Contains("line 2, column 'f0'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_LabelNotZeroOrOne_Throws()
    {
        var ex = Assert.Throws<FormatException>(() => Read("f0,label\n1,2\n"));

        Assert.Contains("line 2, column 'label'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("f0,f1,label\n1,2\n")]
    [InlineData("f0,f1,label\n1,2,0,4\n")]
    public void Read_WrongNumberOfCells_NamesLine(string text)
    {
        var ex = Assert.Throws<FormatException>(() => Read(text));

        Assert.Contains("line 2 has", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NoSuchLabelColumn_NamesIt()
    {
        var ex = Assert.Throws<FormatException>(() => Read("f0,y\n1,0\n"));

        Assert.Contains("'label'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_Empty_Throws() => Assert.Throws<FormatException>(() => Read(""));
}
