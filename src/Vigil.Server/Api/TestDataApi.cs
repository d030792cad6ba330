using Microsoft.AspNetCore.Http.HttpResults;
using Vigil.Kafka;
using Vigil.Server.Hosting;
using Vigil.Simulator;

namespace Vigil.Server.Api;

/// <summary>The body of POST /api/generate-test-data; every field is optional.</summary>
public sealed record GenerateTestDataRequest(string? Attack = null, int? Events = null, int? Seed = null);

public sealed record GenerateTestDataResponse(int Produced, string CampaignId, string Kind, IReadOnlyList<string> UserIds,
    IReadOnlyList<string> Ips, DateTimeOffset Start, DateTimeOffset End);

/// <summary>POST /api/generate-test-data: a simulated burst with an attack, through the real Kafka path.</summary>
public static class TestDataApi
{
    private static int s_seed = Environment.TickCount;

    public static IEndpointRouteBuilder MapTestDataApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/generate-test-data", Generate).WithTags("Test data").WithName("GenerateTestData")
            .RequireAuthorization(Security.Policies.Write)
            .WithSummary("Produces a burst of simulated events with one attack campaign (BRUTE_FORCE by default) to user-events.");
        return app;
    }

    internal static Results<Ok<GenerateTestDataResponse>, ValidationProblem> Generate(
        KafkaProducer producer, VigilOptions options, TimeProvider clock, GenerateTestDataRequest? request = null)
    {
        request ??= new GenerateTestDataRequest();
        var kind = AttackKinds.BruteForce;
        if (request.Attack is not null)
        {
            if (!AttackKindNames.TryParse(request.Attack, out kind) || !AttackKindNames.Singles.Contains(kind))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["attack"] = ["must be one attack kind: BRUTE_FORCE, BRUTE_FORCE_IP, PASSWORD_SPRAY, CREDENTIAL_STUFFING, ACCOUNT_TAKEOVER, IMPOSSIBLE_TRAVEL, RAPID_ACTIVITY or BEHAVIOR_ANOMALY."],
                }, title: "Invalid test-data request.");
            }
        }
        var events = request.Events ?? 200;
        if (events is < 0 or > 100_000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["events"] = ["must be a whole number from 0 to 100000."],
            }, title: "Invalid test-data request.");
        }
        var seed = request.Seed ?? Interlocked.Increment(ref s_seed);
        // Place the burst so that it ends just now: event times in the future would be dead-lettered.
        var now = clock.GetUtcNow();
        var probe = Simulation.Burst(seed, now, kind, events, out var probeLabel);
        var span = probe.Count == 0 ? TimeSpan.Zero
            : DateTimeOffset.FromUnixTimeMilliseconds(probe[^1].TimestampMs) - DateTimeOffset.FromUnixTimeMilliseconds(probe[0].TimestampMs);
        _ = probeLabel;
        var messages = Simulation.Burst(seed, now - span - TimeSpan.FromSeconds(1), kind, events, out var label);
        foreach (var message in messages)
        {
            var topic = message.Topic == VigilTopics.Notifications ? options.NotificationsTopic : options.UserEventsTopic;
            producer.Produce(topic, message.Key, message.Value);
        }
        return TypedResults.Ok(new GenerateTestDataResponse(messages.Count, label.CampaignId, label.Kind, label.UserIds,
            label.Ips, label.Start, label.End));
    }
}
