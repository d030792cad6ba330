using Vigil.Core.Events;
using static Vigil.Core.Tests.Events.DecoderTestData;

namespace Vigil.Core.Tests.Events;

/// <summary>
/// The one-pass decoding of plain events must give exactly what the two-pass decoder gives: the same event, or the same
/// dead letter with the same detail. Each message here is decoded both ways and compared.
/// </summary>
public sealed class EventDecoderFastPathTests
{
    private static readonly string[] s_valid =
    [
        ValidEvent,
        """{"eventId":"e-797f54cc048cf653","eventType":"LOGIN_FAILED","timestamp":"2024-06-01T11:00:10.000Z","userId":"u-000062","username":"wei.martinez62","ipAddress":"179.105.91.31","userAgent":"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)","properties":{"reason":"bad_password"}}""",
        """{"event_id":"e-2","type":"login","occurredAt":1717243140,"user_id":12345,"ip_address":"::ffff:10.0.0.1","session_id":"s-9","user_agent":"curl/8"}""",
        """{"eventId":"e-3","eventType":"SOMETHING_NEW","timestamp":1717243140123,"userId":"u-2","ip":"2001:DB8:0:0:0:0:0:1","extra":{"a":[1,2,{"b":null}],"c":"d"},"properties":{"k":null,"":"","q":"x"}}""",
        """{"eventId":"e-4","eventType":"LOGIN_FAILED","timestamp":"2024-06-01T11:59:00+02:00","username":"ghost","userId":null,"sessionId":"","properties":null}""",
        "\uFEFF {\"eventId\":\"e-5\",\"eventType\":\"LOGOUT\",\"timestamp\":\"2024-06-01T11:59:00Z\",\"userId\":\"u-\\u00e9\",\"username\":\"é\"} \n",
        """{"eventId":"e-6","eventType":"SEARCH","timestamp":"2024-06-01T11:59:00Z","userId":"u-3","properties":{"query":"caf\u00e9 \"au lait\"","page":"2"},"x":"\ud83d\ude00"}""",
        """{"eventId":"e-7","eventType":"PURCHASE","timestamp":"2024-06-01T11:59:00Z","userId":"u-4","properties":{"amount":"12.50","currency":"EUR","items":"3"},"userAgent":"Ünïcode-agent/1.0"}""",
        """{"specversion":"1.0","id":"c-1","source":"/users","type":"com.example.user.LOGIN_FAILED","time":"2024-06-01T11:58:00Z","data":{"userId":"u-1"}}""",
        """{"eventId":"e-8","eventType":"SEARCH","timestamp":"2024-06-01T13:00:00Z","userId":"u-5"}""",
    ];

    [Fact]
    public void TryDecode_ValidAndCorpusMessages_FastPathMatchesTwoPass()
    {
        foreach (var text in s_valid)
        {
            AssertSame(Utf8(text));
        }

        foreach (var (name, (message, _)) in EventDecoderBadInputTests.s_corpus)
        {
            AssertSame(message(), name);
        }
    }

    [Fact]
    public void TryDecode_MutatedMessages_FastPathMatchesTwoPass()
    {
        var random = new Random(88);
        int decoded = 0;
        for (int i = 0; i < 20_000; i++)
        {
            if (AssertSame(EventDecoderBadInputTests.Mutate(Utf8(s_valid[i % s_valid.Length]), random)))
            {
                decoded++;
            }
        }

        // The mutations are small, so a good share still decodes and the success path is compared too.
        Assert.InRange(decoded, 1000, 19_999);
    }

    [Fact]
    public void TryDecode_RepeatedValues_SameStringInstances()
    {
        var decoder = NewEventDecoder();
        Assert.True(decoder.TryDecode(Utf8(s_valid[1]), out var first, out _));
        Assert.True(decoder.TryDecode(Utf8(s_valid[1]), out var second, out _));

        Assert.Same(first.UserId, second.UserId);
        Assert.Same(first.Username, second.Username);
        Assert.Same(first.IpAddress, second.IpAddress);
        Assert.Same(first.UserAgent, second.UserAgent);
        Assert.Same(first.Properties!["reason"], second.Properties!["reason"]);
        // Event ids are unique per event, so caching them would only churn the cache.
        Assert.NotSame(first.EventId, second.EventId);
    }

    [Fact]
    public void TryDecode_CacheOff_StillDecodesEqualValues()
    {
        var decoder = NewEventDecoder(new EventDecoderOptions { StringCacheSize = 0 });
        Assert.True(decoder.TryDecode(Utf8(s_valid[1]), out var first, out _));
        Assert.True(decoder.TryDecode(Utf8(s_valid[1]), out var second, out _));

        Assert.Equal(0, decoder.StringCacheSlots);
        Assert.Equal("u-000062", second.UserId);
        Assert.NotSame(first.UserId, second.UserId);
    }

    [Fact]
    public void TryDecode_EventAfterCachedClockLimit_ReadsClockAgain()
    {
        var clock = new FixedTimeProvider(Now);
        var decoder = new EventDecoder(new EventDecoderOptions(), clock);
        var early = Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-06-01T12:04:00Z","userId":"u-1"}""");
        var late = Utf8("""{"eventId":"e-2","eventType":"SEARCH","timestamp":"2024-06-01T12:10:00Z","userId":"u-1"}""");

        Assert.True(decoder.TryDecode(early, out _, out _));
        Assert.False(decoder.TryDecode(late, out _, out var error));
        Assert.Equal(DeadLetterReason.TimestampInFuture, error.Reason);

        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.True(decoder.TryDecode(late, out _, out _));
    }

    private static bool AssertSame(byte[] message, string? name = null)
    {
        var fast = NewEventDecoder();
        var slow = new EventDecoder(new EventDecoderOptions(), new FixedTimeProvider(Now)) { FastPathEnabled = false };
        bool fastOk = fast.TryDecode(message, out var a, out var fastError);
        bool slowOk = slow.TryDecode(message, out var b, out var slowError);
        string what = name ?? System.Text.Encoding.UTF8.GetString(message);

        Assert.True(fastOk == slowOk, $"{what}: fast {fastOk} ({fastError.Reason}), two-pass {slowOk} ({slowError.Reason})");
        Assert.Equal(slowError, fastError);
        if (slowOk)
        {
            Assert.Equal(b!.EventId, a!.EventId);
            Assert.Equal(b.Type, a.Type);
            Assert.Equal(b.RawType, a.RawType);
            Assert.Equal(b.TimestampMs, a.TimestampMs);
            Assert.Equal(b.UserId, a.UserId);
            Assert.Equal(b.Username, a.Username);
            Assert.Equal(b.SessionId, a.SessionId);
            Assert.Equal(b.IpAddress, a.IpAddress);
            Assert.Equal(b.UserAgent, a.UserAgent);
            Assert.Equal(b.Properties is null, a.Properties is null);
            if (b.Properties is not null)
            {
                Assert.Equal(b.Properties.ToArray(), a.Properties!.ToArray());
            }

            Assert.Equal(slow.UnknownTypeCount, fast.UnknownTypeCount);
        }

        return slowOk;
    }
}
