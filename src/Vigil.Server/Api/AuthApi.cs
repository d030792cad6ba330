using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Server.Security;
using Vigil.Storage;

namespace Vigil.Server.Api;

public sealed record MeResponse(string Name, string Role, bool Authenticated, bool CanWrite, bool IsAdmin, bool DevelopmentLogin);

/// <summary>Sign-in with the one-time link or an API key, sign-out, and who am I.</summary>
public static class AuthApi
{
    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/login", Login).ExcludeFromDescription();
        app.MapPost("/login", LoginWithKeyAsync).ExcludeFromDescription().DisableAntiforgery();
        app.MapPost("/logout", Logout).ExcludeFromDescription();
        app.MapGet("/api/audit", AuditAsync).WithTags("Auth").WithName("Audit").RequireAuthorization(Policies.Admin)
            .WithSummary("The audit log of privileged actions, newest first (admin).");
        app.MapGet("/api/me", Me).WithTags("Auth").WithName("Me").WithSummary("The caller's identity and role.");
        return app;
    }

    internal static IResult Login(HttpContext context, AuthSettings settings, IVigilStore store, TimeProvider clock, string? token = null)
    {
        if (token is null)
        {
            return TypedResults.Redirect("/login.html");
        }
        if (!settings.RedeemLoginToken(token))
        {
            return TypedResults.Redirect("/login.html?failed=link");
        }
        SetSession(context, settings.StartSession("admin (login link)", Roles.Admin));
        _ = store.AppendAuditAsync(new AuditEntry(clock.GetUtcNow(), "admin (login link)", Roles.Admin, "LOGIN", null, "one-time link"),
            CancellationToken.None);
        return TypedResults.Redirect("/");
    }

    internal static async Task<IResult> LoginWithKeyAsync(HttpContext context, AuthSettings settings, IVigilStore store, TimeProvider clock)
    {
        if (!context.Request.HasFormContentType)
        {
            return TypedResults.Redirect("/login.html?failed=form");
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var key = form["key"].ToString();
        if (key.Length is 0 or > 512 || settings.FindKey(key) is not { } found)
        {
            return TypedResults.Redirect("/login.html?failed=key");
        }
        SetSession(context, settings.StartSession(found.Name, found.Role));
        await store.AppendAuditAsync(new AuditEntry(clock.GetUtcNow(), found.Name, found.Role, "LOGIN", null, "api key"), context.RequestAborted);
        return TypedResults.Redirect("/");
    }

    internal static NoContent Logout(HttpContext context, AuthSettings settings)
    {
        if (context.Request.Cookies.TryGetValue(ApiKeyAuthenticationHandler.CookieName, out var id))
        {
            settings.EndSession(id);
        }
        context.Response.Cookies.Delete(ApiKeyAuthenticationHandler.CookieName);
        return TypedResults.NoContent();
    }

    internal static Ok<MeResponse> Me(ClaimsPrincipal user, AuthSettings settings)
    {
        var role = user.RoleName();
        return TypedResults.Ok(new MeResponse(user.ActorName(), role, user.Identity?.IsAuthenticated == true,
            role is Roles.Analyst or Roles.Admin, role == Roles.Admin, settings.DevelopmentLogin));
    }

    internal static async Task<Results<Ok<IReadOnlyList<AuditEntry>>, ValidationProblem>> AuditAsync(IVigilStore store, CancellationToken ct,
        int limit = 100)
    {
        if (limit is < 1 or > 1000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["must be from 1 to 1000."] });
        }
        return TypedResults.Ok(await store.RecentAuditAsync(limit, ct));
    }

    private static void SetSession(HttpContext context, string sessionId) =>
        context.Response.Cookies.Append(ApiKeyAuthenticationHandler.CookieName, sessionId, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
        });
}
