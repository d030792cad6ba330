namespace Vigil.Core.Events;

/// <summary>Limits shared by <see cref="EventDecoder"/> and <see cref="NotificationDecoder"/>.</summary>
public sealed record EventDecoderOptions
{
    /// <summary>Larger messages are dead-lettered without being parsed.</summary>
    public int MaxMessageBytes { get; init; } = 1024 * 1024;

    /// <summary>An event time further ahead of the wall clock than this is dead-lettered, so one bad clock cannot push the watermark into the future.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The deepest nesting of objects and arrays accepted; the top-level object is depth 1.</summary>
    /// <remarks>A CloudEvents envelope with <c>data.properties</c> needs 3.</remarks>
    public int MaxDepth { get; init; } = 16;

    /// <summary>The most entries accepted in <c>properties</c>.</summary>
    public int MaxProperties { get; init; } = 64;

    /// <summary>
    /// Slots of the decoder's cache of recurring text values (user ids, session ids, addresses, user agents, names,
    /// property keys and values), so a value seen recently is not materialised again; 0 turns the cache off. Bounded:
    /// 40 bytes per slot (a value of up to 24 bytes is kept in its slot, to be compared there) plus the strings it
    /// holds, however many distinct values arrive.
    /// </summary>
    public int StringCacheSize { get; init; } = 65_536;

    /// <summary>
    /// Whether every decoder built from these options shares one value cache instead of each having its own. serve
    /// builds a decoder per partition: with 16 partitions that was 16 tables of 2.6 MB, each holding its own copy of the
    /// values all partitions repeat (agents, addresses, property keys). The cache is thread-safe.
    /// </summary>
    public bool ShareStringCache { get; init; }

    private Utf8StringCache? _sharedStrings;

    /// <summary>The value cache for a new decoder: none, the shared one, or its own.</summary>
    internal Utf8StringCache? StringCacheForDecoder() =>
        StringCacheSize == 0 ? null
        : ShareStringCache ? LazyInitializer.EnsureInitialized(ref _sharedStrings, () => new Utf8StringCache(StringCacheSize))
        : new Utf8StringCache(StringCacheSize);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1, nameof(MaxMessageBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDepth, 3, nameof(MaxDepth));
        // Nothing legitimate nests this deep; a larger value is a configuration mistake, not a need.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxDepth, 1000, nameof(MaxDepth));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFutureSkew, TimeSpan.Zero, nameof(MaxFutureSkew));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxProperties, nameof(MaxProperties));
        ArgumentOutOfRangeException.ThrowIfNegative(StringCacheSize, nameof(StringCacheSize));
    }
}
