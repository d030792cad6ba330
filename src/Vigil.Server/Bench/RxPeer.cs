using System.Reactive.Linq;
using System.Reactive.Subjects;
using System.Text.Json;

namespace Vigil.Server.Bench;

/// <summary>
/// The peer of <c>bench core</c>: BRUTE_FORCE and RAPID_ACTIVITY written the way a .NET team would write them with
/// System.Reactive — <c>JsonSerializer.Deserialize</c> into a POCO, <c>GroupBy</c> the user, then <c>Buffer</c> and
/// <c>Window</c> over event time inside each group.
/// </summary>
/// <remarks>
/// It is deliberately idiomatic, not tuned: what a competent developer writes in an afternoon. Event time in Rx has no
/// built-in watermark, so the windows are driven by the events' own timestamps: brute force is a sliding
/// <c>Buffer(threshold, 1)</c> over a user's failed logins whose first and last lie within the window; rapid activity
/// counts a user's events per event-time minute with <c>Window</c> closed by the first event of the next minute.
/// </remarks>
internal sealed class RxPeer : IDisposable
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly Subject<byte[]> _input = new();
    private readonly IDisposable _subscription;

    public RxPeer(int bruteForceThreshold = 5, TimeSpan? bruteForceWindow = null, int rapidActivityLimit = 120)
    {
        var window = bruteForceWindow ?? TimeSpan.FromMinutes(2);
        _subscription = _input
            .Select(bytes => JsonSerializer.Deserialize<RxEvent>(bytes, s_json))
            .Where(e => e is not null && e.EventId is not null)
            .Select(e => e!)
            .GroupBy(e => e.UserId ?? e.Username ?? "")
            .SelectMany(user => BruteForce(user, bruteForceThreshold, window).Merge(RapidActivity(user, rapidActivityLimit)))
            .Subscribe(alert =>
            {
                if (alert.Rule == "BRUTE_FORCE")
                {
                    BruteForceAlerts++;
                }
                else
                {
                    RapidActivityAlerts++;
                }
            });
    }

    public long BruteForceAlerts { get; private set; }

    public long RapidActivityAlerts { get; private set; }

    public void OnNext(byte[] message) => _input.OnNext(message);

    public void OnCompleted() => _input.OnCompleted();

    public void Dispose()
    {
        _subscription.Dispose();
        _input.Dispose();
    }

    private static IObservable<RxAlert> BruteForce(IGroupedObservable<string, RxEvent> user, int threshold, TimeSpan window) =>
        user.Where(e => e.EventType == "LOGIN_FAILED")
            .Buffer(threshold, 1)
            .Where(b => b.Count == threshold && b[^1].Timestamp - b[0].Timestamp <= window)
            .Select(b => new RxAlert("BRUTE_FORCE", user.Key, b[^1].EventId!, b[^1].Timestamp));

    private static IObservable<RxAlert> RapidActivity(IGroupedObservable<string, RxEvent> user, int limit) =>
        user.Window(user.Select(e => e.Timestamp.ToUnixTimeMilliseconds() / 60_000).DistinctUntilChanged().Skip(1))
            .SelectMany(minute => minute.Count())
            .Where(count => count > limit)
            .Select(count => new RxAlert("RAPID_ACTIVITY", user.Key, "", default));

    /// <summary>The event as the peer's developer models it.</summary>
    internal sealed class RxEvent
    {
        public string? EventId { get; set; }

        public string? EventType { get; set; }

        public DateTimeOffset Timestamp { get; set; }

        public string? UserId { get; set; }

        public string? Username { get; set; }

        public string? SessionId { get; set; }

        public string? IpAddress { get; set; }

        public string? UserAgent { get; set; }

        public Dictionary<string, string>? Properties { get; set; }
    }

    private sealed record RxAlert(string Rule, string UserId, string EventId, DateTimeOffset At);
}
