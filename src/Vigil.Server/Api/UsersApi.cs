using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Core.Alerts;
using Vigil.Server.Ml;
using Vigil.Storage;

namespace Vigil.Server.Api;

public sealed record UserReport(string UserId, UserProfile? Profile, IReadOnlyList<Alert> RecentAlerts);

/// <summary>GET /api/users/{id}: the user's segment, features, anomaly score with its attribution, and recent alerts.</summary>
public static class UsersApi
{
    public static IEndpointRouteBuilder MapUsersApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/users/{id}", GetAsync).WithTags("Users").WithName("GetUser")
            .WithSummary("A user's segment, features, anomaly score and attribution (when the models know them), and recent alerts.")
            .RequireAuthorization(Security.Policies.Read);
        return app;
    }

    internal static async Task<Results<Ok<UserReport>, ProblemHttpResult>> GetAsync(string id, UserProfileService profiles, IVigilStore store,
        CancellationToken ct)
    {
        if (id.Length is 0 or > 128)
        {
            return TypedResults.Problem(title: "Invalid user id.", detail: "A user id has 1 to 128 characters.",
                statusCode: StatusCodes.Status400BadRequest, extensions: new Dictionary<string, object?> { ["field"] = "id" });
        }
        var profile = await profiles.GetUserAsync(id, ct);
        var alerts = await store.QueryAlertsAsync(new AlertQuery { UserId = id, Limit = 50 }, ct);
        if (profile is null && alerts.Count == 0)
        {
            return TypedResults.Problem(title: "User not found.", detail: "Vigil has no features, segment or alert for this user.",
                statusCode: StatusCodes.Status404NotFound, extensions: new Dictionary<string, object?> { ["field"] = "id" });
        }
        return TypedResults.Ok(new UserReport(id, profile, alerts));
    }
}
