using System.Buffers;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Features;
using Vigil.Core.Events;
using Vigil.Kafka;
using Vigil.Server.Hosting;
using Vigil.Server.Pipeline;
using Vigil.Server.Security;

namespace Vigil.Server.Api;

public sealed record IngestError(int Index, string Reason, string Detail);

public sealed record IngestResponse(int Accepted, int Rejected, IReadOnlyList<IngestError> Errors);

/// <summary>
/// POST /api/events: HTTP ingest of a batch, as a JSON array or as JSON lines (application/x-ndjson). Each event is
/// validated with the same decoder as the Kafka path; valid events are produced to <c>user-events</c> keyed by user,
/// so they are processed exactly like events from Kafka; rejected ones are dead-lettered with their reason.
/// </summary>
public static class IngestApi
{
    public const string RateLimitPolicy = "ingest";
    private const int MaxEventsPerRequest = 10_000;

    public static IServiceCollection AddIngestRateLimit(this IServiceCollection services, VigilOptions options)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetTokenBucketLimiter(
                // Per caller: the API key's name, else the client address.
                context.User.Identity?.IsAuthenticated == true ? "user:" + context.User.Identity.Name : "ip:" + context.Connection.RemoteIpAddress,
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.IngestRequestsPerSecond * 2,
                    TokensPerPeriod = options.IngestRequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                }));
            limiter.OnRejected = async (context, ct) =>
            {
                context.HttpContext.Response.ContentType = "application/problem+json";
                await context.HttpContext.Response.WriteAsJsonAsync(new Microsoft.AspNetCore.Mvc.ProblemDetails
                {
                    Status = 429,
                    Title = "Too many ingest requests.",
                    Detail = $"At most {options.IngestRequestsPerSecond} requests per second per caller; retry shortly.",
                }, options: null, contentType: "application/problem+json", cancellationToken: ct);
            };
        });
        return services;
    }

    public static IEndpointRouteBuilder MapIngestApi(this IEndpointRouteBuilder app, VigilOptions options)
    {
        app.MapPost("/api/events", IngestAsync).WithTags("Ingest").WithName("IngestEvents")
            .WithSummary("Ingests a batch of user events (JSON array or JSON lines); valid ones go to user-events, the rest are dead-lettered.")
            .RequireAuthorization(Policies.Write)
            .RequireRateLimiting(RateLimitPolicy)
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(options.IngestMaxRequestBytes))
            .DisableAntiforgery();
        return app;
    }

    internal static async Task<Results<Accepted<IngestResponse>, ProblemHttpResult>> IngestAsync(HttpContext context, EventDecoder decoder,
        KafkaProducer producer, PipelineChannels channels, PipelineMetrics metrics, VigilOptions options, TimeProvider clock, CancellationToken ct)
    {
        var limit = options.IngestMaxRequestBytes;
        if (context.Request.ContentLength > limit)
        {
            return TooLarge(limit);
        }
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(8192);
                var read = await context.Request.Body.ReadAsync(memory, ct);
                if (read == 0)
                {
                    break;
                }
                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    return TooLarge(limit);
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(limit);
        }

        var body = buffer.WrittenMemory;
        var items = new List<ReadOnlyMemory<byte>>();
        var ndjson = context.Request.ContentType?.StartsWith("application/x-ndjson", StringComparison.OrdinalIgnoreCase) == true
            || context.Request.ContentType?.StartsWith("application/jsonl", StringComparison.OrdinalIgnoreCase) == true;
        var split = ndjson ? SplitLines(body, items) : SplitArray(body, items);
        if (split is not null)
        {
            return TypedResults.Problem(title: "Unreadable batch.", detail: split, statusCode: StatusCodes.Status400BadRequest,
                extensions: new Dictionary<string, object?> { ["field"] = "body" });
        }
        if (items.Count > MaxEventsPerRequest)
        {
            return TypedResults.Problem(title: "Too many events.", detail: $"At most {MaxEventsPerRequest} events per request.",
                statusCode: StatusCodes.Status413PayloadTooLarge, extensions: new Dictionary<string, object?> { ["field"] = "body" });
        }

        var errors = new List<IngestError>();
        var accepted = 0;
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (decoder.TryDecode(item.Span, out var evt, out var error))
            {
                producer.Produce(options.UserEventsTopic, evt.SubjectKey, item.ToArray());
                accepted++;
                continue;
            }
            errors.Add(new IngestError(i, error.Reason.ToCode(), error.Detail));
            metrics.CountDeadLetter();
            await channels.DeadLetters.Writer.WriteAsync(
                DeadLetter.Create("http", -1, -1, null, item.Span, error.Reason.ToCode(), $"item {i}: {error.Detail}", clock.GetUtcNow()), ct);
        }
        return TypedResults.Accepted((string?)null, new IngestResponse(accepted, errors.Count, errors));
    }

    private static ProblemHttpResult TooLarge(long limit) =>
        TypedResults.Problem(title: "Request too large.", detail: $"The body may be at most {limit} bytes.",
            statusCode: StatusCodes.Status413PayloadTooLarge, extensions: new Dictionary<string, object?> { ["field"] = "body" });

    /// <summary>Finds each element of a top-level JSON array without decoding it; returns a problem, or null.</summary>
    private static string? SplitArray(ReadOnlyMemory<byte> body, List<ReadOnlyMemory<byte>> items)
    {
        var reader = new Utf8JsonReader(body.Span, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                return "The body must be a JSON array of events, or JSON lines with Content-Type application/x-ndjson.";
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                items.Add(body[start..(int)reader.BytesConsumed]);
            }
            if (reader.TokenType != JsonTokenType.EndArray)
            {
                return "The JSON array is not closed.";
            }
        }
        catch (JsonException ex)
        {
            // The whole batch is unreadable; per-event problems are reported per event instead.
            return $"The body is not valid JSON: {ex.Message}";
        }
        return null;
    }

    private static string? SplitLines(ReadOnlyMemory<byte> body, List<ReadOnlyMemory<byte>> items)
    {
        var rest = body;
        while (!rest.IsEmpty)
        {
            var newline = rest.Span.IndexOf((byte)'\n');
            var line = newline < 0 ? rest : rest[..newline];
            rest = newline < 0 ? ReadOnlyMemory<byte>.Empty : rest[(newline + 1)..];
            var trimmed = line.Span.TrimEnd("\r"u8);
            if (!trimmed.Trim(" \t"u8).IsEmpty)
            {
                items.Add(line[..trimmed.Length]);
            }
        }
        return null;
    }
}
