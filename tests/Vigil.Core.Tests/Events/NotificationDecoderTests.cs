using Vigil.Core.Events;
using static Vigil.Core.Tests.Events.DecoderTestData;

namespace Vigil.Core.Tests.Events;

public sealed class NotificationDecoderTests
{
    private readonly NotificationDecoder _decoder = NewNotificationDecoder();

    private Notification Decoded(string json)
    {
        bool ok = _decoder.TryDecode(Utf8(json), out var n, out var error);
        Assert.True(ok, $"expected success, got {error.Code}: {error.Detail}");
        return n!;
    }

    private DecodeError Rejected(string json)
    {
        Assert.False(_decoder.TryDecode(Utf8(json), out var n, out var error));
        Assert.Null(n);
        return error;
    }

    [Fact]
    public void TryDecode_CanonicalNotification_DecodesEveryField()
    {
        var n = Decoded(ValidNotification);

        Assert.Equal("n-1", n.NotificationId);
        Assert.Equal("u-1", n.UserId);
        Assert.Equal(NotificationChannel.Email, n.Channel);
        Assert.Equal("PASSWORD_RESET", n.Kind);
        Assert.Equal(NowMs - 60_000, n.TimestampMs);
    }

    [Theory]
    [InlineData("EMAIL", NotificationChannel.Email)]
    [InlineData("email", NotificationChannel.Email)]
    [InlineData("Sms", NotificationChannel.Sms)]
    [InlineData("push", NotificationChannel.Push)]
    [InlineData("P\\u0055SH", NotificationChannel.Push)]
    public void TryDecode_Channel_CaseInsensitive(string channel, NotificationChannel expected)
    {
        Assert.Equal(expected, Decoded(ValidNotification.Replace("\"EMAIL\"", $"\"{channel}\"", StringComparison.Ordinal)).Channel);
    }

    [Fact]
    public void TryDecode_AliasesAndNumericUserId_Accepted()
    {
        var n = Decoded("""{"notification_id":"n-2","user_id":987,"channel":"SMS","kind":"LOGIN_ALERT","occurredAt":1717243140}""");

        Assert.Equal("n-2", n.NotificationId);
        Assert.Equal("987", n.UserId);
        Assert.Equal(1_717_243_140_000, n.TimestampMs);
    }

    [Fact]
    public void TryDecode_CloudEventsEnvelope_FallsBackToIdTimeAndTypeAsKind()
    {
        var n = Decoded("""{"specversion":"1.0","id":"ce-1","type":"com.example.notification.MFA_CODE","time":"2024-06-01T11:58:00Z","data":{"userId":"u-1","channel":"PUSH"}}""");

        Assert.Equal("ce-1", n.NotificationId);
        Assert.Equal("MFA_CODE", n.Kind);
        Assert.Equal(NowMs - 120_000, n.TimestampMs);
    }

    [Theory]
    [InlineData("FAX")]
    [InlineData("E-MAIL")]
    [InlineData("EMAILS")]
    public void TryDecode_UnknownChannel_InvalidChannel(string channel)
    {
        var error = Rejected(ValidNotification.Replace("\"EMAIL\"", $"\"{channel}\"", StringComparison.Ordinal));

        Assert.Equal(DeadLetterReason.InvalidChannel, error.Reason);
        Assert.Contains(channel, error.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("notificationId")]
    [InlineData("userId")]
    [InlineData("channel")]
    [InlineData("kind")]
    [InlineData("timestamp")]
    public void TryDecode_MissingField_NamesIt(string field)
    {
        var json = field switch
        {
            "notificationId" => """{"userId":"u-1","channel":"EMAIL","kind":"K","timestamp":1717243140000}""",
            "userId" => """{"notificationId":"n","channel":"EMAIL","kind":"K","timestamp":1717243140000}""",
            "channel" => """{"notificationId":"n","userId":"u-1","kind":"K","timestamp":1717243140000}""",
            "kind" => """{"notificationId":"n","userId":"u-1","channel":"EMAIL","timestamp":1717243140000}""",
            _ => """{"notificationId":"n","userId":"u-1","channel":"EMAIL","kind":"K"}""",
        };

        var error = Rejected(json);

        Assert.Equal(DeadLetterReason.MissingField, error.Reason);
        Assert.StartsWith(field, error.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"notificationId":"n","userId":"u-1","channel":1,"kind":"K","timestamp":1717243140000}""", DeadLetterReason.WrongType)]
    [InlineData("""{"notificationId":"n","notification_id":"m","userId":"u-1","channel":"SMS","kind":"K","timestamp":1717243140000}""", DeadLetterReason.DuplicateKey)]
    [InlineData("""{"notificationId":"n","userId":"u-1","channel":"SMS","kind":"K","timestamp":"2024-06-01T13:00:00Z"}""", DeadLetterReason.TimestampInFuture)]
    [InlineData("""{"notificationId":"n","userId":"u-1","channel":"SMS","kind":"K","timestamp":"2024-06-01T11:00:00"}""", DeadLetterReason.TimestampMissingOffset)]
    [InlineData("""{"notificationId":"n","userId":"u-1","channel":"SMS","kind":"K","timestamp":-1}""", DeadLetterReason.TimestampOutOfRange)]
    [InlineData("""{"notificationId":"n","userId":"u-1","channel":"SMS","kind":"K","timestamp":NaN}""", DeadLetterReason.InvalidNumber)]
    [InlineData("""{"notificationId":"n","userId":"u-1","channel":"SMS","kind":"K","timestamp":1717243140000""", DeadLetterReason.TruncatedJson)]
    [InlineData("""["n"]""", DeadLetterReason.NotAnObject)]
    [InlineData("", DeadLetterReason.EmptyMessage)]
    [InlineData("""{"specversion":"1.0","data_base64":"e30="}""", DeadLetterReason.UnsupportedEnvelope)]
    public void TryDecode_BadNotification_SameReasonsAsEvents(string json, DeadLetterReason reason)
    {
        Assert.Equal(reason, Rejected(json).Reason);
    }

    [Fact]
    public void TryDecode_KindTooLong_FieldTooLong()
    {
        var error = Rejected(ValidNotification.Replace("PASSWORD_RESET", new string('K', 129), StringComparison.Ordinal));

        Assert.Equal(DeadLetterReason.FieldTooLong, error.Reason);
    }

    [Fact]
    public void TryDecode_DeepNesting_NestingTooDeepWithoutStackOverflow()
    {
        Assert.False(_decoder.TryDecode(Nested(10_000, closed: true), out _, out var error));

        Assert.Equal(DeadLetterReason.NestingTooDeep, error.Reason);
    }

    [Fact]
    public void TryDecode_RandomBytesAndMutations_NeverThrow()
    {
        var random = new Random(99);
        var seed = Utf8(ValidNotification);
        for (int i = 0; i < 3000; i++)
        {
            byte[] message;
            if (i % 2 == 0)
            {
                message = new byte[random.Next(0, 128)];
                random.NextBytes(message);
            }
            else
            {
                message = EventDecoderBadInputTests.Mutate(seed, random);
            }

            bool ok = _decoder.TryDecode(message, out var n, out var error);
            Assert.Equal(ok, n is not null);
            Assert.Equal(ok, error.Reason == DeadLetterReason.None);
        }
    }
}
