using System.Diagnostics.Tracing;
using System.Text.Json.Nodes;

namespace Vigil.Server.Bench;

/// <summary>
/// Which types a run allocates, from the runtime's own allocation sampling (an event about every 100 KB allocated,
/// naming the type of the object that crossed the mark), so a profile of allocations needs no external tool.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly Dictionary<string, (long Samples, long Bytes)> _types = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Whether samples are being counted; off between the passes worth profiling.</summary>
    public volatile bool Recording;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!Recording || eventData.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal)
            || eventData.PayloadNames is not { } names || eventData.Payload is not { } payload)
        {
            return;
        }
        var type = "?";
        long amount = 0;
        for (var i = 0; i < names.Count; i++)
        {
            switch (names[i])
            {
                case "TypeName":
                    type = payload[i] as string ?? "?";
                    break;
                case "AllocationAmount64":
                    amount = Convert.ToInt64(payload[i], System.Globalization.CultureInfo.InvariantCulture);
                    break;
            }
        }
        lock (_lock)
        {
            var (samples, bytes) = _types.GetValueOrDefault(type);
            _types[type] = (samples + 1, bytes + amount);
        }
    }

    /// <summary>The types sampled, largest share first, with their share of the samples.</summary>
    public JsonArray ToJson(int top = 15)
    {
        List<KeyValuePair<string, (long Samples, long Bytes)>> rows;
        lock (_lock)
        {
            rows = [.. _types];
        }
        long total = 0;
        foreach (var row in rows)
        {
            total += row.Value.Samples;
        }
        rows.Sort((a, b) => b.Value.Samples.CompareTo(a.Value.Samples));
        var result = new JsonArray();
        for (var i = 0; i < Math.Min(top, rows.Count); i++)
        {
            result.Add(new JsonObject
            {
                ["type"] = rows[i].Key,
                ["share"] = BenchStats.Round(rows[i].Value.Samples / (double)Math.Max(1, total), 3),
                ["samples"] = rows[i].Value.Samples,
            });
        }
        return result;
    }
}
