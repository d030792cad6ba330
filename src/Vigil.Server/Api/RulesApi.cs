using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Server.Rules;

namespace Vigil.Server.Api;

/// <summary>GET /api/rules (the declarative rules in force, version, last refused edit); POST /api/rules/reload.</summary>
public static class RulesApi
{
    public static IEndpointRouteBuilder MapRulesApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/rules", (RulesService rules) => TypedResults.Ok(rules.Report())).WithTags("Rules").WithName("Rules")
            .WithSummary("The declarative rules in force (id, name, type, hash), the rule set's version, and the last refused edit with its line.")
            .RequireAuthorization(Security.Policies.Read);
        app.MapPost("/api/rules/reload", ReloadAsync).WithTags("Rules").WithName("ReloadRules")
            .WithSummary("Re-reads the rules file now; 422 with the errors (line, column, field) when it is refused.")
            .RequireAuthorization(Security.Policies.Admin);
        return app;
    }

    internal static async Task<Results<Ok<RulesReport>, ProblemHttpResult>> ReloadAsync(RulesService rules, CancellationToken ct)
    {
        var report = rules.Report();
        if (report.File is null)
        {
            return TypedResults.Problem("The declarative rules are off (Vigil:Rules:File is none).", statusCode: StatusCodes.Status409Conflict);
        }
        if (await rules.ReloadAsync(force: true, ct))
        {
            return TypedResults.Ok(rules.Report());
        }
        return TypedResults.Problem(rules.Report().LastError?.Message, statusCode: StatusCodes.Status422UnprocessableEntity,
            title: "The rules file was refused; the previous rules keep running");
    }
}
