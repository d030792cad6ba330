using System.Numerics;
using System.Runtime.CompilerServices;

namespace Vigil.Core.Features;

/// <summary>
/// Counts distinct values in 40 bytes: exactly up to <see cref="ExactCapacity"/> values (their 32-bit hashes are
/// kept), and past that by linear counting over a 128-bit bitmap that every value also sets (Whang et al., 1990):
/// a standard error of about 4% at 20 values and 7% at 60, saturating near 620.
/// </summary>
/// <remarks>A value type updated in place, with no heap object: a user's three sketches cost 120 bytes.</remarks>
public struct DistinctSketch
{
    /// <summary>Values counted exactly before the estimate takes over.</summary>
    public const int ExactCapacity = 4;

    private HashSlots _slots;
    private ulong _bitmapLow;
    private ulong _bitmapHigh;
    private byte _exact;
    private bool _overflow;

    [InlineArray(ExactCapacity)]
    private struct HashSlots
    {
        private uint _element;
    }

    /// <summary>Adds a value by its 64-bit hash (<see cref="StableHash.Hash64"/>).</summary>
    public void Add(ulong hash)
    {
        var bit = (int)(hash >> 57);
        if (bit < 64)
        {
            _bitmapLow |= 1UL << bit;
        }
        else
        {
            _bitmapHigh |= 1UL << (bit - 64);
        }
        if (_overflow)
        {
            return;
        }
        var h32 = (uint)hash;
        for (var i = 0; i < _exact; i++)
        {
            if (_slots[i] == h32)
            {
                return;
            }
        }
        if (_exact < ExactCapacity)
        {
            _slots[_exact++] = h32;
        }
        else
        {
            _overflow = true;
        }
    }

    /// <summary>The number of distinct values: exact up to <see cref="ExactCapacity"/>, estimated above.</summary>
    public readonly double Estimate()
    {
        if (!_overflow)
        {
            return _exact;
        }
        const int m = 128;
        var zeros = m - BitOperations.PopCount(_bitmapLow) - BitOperations.PopCount(_bitmapHigh);
        // Linear counting: n ≈ −m ln(Z/m); with no zero bit left the estimate is at its ceiling, m ln m.
        var estimate = zeros == 0 ? m * Math.Log(m) : -m * Math.Log(zeros / (double)m);
        return Math.Max(ExactCapacity + 1, estimate);
    }

    internal readonly void Write(BinaryWriter writer)
    {
        writer.Write(_exact);
        writer.Write(_overflow);
        writer.Write(_bitmapLow);
        writer.Write(_bitmapHigh);
        for (var i = 0; i < _exact; i++)
        {
            writer.Write(_slots[i]);
        }
    }

    internal static DistinctSketch Read(BinaryReader reader)
    {
        var sketch = new DistinctSketch { _exact = reader.ReadByte(), _overflow = reader.ReadBoolean(), _bitmapLow = reader.ReadUInt64(), _bitmapHigh = reader.ReadUInt64() };
        if (sketch._exact > ExactCapacity)
        {
            throw new InvalidDataException($"A distinct sketch claims {sketch._exact} exact values; at most {ExactCapacity} fit.");
        }
        for (var i = 0; i < sketch._exact; i++)
        {
            sketch._slots[i] = reader.ReadUInt32();
        }
        return sketch;
    }
}
