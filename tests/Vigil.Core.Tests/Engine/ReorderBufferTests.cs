using Vigil.Core.Engine;

namespace Vigil.Core.Tests.Engine;

public sealed class ReorderBufferTests
{
    private static readonly WatermarkOptions s_options = new() { IdleTimeout = TimeSpan.FromSeconds(30) };

    private sealed class StringSerializer : IStateSerializer<string>
    {
        public static StringSerializer Instance { get; } = new();

        public void Write(BinaryWriter writer, string value) => writer.Write(value);

        public string Read(BinaryReader reader) => reader.ReadString();
    }

    /// <summary>Per input, items in offset order with event times that rise but step back by up to 4 s.</summary>
    private static List<(long Ts, long Offset, string Item)>[] RandomInputs(Random random, int inputs, int perInput)
    {
        var result = new List<(long, long, string)>[inputs];
        for (var i = 0; i < inputs; i++)
        {
            result[i] = [];
            var clock = 1_000_000L;
            var offset = random.Next(0, 100);
            for (var n = 0; n < perInput; n++)
            {
                // Few distinct times, so ties between inputs are common and the input number must break them.
                clock += random.Next(0, 3) * 1000;
                offset += random.Next(1, 3);
                var ts = clock - random.Next(0, 5) * 1000;
                result[i].Add((ts, offset, $"{i}:{offset}@{ts}"));
            }
        }
        return result;
    }

    private static List<string> Drain(ReorderBuffer<string> buffer, List<string> output)
    {
        while (buffer.TryRelease(out var item, out _))
        {
            output.Add(item);
        }
        return output;
    }

    /// <summary>Feeds the inputs interleaved at random (a random input's next item each step) and flushes at the end.</summary>
    private static List<string> Interleaved(List<(long Ts, long Offset, string Item)>[] inputs, Random random, bool checkpointMidway = false)
    {
        var buffer = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
        buffer.ExpectInputs(inputs.Length);
        var next = new int[inputs.Length];
        var output = new List<string>();
        var left = 0;
        foreach (var input in inputs)
        {
            left += input.Count;
        }
        while (left > 0)
        {
            var i = random.Next(inputs.Length);
            if (next[i] == inputs[i].Count)
            {
                continue;
            }
            var (ts, offset, item) = inputs[i][next[i]++];
            left--;
            Assert.NotEqual(ReorderStatus.Behind, buffer.Add(i, offset, ts, item));
            Drain(buffer, output);
            if (checkpointMidway && random.Next(40) == 0)
            {
                // A hand-over: the state goes through a checkpoint into a fresh buffer, and the input re-sends a few
                // items it had already sent.
                using var stream = new MemoryStream();
                using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
                {
                    buffer.Snapshot(writer, StringSerializer.Instance);
                }
                stream.Position = 0;
                buffer = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
                using (var reader = new BinaryReader(stream))
                {
                    buffer.Restore(reader, StringSerializer.Instance);
                }
                var back = Math.Min(next[i], random.Next(1, 4));
                for (var k = next[i] - back; k < next[i]; k++)
                {
                    Assert.Equal(ReorderStatus.Duplicate, buffer.Add(i, inputs[i][k].Offset, inputs[i][k].Ts, inputs[i][k].Item));
                }
            }
        }
        while (buffer.TryRelease(out var item, out _, flush: true))
        {
            output.Add(item);
        }
        return output;
    }

    [Fact]
    public void Add_RandomInterleavings_ReleaseTheSameSequenceInKeyOrder()
    {
        for (var seed = 1; seed <= 60; seed++)
        {
            var inputs = RandomInputs(new Random(seed), 1 + seed % 6, 40);
            var sorted = new List<(ReorderKey Key, string Item)>();
            for (var i = 0; i < inputs.Length; i++)
            {
                // An item's place: the latest event time its input had sent up to it (its input's clock).
                var clock = long.MinValue;
                foreach (var (ts, offset, item) in inputs[i])
                {
                    clock = Math.Max(clock, ts);
                    sorted.Add((new ReorderKey(clock, i, offset), item));
                }
            }
            sorted.Sort((x, y) => x.Key.CompareTo(y.Key));
            var expected = sorted.ConvertAll(s => s.Item);

            for (var run = 0; run < 5; run++)
            {
                Assert.Equal(expected, Interleaved(inputs, new Random(seed * 100 + run)));
            }
            Assert.Equal(expected, Interleaved(inputs, new Random(seed * 100 + 99), checkpointMidway: true));
        }
    }

    [Fact]
    public void Add_OffsetAlreadyTaken_IsDroppedAsDuplicate()
    {
        var buffer = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
        Assert.Equal(ReorderStatus.Buffered, buffer.Add(0, 10, 1_000, "a"));
        Assert.Equal(ReorderStatus.Duplicate, buffer.Add(0, 10, 1_000, "a again"));
        Assert.Equal(ReorderStatus.Duplicate, buffer.Add(0, 3, 900, "older"));
        Assert.Equal(1, buffer.Count);
        Assert.Equal(2, buffer.Duplicates);
        Assert.Equal(10, buffer.LastOffset(0));
    }

