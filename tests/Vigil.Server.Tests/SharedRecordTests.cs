using Vigil.Core.Events;
using Vigil.Kafka;
using Vigil.Server.Pipeline;

namespace Vigil.Server.Tests;

public sealed class SharedRecordTests
{
    private static readonly UserEvent s_event = new()
    {
        EventId = "e-1",
        Type = EventType.LoginFailed,
        TimestampMs = 1_767_225_600_000,
        UserId = "u-1",
        IpAddress = "203.0.113.9",
    };

    [Fact]
    public void TryRead_ForwardedEvent_GivesBackEventAndSource()
    {
        var record = new SourceRecord(VigilTopics.Shared, 0, 17, null, SharedRecord.Encode(new MemoryStream(), s_event), 0)
        {
            Headers = SharedRecord.Headers(5, 123_456_789_012, rebase: false),
        };

        Assert.True(SharedRecord.TryRead(record, out var partition, out var offset, out var rebase, out var evt));
        Assert.Equal(5, partition);
        Assert.Equal(123_456_789_012, offset);
        Assert.False(rebase);
        Assert.Equal(s_event, evt);
    }

    [Fact]
    public void TryRead_RebaseHeader_IsReported()
    {
        var record = new SourceRecord(VigilTopics.Shared, 0, 0, null, SharedRecord.Encode(new MemoryStream(), s_event), 0)
        {
            Headers = SharedRecord.Headers(0, 0, rebase: true),
        };

        Assert.True(SharedRecord.TryRead(record, out _, out _, out var rebase, out _));
        Assert.True(rebase);
    }

    [Fact]
    public void TryRead_NoHeadersOrTruncatedValue_ReturnsFalse()
    {
        var value = SharedRecord.Encode(new MemoryStream(), s_event);
        Assert.False(SharedRecord.TryRead(new SourceRecord(VigilTopics.Shared, 0, 0, null, value, 0), out _, out _, out _, out _));
        var truncated = new SourceRecord(VigilTopics.Shared, 0, 0, null, value[..(value.Length / 2)], 0) { Headers = SharedRecord.Headers(1, 2, false) };
        Assert.False(SharedRecord.TryRead(truncated, out _, out _, out _, out _));
    }

    [Fact]
    public void TryRead_SourceClockHeader_IsReturnedWithTheEvent()
    {
        var record = new SourceRecord(VigilTopics.Shared, 0, 3, null, SharedRecord.Encode(new MemoryStream(), s_event), 0)
        {
            Headers = SharedRecord.Headers(2, 40, 1_767_225_601_234, rebase: false),
        };

        Assert.True(SharedRecord.TryRead(record, out var partition, out var offset, out var clock, out _, out var evt));
        Assert.Equal((2, 40L, 1_767_225_601_234L), (partition, offset, clock));
        Assert.Equal(s_event, evt);
    }

    [Fact]
    public void TryRead_EmptyValueWithClock_IsProgressWithoutAnEvent()
    {
        var progress = new SourceRecord(VigilTopics.Shared, 0, 4, null, ReadOnlyMemory<byte>.Empty, 0) { Headers = SharedRecord.Headers(6, 99, 1_767_225_700_000, rebase: true) };

        Assert.True(SharedRecord.TryRead(progress, out var partition, out var offset, out var clock, out var rebase, out var evt));
        Assert.Null(evt);
        Assert.Equal((6, 99L, 1_767_225_700_000L, true), (partition, offset, clock, rebase));
        // The event-only overload does not take progress for an event.
        Assert.False(SharedRecord.TryRead(progress, out _, out _, out _, out _));
        // Progress without a clock says nothing.
        var bare = new SourceRecord(VigilTopics.Shared, 0, 5, null, ReadOnlyMemory<byte>.Empty, 0) { Headers = SharedRecord.Headers(6, 100, rebase: false) };
        Assert.False(SharedRecord.TryRead(bare, out _, out _, out _, out _, out _));
    }
}
