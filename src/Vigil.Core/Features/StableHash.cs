namespace Vigil.Core.Features;

/// <summary>
/// A 64-bit string hash that is the same in every process and on every machine (unlike
/// <see cref="string.GetHashCode()"/>), so sketches and samples built from it survive checkpoints and restarts.
/// </summary>
public static class StableHash
{
    /// <summary>FNV-1a over the UTF-16 code units, then a 64-bit finaliser (MurmurHash3's fmix64) so every output
    /// bit depends on every input bit; <paramref name="seed"/> gives independent hash functions.</summary>
    public static ulong Hash64(ReadOnlySpan<char> text, ulong seed = 0)
    {
        var h = 14695981039346656037UL ^ seed;
        foreach (var c in text)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return Mix(h ^ (ulong)text.Length);
    }

    /// <summary>MurmurHash3's fmix64 finaliser.</summary>
    public static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h;
    }
}
