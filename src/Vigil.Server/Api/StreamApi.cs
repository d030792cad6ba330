using System.Text.Json;
using Vigil.Core.Alerts;
using Vigil.Server.Pipeline;
using Vigil.Storage;

namespace Vigil.Server.Api;

/// <summary>GET /api/stream: Server-Sent Events of new and changed alerts, and of the metrics every second.</summary>
public static class StreamApi
{
    public static IEndpointRouteBuilder MapStreamApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/stream", StreamAsync).WithTags("Status").WithName("Stream")
            .WithSummary("Server-Sent Events: 'alert' with each new or changed alert, 'metrics' every second.")
            .RequireAuthorization(Security.Policies.Read);
        return app;
    }

    internal static async Task StreamAsync(HttpContext context, AlertBroadcast broadcast, PipelineMetrics metrics, IVigilStore store,
        IOptionsJson json, CancellationToken ct)
    {
        var response = context.Response;
        response.Headers.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var alerts = broadcast.Subscribe(ct);
        await response.WriteAsync("retry: 2000\n\n", ct);
        await response.Body.FlushAsync(ct);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var tick = timer.WaitForNextTickAsync(ct).AsTask();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var next = alerts.WaitToReadAsync(ct).AsTask();
                var done = await Task.WhenAny(next, tick);
                if (done == tick)
                {
                    if (!await tick)
                    {
                        break;
                    }
                    var report = (await StatusApi.MetricsAsync(store, metrics, ct)).Value!;
                    await WriteEventAsync(response, "metrics", JsonSerializer.Serialize(report, json.Options), ct);
                    tick = timer.WaitForNextTickAsync(ct).AsTask();
                }
                while (alerts.TryRead(out var alert))
                {
                    await WriteEventAsync(response, "alert", System.Text.Encoding.UTF8.GetString(AlertJson.ToUtf8Bytes(alert)), ct);
                }
                await response.Body.FlushAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, string name, string data, CancellationToken ct)
    {
        // JSON from our serializers has no raw newlines, so each event is one data line.
        await response.WriteAsync($"event: {name}\ndata: {data}\n\n", ct);
    }
}

/// <summary>The API's JSON options, for code that serializes outside a typed result.</summary>
public interface IOptionsJson
{
    JsonSerializerOptions Options { get; }
}

internal sealed class OptionsJson(Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> options) : IOptionsJson
{
    public JsonSerializerOptions Options => options.Value.SerializerOptions;
}
