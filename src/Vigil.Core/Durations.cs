using System.Globalization;

namespace Vigil.Core;

/// <summary>
/// Durations as people write them on a command line or in settings: <c>90s</c>, <c>30m</c>, <c>2h</c>, <c>1d</c>,
/// <c>1h30m</c>, <c>250ms</c>, a bare number of seconds, or a TimeSpan such as <c>00:05:00</c>.
/// </summary>
public static class Durations
{
    /// <summary>Parses a positive duration; false for anything else, including zero.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (text.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration > TimeSpan.Zero;
        }

        var s = text.AsSpan().Trim();
        double totalMs = 0;
        var i = 0;
        while (i < s.Length)
        {
            var numStart = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (i == numStart || !double.TryParse(s[numStart..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            var unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i]))
            {
                i++;
            }

            double unitMs = s[unitStart..i] switch
            {
                "ms" => 1,
                "s" or "" => 1000,
                "m" or "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => double.NaN,
            };
            if (double.IsNaN(unitMs) || (unitStart == i && i < s.Length))
            {
                return false;
            }

            totalMs += value * unitMs;
        }

        if (!(totalMs > 0) || totalMs > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }

        duration = TimeSpan.FromMilliseconds(Math.Round(totalMs));
        return true;
    }
}
