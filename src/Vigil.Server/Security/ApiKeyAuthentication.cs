using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Vigil.Server.Security;

/// <summary>
/// Authenticates <c>Authorization: Bearer KEY</c>, <c>X-Api-Key: KEY</c>, or the session cookie set by <c>/login</c>.
/// A cookie-authenticated request that changes state must also carry <c>X-Vigil-Csrf: 1</c>: a header another
/// site cannot make a browser send, so a forged form post is refused.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger,
    UrlEncoder encoder, AuthSettings settings) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "vigil";
    public const string CookieName = "vigil_session";
    public const string CsrfHeader = "X-Vigil-Csrf";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var headers = Request.Headers;
        string? presented = null;
        var authorization = headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization[7..].Trim();
        }
        else if (headers.TryGetValue("X-Api-Key", out var apiKey))
        {
            presented = apiKey.ToString().Trim();
        }
        if (presented is { Length: > 0 })
        {
            return Task.FromResult(settings.FindKey(presented) is { } key
                ? AuthenticateResult.Success(Ticket(key.Name, key.Role, "key"))
                : AuthenticateResult.Fail("Unknown API key."));
        }
        if (Request.Cookies.TryGetValue(CookieName, out var sessionId) && settings.FindSession(sessionId) is { } session)
        {
            var unsafeMethod = !HttpMethods.IsGet(Request.Method) && !HttpMethods.IsHead(Request.Method) && !HttpMethods.IsOptions(Request.Method);
            if (unsafeMethod && headers[CsrfHeader] != "1")
            {
                return Task.FromResult(AuthenticateResult.Fail($"A state-changing request with the session cookie needs the {CsrfHeader} header."));
            }
            return Task.FromResult(AuthenticateResult.Success(Ticket(session.Name, session.Role, "session")));
        }
        return Task.FromResult(AuthenticateResult.NoResult());
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"vigil\"";
        return Response.WriteAsJsonAsync(new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = 401,
            Title = "Authentication required.",
            Detail = "Send an API key as 'Authorization: Bearer KEY', or sign in at /login.",
        }, options: null, contentType: "application/problem+json");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return Response.WriteAsJsonAsync(new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = 403,
            Title = "Not allowed.",
            Detail = "Your role does not allow this: writes need analyst or admin, some actions admin.",
        }, options: null, contentType: "application/problem+json");
    }

    private static AuthenticationTicket Ticket(string name, string role, string method)
    {
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role), new Claim("auth_method", method)], SchemeName);
        return new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName);
    }
}

/// <summary>Wiring of authentication and the role policies.</summary>
public static class SecurityExtensions
{
    public static IServiceCollection AddVigilSecurity(this IServiceCollection services, AuthSettings settings)
    {
        services.AddSingleton(settings);
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Read, p => p.RequireAssertion(c =>
                c.User.IsInRole(Roles.Viewer) || c.User.IsInRole(Roles.Analyst) || c.User.IsInRole(Roles.Admin)
                // Anonymous reading, where allowed, is for callers who present nothing: a wrong key is refused.
                || (settings.AnonymousViewer && !PresentsCredentials(c.Resource))))
            .AddPolicy(Policies.Write, p => p.RequireRole(Roles.Analyst, Roles.Admin))
            .AddPolicy(Policies.Admin, p => p.RequireRole(Roles.Admin));
        return services;
    }

    private static bool PresentsCredentials(object? resource) =>
        resource is HttpContext http && (http.Request.Headers.Authorization.Count > 0 || http.Request.Headers.ContainsKey("X-Api-Key"));

    /// <summary>The caller's name for audit and workflow records.</summary>
    public static string ActorName(this ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true ? user.Identity.Name ?? "unknown" : "anonymous";

    public static string RoleName(this ClaimsPrincipal user) =>
        user.FindFirst(ClaimTypes.Role)?.Value ?? "anonymous";
}
