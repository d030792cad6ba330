namespace Vigil.Core.Detection;

/// <summary>Recognises user agents of HTTP libraries, command-line clients, headless browsers and crawlers.</summary>
public static class UserAgents
{
    // Tokens of clients no person browses with: scripting libraries, CLI tools, headless and crawler frameworks.
    private static readonly string[] s_automation =
    [
        "python-requests", "python-urllib", "python-httpx", "aiohttp", "curl/", "wget/", "go-http-client", "okhttp/",
        "axios/", "node-fetch", "java/", "apache-httpclient", "libwww-perl", "headlesschrome", "phantomjs", "scrapy",
        "httpclient", "postmanruntime", "bot/", "crawler", "spider",
    ];

    /// <summary>Whether <paramref name="userAgent"/> looks like automation rather than a person's browser or app.</summary>
    /// <remarks>A mobile app embedding okhttp announces itself first ("VigilShop/5.1 (…; okhttp/4.12)"), so only a
    /// user agent that STARTS with a library token counts for the libraries; headless and crawler tokens count
    /// anywhere.</remarks>
    public static bool IsAutomation(string? userAgent) => !string.IsNullOrEmpty(userAgent) && FactsOf(userAgent).IsAutomation;

    /// <summary>The device hash of a user agent (see <c>BehaviorState.DeviceHash</c>): never 0, which stands for no
    /// device.</summary>
    internal static uint DeviceHash(string userAgent) => FactsOf(userAgent).Device;

    /// <summary><c>StableHash.Hash64(userAgent, 3)</c>, the user-agent hash of the ML features' distinct-device count.</summary>
    internal static ulong FeatureDeviceHash(string userAgent) => FactsOf(userAgent).FeatureDevice;

    private static uint ComputeDeviceHash(string userAgent)
    {
        var h = Features.StableHash.Hash64(userAgent, 5);
        var folded = (uint)(h ^ (h >> 32));
        return folded == 0 ? 1 : folded;
    }

    // Twenty case-insensitive searches and a hash of ~130 characters per event were a large share of the rules' time;
    // a stream has few distinct agents and the decoder hands out one instance per recurring text, so what the rules
    // derive from an agent is memoised per instance: the slots are chosen by the instance's identity hash (which
    // distinguishes agents that differ in one digit, as browser versions do), two candidate slots per instance, and a
    // hit is confirmed by the text itself. Bounded and lock-free: each slot holds one immutable record, replaced whole.
    private const int MemoSlots = 1024;

    private static readonly Facts?[] s_memo = new Facts?[MemoSlots];

    private sealed class Facts(string userAgent, bool isAutomation, uint device, ulong featureDevice)
    {
        public ulong FeatureDevice { get; } = featureDevice;

        public string UserAgent { get; } = userAgent;

        public bool IsAutomation { get; } = isAutomation;

        public uint Device { get; } = device;
    }

    private static Facts FactsOf(string userAgent)
    {
        var hash = (uint)System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(userAgent) * 0x9E3779B9u;
        var first = (int)(hash >> 22);
        var second = (int)(hash >> 12) & (MemoSlots - 1);
        var memo = s_memo;
        var a = Volatile.Read(ref memo[first]);
        if (a is not null && (ReferenceEquals(a.UserAgent, userAgent) || string.Equals(a.UserAgent, userAgent, StringComparison.Ordinal)))
        {
            return a;
        }
        var b = Volatile.Read(ref memo[second]);
        if (b is not null && (ReferenceEquals(b.UserAgent, userAgent) || string.Equals(b.UserAgent, userAgent, StringComparison.Ordinal)))
        {
            return b;
        }
        var facts = new Facts(userAgent, Search(userAgent), ComputeDeviceHash(userAgent), Features.StableHash.Hash64(userAgent, 3));
        // An empty slot first; otherwise a hash bit picks the one replaced, so two busy agents sharing a slot settle.
        var victim = a is null ? first : b is null ? second : (hash & 1) == 0 ? first : second;
        Volatile.Write(ref memo[victim], facts);
        return facts;
    }

    private static bool Search(string userAgent)
    {
        foreach (var token in s_automation)
        {
            var at = userAgent.IndexOf(token, StringComparison.OrdinalIgnoreCase);
            if (at == 0 || (at > 0 && token is "headlesschrome" or "phantomjs" or "scrapy" or "bot/" or "crawler" or "spider"))
            {
                return true;
            }
        }
        return false;
    }
}
