namespace Vigil.Core.Geo;

/// <summary>Resolves client IP addresses to places and networks, for the geo rules (impossible travel, new country).</summary>
/// <remarks>
/// Implementations are called on the per-event path from many partitions at once: they must be thread-safe, must not
/// throw for bad input and should not allocate for an address seen recently.
/// </remarks>
public interface IGeoLocator
{
    /// <summary>
    /// Looks up an address given as text: a dotted-quad IPv4 address or IPv6 text (an IPv4-mapped IPv6 address is
    /// looked up as its IPv4 address). A <see cref="string"/> converts to the span implicitly; null or empty text is
    /// not found.
    /// </summary>
    /// <returns>
    /// False when the text is not an address or the database places it nowhere (private, loopback and other
    /// reserved ranges, unallocated space); <paramref name="location"/> is then default.
    /// </returns>
    bool TryLookup(ReadOnlySpan<char> ip, out GeoLocation location);
}
