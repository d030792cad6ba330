using System.Diagnostics;
using System.Runtime;
using System.Text.Json.Nodes;

namespace Vigil.Server.Bench;

/// <summary>Medians, percentiles and the machine description shared by the bench verbs.</summary>
internal static class BenchStats
{
    /// <summary>The median of <paramref name="values"/> (mean of the middle two for an even count); NaN when empty.</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var sorted = values.ToArray();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The nearest-rank percentile <paramref name="p"/> (0–100) of already sorted values; NaN when empty.</summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.IsEmpty)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Stopwatch ticks to nanoseconds.</summary>
    public static double TicksToNs(long ticks) => ticks * 1e9 / Stopwatch.Frequency;

    /// <summary>The median cost of one Stopwatch.GetTimestamp pair, so latency samples can be read against it.</summary>
    public static double TimerOverheadNs()
    {
        var deltas = new double[10_001];
        for (var i = 0; i < deltas.Length; i++)
        {
            var a = Stopwatch.GetTimestamp();
            var b = Stopwatch.GetTimestamp();
            deltas[i] = TicksToNs(b - a);
        }
        Array.Sort(deltas);
        return deltas[deltas.Length / 2];
    }

    public static double Round(double value, int digits) => double.IsFinite(value) ? Math.Round(value, digits) : 0;

    /// <summary>What the figures were measured on.</summary>
    public static JsonObject Machine() => new()
    {
        ["processors"] = Environment.ProcessorCount,
        ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["cpu"] = CpuModel(),
        ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        ["serverGc"] = GCSettings.IsServerGC,
        ["loadAverage"] = LoadAverage(),
    };

    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal))
                {
                    return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return "unknown";
    }

    private static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
