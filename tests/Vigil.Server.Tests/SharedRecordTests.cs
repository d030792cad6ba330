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
}