    [Fact]
    public void TryRelease_AnExpectedInputHasSentNothing_HoldsEverythingUntilItGoesIdle()
    {
        var clock = new ManualTimeProvider();
        var buffer = new ReorderBuffer<string>(s_options, clock);
        buffer.ExpectInputs(2);
        buffer.Add(0, 0, 1_000, "a");
        buffer.Add(0, 1, 60_000, "b");
        Assert.False(buffer.TryRelease(out _, out _));
        Assert.Equal(long.MinValue, buffer.Watermark);

        clock.Advance(TimeSpan.FromSeconds(10));
        buffer.Add(0, 2, 70_000, "c");
        buffer.Tick();
        Assert.False(buffer.TryRelease(out _, out _));
        clock.Advance(TimeSpan.FromSeconds(31));
        buffer.Add(0, 3, 71_000, "d");
        Assert.True(buffer.Tick());
        // Input 1 is idle now; input 0 is not, and nothing it sends next can sort before what it sent.
        Assert.Equal(["a", "b", "c", "d"], Drain(buffer, []));
        Assert.Equal(1, buffer.ActiveInputs);
    }

    [Fact]
    public void Add_AfterAnIdleInputsItemsWereOvertaken_IsReportedBehindAndReleasedAtOnce()
    {
        var clock = new ManualTimeProvider();
        var buffer = new ReorderBuffer<string>(s_options, clock);
        buffer.ExpectInputs(2);
        buffer.Add(0, 0, 10_000, "a");
        buffer.Add(1, 0, 11_000, "b");
        clock.Advance(TimeSpan.FromSeconds(31));
        buffer.Tick();
        clock.Advance(TimeSpan.FromSeconds(31));
        buffer.Tick();
        // Both idle: everything goes.
        Assert.Equal(["a", "b"], Drain(buffer, []));

        Assert.Equal(ReorderStatus.Behind, buffer.Add(0, 1, 10_500, "late"));
        Assert.Equal(["late"], Drain(buffer, []));
        Assert.Equal(1, buffer.BehindItems);
    }

    [Fact]
    public void Rebase_AfterTheInputsLogWasReplaced_TakesLowerOffsets()
    {
        var buffer = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
        buffer.Add(0, 500, 1_000, "old log");
        buffer.Rebase(0, -1);
        Assert.Equal(ReorderStatus.Buffered, buffer.Add(0, 0, 2_000, "new log"));
        Assert.Equal(2, buffer.Count);
    }

    [Fact]
    public void Snapshot_SameState_SameBytesAndRestoresTheHeldItems()
    {
        byte[] Bytes(ReorderBuffer<string> b)
        {
            using var stream = new MemoryStream();
            using (var writer = new BinaryWriter(stream))
            {
                b.Snapshot(writer, StringSerializer.Instance);
            }
            return stream.ToArray();
        }
        var one = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
        var two = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
        one.ExpectInputs(3);
        two.ExpectInputs(3);
        // The same items added in another order.
        one.Add(0, 1, 5_000, "x");
        one.Add(1, 7, 4_000, "y");
        one.Add(2, 2, 4_500, "z");
        two.Add(2, 2, 4_500, "z");
        two.Add(1, 7, 4_000, "y");
        two.Add(0, 1, 5_000, "x");
        Assert.Equal(Bytes(one), Bytes(two));

        var restored = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
        using (var reader = new BinaryReader(new MemoryStream(Bytes(one))))
        {
            restored.Restore(reader, StringSerializer.Instance);
        }
        Assert.Equal(3, restored.Count);
        Assert.Equal(7, restored.LastOffset(1));
        Assert.Equal(ReorderStatus.Duplicate, restored.Add(1, 7, 4_000, "y"));
        var output = new List<string>();
        while (restored.TryRelease(out var item, out _, flush: true))
        {
            output.Add(item);
        }
        Assert.Equal(["y", "z", "x"], output);
    }

    [Fact]
    public void TryRelease_InputsAtTheSamePace_HoldsOnlyWhatTheSlowestHasNotReached()
    {
        var buffer = new ReorderBuffer<string>(s_options, new ManualTimeProvider());
        buffer.ExpectInputs(2);
        for (var i = 0; i < 1000; i++)
        {
            buffer.Add(0, i, 1_000 + i, "a" + i);
            buffer.Add(1, i, 1_000 + i, "b" + i);
            Drain(buffer, []);
            // No out-of-orderness bound to wait out: at most the one item input 1 has not matched yet.
            Assert.True(buffer.Count <= 1, $"{buffer.Count} held after {i}");
        }
    }
}
