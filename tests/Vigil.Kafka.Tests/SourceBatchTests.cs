using System.Runtime.InteropServices;

namespace Vigil.Kafka.Tests;

/// <summary>The batch's value buffer: copies stay intact while the batch is held, and the buffer is reused after.</summary>
public sealed class SourceBatchTests
{
    [Fact]
    public void CopyIn_ValuesAcrossBufferGrowth_StayIntactUntilRelease()
    {
        var batch = new SourceBatch(4096, pool: null);
        var values = new List<(byte[] Expected, ReadOnlyMemory<byte> Copy)>();
        var random = new Random(7);
        // 3,000 values of 1–900 bytes: about 1.35 MB, so the buffer is replaced several times on the way.
        for (var i = 0; i < 3000; i++)
        {
            var value = new byte[random.Next(1, 901)];
            random.NextBytes(value);
            values.Add((value, batch.CopyIn(value)));
        }

        Assert.All(values, v => Assert.True(v.Copy.Span.SequenceEqual(v.Expected)));
    }

    [Fact]
    public void CopyIn_AfterRelease_ReusesTheBufferWithoutAllocating()
    {
        var batch = new SourceBatch(256, pool: null);
        for (var i = 0; i < 256; i++)
        {
            batch.CopyIn(new byte[350]);
        }
        batch.Release();
        // The buffer has grown to hold a batch's values; the next batch fills it from the start.
        var first = batch.CopyIn([1, 2, 3]);
        Assert.True(MemoryMarshal.TryGetArray(first, out var firstSegment));
        Assert.Equal(0, firstSegment.Offset);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 255; i++)
        {
            batch.CopyIn(new ReadOnlySpan<byte>(s_value));
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(first.Span.SequenceEqual(new byte[] { 1, 2, 3 }));
    }

    [Fact]
    public void CopyIn_LargeOrEmptyValues_GetTheirOwnArrayOrNone()
    {
        var batch = new SourceBatch(4, pool: null);
        var large = new byte[100_000];
        large[^1] = 42;

        var copy = batch.CopyIn(large);
        var empty = batch.CopyIn([]);

        Assert.True(MemoryMarshal.TryGetArray(copy, out var segment));
        Assert.Equal(large.Length, segment.Array!.Length);
        Assert.NotSame(large, segment.Array);
        Assert.Equal(42, copy.Span[^1]);
        Assert.True(empty.IsEmpty);
    }

    private static readonly byte[] s_value = new byte[350];
}
