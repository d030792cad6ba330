using System.Globalization;

namespace Vigil.Core.Ml;

/// <summary>A numeric data set with a 0/1 label per row, features row-major as 32-bit floats.</summary>
public sealed class LabelledDataset(IReadOnlyList<string> featureNames, float[] features, bool[] labels)
{
    /// <summary>The feature columns, in file order, without the label column.</summary>
    public IReadOnlyList<string> FeatureNames { get; } = featureNames;

    /// <summary>Row-major values: row r, feature f at r × FeatureCount + f.</summary>
    public ReadOnlyMemory<float> Features { get; } = features;

    /// <summary>True where the label is 1 (an anomaly).</summary>
    public ReadOnlyMemory<bool> Labels { get; } = labels;

    /// <summary>The number of rows.</summary>
    public int RowCount => Labels.Length;

    /// <summary>The number of feature columns.</summary>
    public int FeatureCount => FeatureNames.Count;
}

/// <summary>
/// Reads a CSV of numbers with a header row and one 0/1 label column, such as the ODDS anomaly-detection benchmarks.
/// Cells are separated by commas (no quoted commas; surrounding quotes and spaces are trimmed); blank lines are
/// skipped. Every feature cell must be a finite number; a bad cell fails with a message naming the line and column.
/// </summary>
public static class LabelledCsv
{
    /// <summary>Reads every row of <paramref name="reader"/>; every column other than the label is a feature.</summary>
    /// <exception cref="FormatException">No header, no such label column, a row of the wrong width, a cell that is not
    /// a finite number, or a label other than 0 or 1; the message names the line (1 is the header) and column.</exception>
    public static LabelledDataset Read(TextReader reader, string labelColumn)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrEmpty(labelColumn);
        var lineNumber = 0;
        string? header;
        do
        {
            header = reader.ReadLine();
            lineNumber++;
        }
        while (header is not null && string.IsNullOrWhiteSpace(header));
        if (header is null)
        {
            throw new FormatException("the CSV is empty: it needs a header row.");
        }
        var columns = header.Split(',');
        for (var c = 0; c < columns.Length; c++)
        {
            columns[c] = Clean(columns[c]).ToString();
        }
        var labelIndex = Array.IndexOf(columns, labelColumn);
        if (labelIndex < 0)
        {
            throw new FormatException($"the CSV has no column '{labelColumn}' (its columns: {string.Join(", ", columns)}).");
        }
        var names = new List<string>(columns.Length - 1);
        for (var c = 0; c < columns.Length; c++)
        {
            if (c != labelIndex)
            {
                names.Add(columns[c]);
            }
        }
        if (names.Count == 0)
        {
            throw new FormatException("the CSV has no feature column besides the label.");
        }

        var values = new List<float>();
        var labels = new List<bool>();
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            var rest = line.AsSpan();
            for (var c = 0; c < columns.Length; c++)
            {
                var comma = rest.IndexOf(',');
                var last = c == columns.Length - 1;
                if (last != (comma < 0))
                {
                    throw new FormatException(
                        $"line {lineNumber} has {CountCells(line)} cells; the header has {columns.Length}.");
                }
                var cell = Clean(last ? rest : rest[..comma]);
                rest = last ? default : rest[(comma + 1)..];
                if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !float.IsFinite(value))
                {
                    throw new FormatException(
                        $"line {lineNumber}, column '{columns[c]}' ({c + 1}): '{cell}' is not a finite number.");
                }
                if (c == labelIndex)
                {
                    if (value is not (0 or 1))
                    {
                        throw new FormatException(
                            $"line {lineNumber}, column '{columns[c]}' ({c + 1}): the label must be 0 or 1, not '{cell}'.");
                    }
                    labels.Add(value == 1);
                }
                else
                {
                    values.Add(value);
                }
            }
        }
        return new LabelledDataset(names, values.ToArray(), labels.ToArray());
    }

    private static ReadOnlySpan<char> Clean(ReadOnlySpan<char> cell)
    {
        cell = cell.Trim();
        if (cell.Length >= 2 && cell[0] == '"' && cell[^1] == '"')
        {
            cell = cell[1..^1].Trim();
        }
        return cell;
    }

    private static int CountCells(string line)
    {
        var count = 1;
        foreach (var ch in line)
        {
            count += ch == ',' ? 1 : 0;
        }
        return count;
    }
}
