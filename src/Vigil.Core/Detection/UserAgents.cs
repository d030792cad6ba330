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

    // Twenty case-insensitive searches and a hash of ~130 characters per event were a large share of the rules' time,
    // and a stream has few distinct agents, so what the rules derive from an agent is memoised by its text: the slots
    // are chosen by a hash of every character (agents often differ in one digit of a browser version), two candidate
    // slots per text, and a hit is confirmed by the text itself (by reference first: the decoder usually hands out
    // one instance per recurring text, but not always, so the instance cannot be the key). Bounded and lock-free:
    // each slot holds one immutable record, replaced whole.
    private const int MemoSlots = 1024;

    private static readonly Facts?[] s_memo = new Facts?[MemoSlots];

    private sealed class Facts(string userAgent, bool isAutomation, uint device, ulong featureDevice)
    {
        public ulong FeatureDevice { get; } = featureDevice;

        public string UserAgent { get; } = userAgent;

        public bool IsAutomation { get; } = isAutomation;

        public uint Device { get; } = device;

        /// <summary>The same answer for another instance of the same text.</summary>
        public Facts For(string sameText) => new(sameText, IsAutomation, Device, FeatureDevice);
    }

    // The agents this thread looked up lately, by instance: the rules of one event ask about its agent several times
    // in a row (ACCOUNT_TAKEOVER, BEHAVIOR_ANOMALY, USER_FEATURES), and the decoder mostly hands out one instance per
    // recurring text, so the instance's identity hash finds the answer without hashing the ~130 characters. A miss (a
    // new instance, or two sharing a slot) falls through to the memo by text.
    private const int RecentSlots = 256;

    [ThreadStatic]
    private static Facts?[]? t_recent;

    private static Facts FactsOf(string userAgent)
    {
        var recent = t_recent ??= new Facts?[RecentSlots];
        ref var slot = ref recent[System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(userAgent) & (RecentSlots - 1)];
        if (slot is { } known && ReferenceEquals(known.UserAgent, userAgent))
        {
            return known;
        }
        return slot = FactsOfUncached(userAgent);
    }

    private static Facts FactsOfUncached(string userAgent)
    {
        var hash = ContentHash(userAgent);
        var first = (int)(hash >> 22);
        var second = (int)(hash >> 12) & (MemoSlots - 1);
        var memo = s_memo;
        var a = Volatile.Read(ref memo[first]);
        if (a is not null && ReferenceEquals(a.UserAgent, userAgent))
        {
            return a;
        }
        var b = Volatile.Read(ref memo[second]);
        if (b is not null && ReferenceEquals(b.UserAgent, userAgent))
        {
            return b;
        }
        // The same text in another instance (the decoder's cache replaced its string): the answer is re-keyed to this
        // instance, so that the instance lookups above and in FactsOf find it from now on.
        if (a is not null && string.Equals(a.UserAgent, userAgent, StringComparison.Ordinal))
        {
            var rekeyed = a.For(userAgent);
            Volatile.Write(ref memo[first], rekeyed);
            return rekeyed;
        }
        if (b is not null && string.Equals(b.UserAgent, userAgent, StringComparison.Ordinal))
        {
            var rekeyed = b.For(userAgent);
            Volatile.Write(ref memo[second], rekeyed);
            return rekeyed;
        }
        var facts = new Facts(userAgent, Search(userAgent), ComputeDeviceHash(userAgent), Features.StableHash.Hash64(userAgent, 3));
        // An empty slot first; otherwise a hash bit picks the one replaced, so two busy agents sharing a slot settle.
        var victim = a is null ? first : b is null ? second : (hash & 1) == 0 ? first : second;
        Volatile.Write(ref memo[victim], facts);
        return facts;
    }

    /// <summary>A multiply-rotate hash over the text four characters at a time, in two lanes.</summary>
    private static uint ContentHash(string text)
    {
        const ulong Prime1 = 0x9E3779B185EBCA87;
        const ulong Prime2 = 0xC2B2AE3D27D4EB4F;
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<char, ulong>(text.AsSpan());
        ulong h = (ulong)text.Length * Prime1;
        ulong g = Prime2;
        var i = 0;
        for (; i + 1 < words.Length; i += 2)
        {
            h = System.Numerics.BitOperations.RotateLeft(h ^ (words[i] * Prime2), 29) * Prime1;
            g = System.Numerics.BitOperations.RotateLeft(g ^ (words[i + 1] * Prime1), 31) * Prime2;
        }
        if (i < words.Length)
        {
            h = System.Numerics.BitOperations.RotateLeft(h ^ (words[i] * Prime2), 29) * Prime1;
        }
        for (var c = words.Length * 4; c < text.Length; c++)
        {
            h = System.Numerics.BitOperations.RotateLeft(h ^ (text[c] * Prime2), 29) * Prime1;
        }
        h ^= g;
        h ^= h >> 33;
        h *= Prime2;
        h ^= h >> 29;
        return (uint)(h >> 32);
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
