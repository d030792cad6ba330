using System.Runtime.CompilerServices;

namespace Vigil.Core.Detection;

/// <summary>Index arithmetic of the rules' circular buffers.</summary>
internal static class RingIndex
{
    /// <summary><paramref name="index"/> modulo <paramref name="length"/> for an index below twice the length (a ring's
    /// start plus an offset within the ring), with a compare instead of the division <c>%</c> compiles to: rings of any
    /// length, several wraps per event on the rules' paths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Wrap(int index, int length) => index >= length ? index - length : index;
}
