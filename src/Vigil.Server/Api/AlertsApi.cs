using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Core.Alerts;
using Vigil.Server.Pipeline;
using Vigil.Server.Security;
using Vigil.Storage;

namespace Vigil.Server.Api;

/// <summary>A page of alerts.</summary>
public sealed record AlertPage(IReadOnlyList<Alert> Items, int Limit, int Offset, int Count);

/// <summary>The optional body of a workflow action.</summary>
public sealed record WorkflowRequest(string? Note = null);

/// <summary>GET /api/alerts and /api/alerts/{id}.</summary>
public static class AlertsApi
{
    public static IEndpointRouteBuilder MapAlertsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/alerts").WithTags("Alerts");
        group.MapGet("/", ListAsync).WithName("ListAlerts").RequireAuthorization(Policies.Read)
            .WithSummary("Alerts, newest first, filtered by severity, rule, status, user, IP and event-time range.");
        group.MapGet("/{id}", GetAsync).WithName("GetAlert").WithSummary("One alert by id.").RequireAuthorization(Policies.Read);
        group.MapPost("/{id}/acknowledge", (string id, WorkflowRequest? body, ClaimsPrincipal user, IVigilStore store, AlertBroadcast live,
                TimeProvider clock, CancellationToken ct) => MoveAsync(id, AlertStatus.Acknowledged, body, user, store, live, clock, ct))
            .WithName("AcknowledgeAlert").WithSummary("OPEN → ACKNOWLEDGED.").RequireAuthorization(Policies.Write);
        group.MapPost("/{id}/resolve", (string id, WorkflowRequest? body, ClaimsPrincipal user, IVigilStore store, AlertBroadcast live,
                TimeProvider clock, CancellationToken ct) => MoveAsync(id, AlertStatus.Resolved, body, user, store, live, clock, ct))
            .WithName("ResolveAlert").WithSummary("OPEN or ACKNOWLEDGED → RESOLVED.").RequireAuthorization(Policies.Write);
        group.MapPost("/{id}/false-positive", (string id, WorkflowRequest? body, ClaimsPrincipal user, IVigilStore store, AlertBroadcast live,
                TimeProvider clock, CancellationToken ct) => MoveAsync(id, AlertStatus.FalsePositive, body, user, store, live, clock, ct))
            .WithName("MarkAlertFalsePositive").WithSummary("OPEN or ACKNOWLEDGED → FALSE_POSITIVE.").RequireAuthorization(Policies.Write);
        return app;
    }

    internal static async Task<Results<Ok<AlertPage>, ValidationProblem>> ListAsync(
        IVigilStore store, CancellationToken ct,
        string? severity = null, string? rule = null, string? status = null, string? user = null, string? ip = null,
        string? from = null, string? to = null, string? limit = null, string? offset = null, string? sort = null)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        Severity? sev = null;
        if (severity is not null)
        {
            if (AlertNames.TryParseSeverity(severity, out var s))
            {
                sev = s;
            }
            else
            {
                errors["severity"] = ["must be one of LOW, MEDIUM, HIGH, CRITICAL."];
            }
        }
        AlertStatus? st = null;
        if (status is not null)
        {
            if (AlertNames.TryParseStatus(status, out var parsed))
            {
                st = parsed;
            }
            else
            {
                errors["status"] = ["must be one of OPEN, ACKNOWLEDGED, RESOLVED, FALSE_POSITIVE."];
            }
        }
        var fromTime = ParseTime(from, "from", errors);
        var toTime = ParseTime(to, "to", errors);
        var take = ParseInt(limit, "limit", 100, 1, 1000, errors);
        var skip = ParseInt(offset, "offset", 0, 0, 1_000_000, errors);
        var descending = true;
        if (sort is not null)
        {
            switch (sort)
            {
                case "-eventTime": descending = true; break;
                case "eventTime": descending = false; break;
                default: errors["sort"] = ["must be eventTime (oldest first) or -eventTime (newest first)."]; break;
            }
        }
        if (rule is { Length: > 64 })
        {
            errors["rule"] = ["must be at most 64 characters."];
        }
        if (user is { Length: > 128 })
        {
            errors["user"] = ["must be at most 128 characters."];
        }
        if (ip is { Length: > 64 })
        {
            errors["ip"] = ["must be at most 64 characters."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "Invalid alert query.");
        }

        var items = await store.QueryAlertsAsync(new AlertQuery
        {
            Severity = sev,
            Rule = rule?.ToUpperInvariant(),
            Status = st,
            UserId = user,
            IpAddress = ip,
            From = fromTime,
            To = toTime,
            Limit = take,
            Offset = skip,
            Descending = descending,
        }, ct);
        return TypedResults.Ok(new AlertPage(items, take, skip, items.Count));
    }

    internal static async Task<Results<Ok<Alert>, ProblemHttpResult>> GetAsync(string id, IVigilStore store, CancellationToken ct)
    {
        var alert = id.Length <= 64 ? await store.GetAlertAsync(id, ct) : null;
        return alert is null
            ? TypedResults.Problem(title: "Alert not found.", detail: "No alert has this id.",
                statusCode: StatusCodes.Status404NotFound, extensions: new Dictionary<string, object?> { ["field"] = "id" })
            : TypedResults.Ok(alert);
    }

    internal static async Task<Results<Ok<Alert>, ProblemHttpResult, ValidationProblem>> MoveAsync(string id, AlertStatus to,
        WorkflowRequest? body, ClaimsPrincipal user, IVigilStore store, AlertBroadcast live, TimeProvider clock, CancellationToken ct)
    {
        if (body?.Note is { Length: > 2000 })
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["note"] = ["must be at most 2000 characters."] });
        }
        var actor = user.ActorName();
        var now = clock.GetUtcNow();
        var (outcome, alert) = id.Length <= 64
            ? await store.ChangeAlertStatusAsync(id, to, actor, body?.Note, now, ct)
            : (StatusChangeOutcome.NotFound, null);
        switch (outcome)
        {
            case StatusChangeOutcome.Changed:
                await store.AppendAuditAsync(new AuditEntry(now, actor, user.RoleName(), "ALERT_" + to.ToWireName(), id, body?.Note), ct);
                live.Publish(alert!);
                return TypedResults.Ok(alert!);
            case StatusChangeOutcome.NotFound:
                return TypedResults.Problem(title: "Alert not found.", detail: "No alert has this id.",
                    statusCode: StatusCodes.Status404NotFound, extensions: new Dictionary<string, object?> { ["field"] = "id" });
            default:
                return TypedResults.Problem(title: "Not allowed by the workflow.",
                    detail: $"The alert is {alert!.Status.ToWireName()}; it cannot become {to.ToWireName()}.",
                    statusCode: StatusCodes.Status409Conflict, extensions: new Dictionary<string, object?> { ["field"] = "status" });
        }
    }

    private static DateTimeOffset? ParseTime(string? text, string field, Dictionary<string, string[]> errors)
    {
        if (text is null)
        {
            return null;
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
        {
            return t;
        }
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms is >= 0 and < 253402300800000)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
        errors[field] = ["must be an ISO-8601 time or Unix milliseconds."];
        return null;
    }

    private static int ParseInt(string? text, string field, int fallback, int min, int max, Dictionary<string, string[]> errors)
    {
        if (text is null)
        {
            return fallback;
        }
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max)
        {
            return v;
        }
        errors[field] = [$"must be a whole number from {min} to {max}."];
        return fallback;
    }
}
