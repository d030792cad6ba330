using Vigil.Core.Engine;

namespace Vigil.Core.Detection;

/// <summary>
/// An identifier (an event id) as long-lived per-user state keeps it, in 24 bytes with no string object for the usual
/// forms: up to 20 characters of <c>[0-9A-Za-z_-]</c> packed six bits each (the simulator's <c>e-</c> + 16 hex
/// digits), a canonical lower-case UUID as its 16 bytes, a canonical IPv4 address as its 32 bits, anything else as the
/// string itself. <see cref="ToString"/> gives back exactly the text it was made from (a new string for the packed
/// forms).
/// </summary>
/// <remarks>The same packing as the keys of a <see cref="KeyTable"/>.</remarks>
public readonly struct CompactId : IEquatable<CompactId>
{
    private readonly PackedKey _packed;

    private CompactId(PackedKey packed) => _packed = packed;

    /// <summary>No id.</summary>
    public bool IsNone => _packed.IsNone;

    /// <summary>The compact form of <paramref name="id"/>; <see cref="IsNone"/> for null.</summary>
    public static CompactId From(string? id) => new(PackedKey.From(id));

    /// <summary>Writes the text as <see cref="BinaryWriter.Write(string)"/> does, without making the string.</summary>
    internal void WriteTo(BinaryWriter writer) => _packed.WriteTo(writer);

    /// <summary>The id text; null for none.</summary>
    public override string? ToString() => _packed.ToString();

    public bool Equals(CompactId other) => _packed.Equals(other._packed);

    public override bool Equals(object? obj) => obj is CompactId other && Equals(other);

    public override int GetHashCode() => _packed.GetHashCode();

    public static bool operator ==(CompactId left, CompactId right) => left.Equals(right);

    public static bool operator !=(CompactId left, CompactId right) => !left.Equals(right);
}
