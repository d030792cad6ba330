using Vigil.Core.Events;
using static Vigil.Core.Tests.Events.DecoderTestData;

namespace Vigil.Core.Tests.Events;

/// <summary>One test per rule of the <c>user-events</c> contract (DESIGN §2).</summary>
public sealed class EventDecoderTests
{
    private readonly EventDecoder _decoder = NewEventDecoder();

    private UserEvent Decoded(string json)
    {
        bool ok = _decoder.TryDecode(Utf8(json), out var evt, out var error);
        Assert.True(ok, $"expected success, got {error.Code}: {error.Detail}");
        Assert.Equal(default, error);
        return evt!;
    }

    private DecodeError Rejected(string json)
    {
        bool ok = _decoder.TryDecode(Utf8(json), out var evt, out var error);
        Assert.False(ok, "expected a dead letter");
        Assert.Null(evt);
        Assert.False(string.IsNullOrEmpty(error.Detail));
        return error;
    }

    [Fact]
    public void TryDecode_CanonicalEvent_DecodesEveryField()
    {
        var evt = Decoded(ValidEvent);

        Assert.Equal("e-1", evt.EventId);
        Assert.Equal(EventType.LoginSuccess, evt.Type);
        Assert.Null(evt.RawType);
        Assert.Equal(NowMs - 60_000, evt.TimestampMs);
        Assert.Equal("u-1", evt.UserId);
        Assert.Equal("alice", evt.Username);
        Assert.Equal("s-1", evt.SessionId);
        Assert.Equal("203.0.113.7", evt.IpAddress);
        Assert.Equal("Mozilla/5.0", evt.UserAgent);
        Assert.Equal("password", evt.Properties!["method"]);
    }

    [Fact]
    public void TryDecode_MinimalEvent_OptionalFieldsNull()
    {
        var evt = Decoded(Event("\"userId\":\"u-1\""));

        Assert.Null(evt.Username);
        Assert.Null(evt.SessionId);
        Assert.Null(evt.IpAddress);
        Assert.Null(evt.UserAgent);
        Assert.Null(evt.Properties);
    }

    [Fact]
    public void TryDecode_TypeAlias_ReadsEventType()
    {
        var evt = Decoded("""{"eventId":"e-1","type":"LOGOUT","timestamp":1717243140000,"userId":"u-1"}""");

        Assert.Equal(EventType.Logout, evt.Type);
    }

    [Fact]
    public void TryDecode_UserIdSnakeCaseAlias_ReadsUserId()
    {
        Assert.Equal("u-7", Decoded(Event("\"user_id\":\"u-7\"")).UserId);
    }

    [Theory]
    [InlineData("ipAddress")]
    [InlineData("ip")]
    [InlineData("ip_address")]
    public void TryDecode_IpAddressAliases_ReadIpAddress(string name)
    {
        Assert.Equal("198.51.100.4", Decoded(Event($"\"userId\":\"u-1\",\"{name}\":\"198.51.100.4\"")).IpAddress);
    }

    [Fact]
    public void TryDecode_OccurredAtAlias_ReadsTimestamp()
    {
        var evt = Decoded("""{"eventId":"e-1","eventType":"SEARCH","occurredAt":"2024-06-01T11:00:00Z","userId":"u-1"}""");

        Assert.Equal(NowMs - 3_600_000, evt.TimestampMs);
    }

    [Fact]
    public void TryDecode_SnakeCaseAliases_ReadEventIdSessionIdUserAgent()
    {
        var evt = Decoded("""{"event_id":"e-9","event_type":"SEARCH","timestamp":1717243140000,"user_id":"u-1","session_id":"s-9","user_agent":"curl/8"}""");

        Assert.Equal("e-9", evt.EventId);
        Assert.Equal(EventType.Search, evt.Type);
        Assert.Equal("s-9", evt.SessionId);
        Assert.Equal("curl/8", evt.UserAgent);
    }

    [Theory]
    [InlineData("USER_LOGIN", EventType.LoginSuccess)]
    [InlineData("LOGIN", EventType.LoginSuccess)]
    [InlineData("FAILED_LOGIN", EventType.LoginFailed)]
    [InlineData("user_login", EventType.LoginSuccess)]
    [InlineData("Failed_Login", EventType.LoginFailed)]
    public void TryDecode_EventTypeAlias_MapsToCanonicalType(string wire, EventType expected)
    {
        var evt = Decoded(Event("\"userId\":\"u-1\"", wire));

        Assert.Equal(expected, evt.Type);
        Assert.Null(evt.RawType);
    }

    [Theory]
    [InlineData("login_failed", EventType.LoginFailed)]
    [InlineData("Password_Changed", EventType.PasswordChanged)]
    [InlineData("page_view", EventType.PageView)]
    public void TryDecode_EventTypeInAnyCase_ResolvesCaseInsensitively(string wire, EventType expected)
    {
        Assert.Equal(expected, Decoded(Event("\"userId\":\"u-1\"", wire)).Type);
    }

    [Fact]
    public void TryDecode_EveryCanonicalWireName_Resolves()
    {
        foreach (var name in EventTypes.WireNames)
        {
            var evt = Decoded(Event("\"userId\":\"u-1\"", name));
            Assert.Equal(name, evt.Type.ToWireName());
        }
    }

    [Fact]
    public void TryDecode_UnknownType_KeptAsOtherWithRawTypeAndCounted()
    {
        var evt = Decoded(Event("\"userId\":\"u-1\"", "ACCOUNT_LOCKED"));

        Assert.Equal(EventType.Other, evt.Type);
        Assert.Equal("ACCOUNT_LOCKED", evt.RawType);
        Assert.Equal(1, _decoder.UnknownTypeCount);
    }

    [Fact]
    public void TryDecode_KnownType_NotCounted()
    {
        Decoded(ValidEvent);

        Assert.Equal(0, _decoder.UnknownTypeCount);
    }

    [Fact]
    public void TryDecode_UnknownTypeFromManyThreads_CountsEveryEvent()
    {
        var message = Utf8(Event("\"userId\":\"u-1\"", "SOMETHING_NEW"));

        Parallel.For(0, 1000, i => Assert.True(_decoder.TryDecode(message, out _, out _)));

        Assert.Equal(1000, _decoder.UnknownTypeCount);
    }

    [Fact]
    public void TryDecode_UnknownTypeDeadLettered_NotCounted()
    {
        Rejected(Event("", "SOMETHING_NEW"));

        Assert.Equal(0, _decoder.UnknownTypeCount);
    }

    [Fact]
    public void TryDecode_NumericUserId_KeptAsText()
    {
        Assert.Equal("12345", Decoded(Event("\"userId\":12345")).UserId);
    }

    [Fact]
    public void TryDecode_NumericUserIdBeyondInt64_KeptAsExactText()
    {
        Assert.Equal("123456789012345678901234567890", Decoded(Event("\"userId\":123456789012345678901234567890")).UserId);
    }

    [Fact]
    public void TryDecode_EpochSeconds_ConvertedToMilliseconds()
    {
        var evt = Decoded("""{"eventId":"e-1","eventType":"SEARCH","timestamp":1717243140,"userId":"u-1"}""");

        Assert.Equal(1_717_243_140_000, evt.TimestampMs);
    }

    [Fact]
    public void TryDecode_EpochMilliseconds_Kept()
    {
        var evt = Decoded("""{"eventId":"e-1","eventType":"SEARCH","timestamp":1717243140123,"userId":"u-1"}""");

        Assert.Equal(1_717_243_140_123, evt.TimestampMs);
    }

    [Fact]
    public void TryDecode_FractionalEpochSeconds_RoundedToMilliseconds()
    {
        var evt = Decoded("""{"eventId":"e-1","eventType":"SEARCH","timestamp":1717243140.123,"userId":"u-1"}""");

        Assert.Equal(1_717_243_140_123, evt.TimestampMs);
    }

    [Fact]
    public void TryDecode_EpochInExponentNotation_Accepted()
    {
        var evt = Decoded("""{"eventId":"e-1","eventType":"SEARCH","timestamp":1.71724314E12,"userId":"u-1"}""");

        Assert.Equal(1_717_243_140_000, evt.TimestampMs);
    }

    [Theory]
    [InlineData("1717243140", 1_717_243_140_000)]
    [InlineData("1717243140123", 1_717_243_140_123)]
    [InlineData("1717243140.5", 1_717_243_140_500)]
    public void TryDecode_EpochAsNumericString_Accepted(string text, long expectedMs)
    {
        var evt = Decoded($$"""{"eventId":"e-1","eventType":"SEARCH","timestamp":"{{text}}","userId":"u-1"}""");

        Assert.Equal(expectedMs, evt.TimestampMs);
    }

    [Theory]
    [InlineData("2024-06-01T11:59:00Z")]
    [InlineData("2024-06-01T11:59:00.000Z")]
    [InlineData("2024-06-01t11:59:00z")]
    [InlineData("2024-06-01 11:59:00Z")]
    [InlineData("2024-06-01T13:59:00+02:00")]
    [InlineData("2024-06-01T13:59:00+0200")]
    [InlineData("2024-06-01T13:59+02")]
    [InlineData("2024-06-01T06:29:00-05:30")]
    [InlineData("2024-06-01T11:59:00.000000000+00:00")]
    public void TryDecode_IsoWithOffset_ConvertedToUtc(string text)
    {
        var evt = Decoded($$"""{"eventId":"e-1","eventType":"SEARCH","timestamp":"{{text}}","userId":"u-1"}""");

        Assert.Equal(NowMs - 60_000, evt.TimestampMs);
    }

    [Fact]
    public void TryDecode_IsoFraction_KeepsMillisecondsDropsFiner()
    {
        var evt = Decoded("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-06-01T11:59:00.1239Z","userId":"u-1"}""");

        Assert.Equal(NowMs - 60_000 + 123, evt.TimestampMs);
    }

    [Fact]
    public void TryDecode_IsoLeapDay_Accepted()
    {
        var evt = Decoded("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-02-29T00:00:00Z","userId":"u-1"}""");

        Assert.Equal(new DateTimeOffset(2024, 2, 29, 0, 0, 0, TimeSpan.Zero), evt.Timestamp);
    }

    [Fact]
    public void TryDecode_IsoWithoutOffset_RejectedAsMissingOffset()
    {
        var error = Rejected("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-06-01T11:59:00","userId":"u-1"}""");

        Assert.Equal(DeadLetterReason.TimestampMissingOffset, error.Reason);
        Assert.Contains("timestamp", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_TimestampWithinFutureSkew_Accepted()
    {
        long fourMinutesAhead = NowMs + 240_000;

        Assert.Equal(fourMinutesAhead, Decoded($$"""{"eventId":"e-1","eventType":"SEARCH","timestamp":{{fourMinutesAhead}},"userId":"u-1"}""").TimestampMs);
    }

    [Fact]
    public void TryDecode_TimestampBeyondFutureSkew_DeadLetteredInFuture()
    {
        var error = Rejected("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-06-01T12:05:01Z","userId":"u-1"}""");

        Assert.Equal(DeadLetterReason.TimestampInFuture, error.Reason);
        Assert.Equal("TIMESTAMP_IN_FUTURE", error.Code);
    }

    [Fact]
    public void TryDecode_CustomFutureSkew_Honoured()
    {
        var decoder = NewEventDecoder(new EventDecoderOptions { MaxFutureSkew = TimeSpan.FromHours(2) });

        Assert.True(decoder.TryDecode(Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-06-01T13:00:00Z","userId":"u-1"}"""), out _, out _));
    }

    [Fact]
    public void TryDecode_ClockMoves_FutureBoundMovesWithIt()
    {
        var clock = new FixedTimeProvider(Now);
        var decoder = new EventDecoder(new EventDecoderOptions(), clock);
        var message = Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-06-01T13:00:00Z","userId":"u-1"}""");
        Assert.False(decoder.TryDecode(message, out _, out _));

        clock.Advance(TimeSpan.FromHours(1));

        Assert.True(decoder.TryDecode(message, out _, out _));
    }

    [Fact]
    public void TryDecode_CloudEventsEnvelope_DecodesData()
    {
        var evt = Decoded("""
            {"specversion":"1.0","id":"ce-1","source":"/users","type":"com.example.user.LOGIN_FAILED","time":"2024-06-01T11:58:00Z",
             "datacontenttype":"application/json",
             "data":{"eventId":"e-1","eventType":"LOGIN_SUCCESS","timestamp":"2024-06-01T11:59:00Z","userId":"u-1","ip":"203.0.113.7"}}
            """);

        // The data's own fields win over the envelope's.
        Assert.Equal("e-1", evt.EventId);
        Assert.Equal(EventType.LoginSuccess, evt.Type);
        Assert.Equal(NowMs - 60_000, evt.TimestampMs);
        Assert.Equal("203.0.113.7", evt.IpAddress);
    }

    [Fact]
    public void TryDecode_CloudEventsMissingDataFields_FallBackToIdTypeTime()
    {
        var evt = Decoded("""
            {"specversion":"1.0","id":"ce-1","source":"/users","type":"com.example.user.LOGIN_FAILED","time":"2024-06-01T11:58:00Z",
             "data":{"username":"mallory","ip":"203.0.113.7"}}
            """);

        Assert.Equal("ce-1", evt.EventId);
        Assert.Equal(EventType.LoginFailed, evt.Type);
        Assert.Equal(NowMs - 120_000, evt.TimestampMs);
        Assert.Equal("mallory", evt.SubjectKey);
    }

    [Fact]
    public void TryDecode_CloudEventsDataBeforeSpecVersion_Decoded()
    {
        var evt = Decoded("""
            {"data":{"userId":"u-1"},"type":"LOGOUT","id":"ce-2","time":"2024-06-01T11:59:00Z","specversion":"1.0"}
            """);

        Assert.Equal("ce-2", evt.EventId);
        Assert.Equal(EventType.Logout, evt.Type);
        Assert.Equal("u-1", evt.UserId);
    }

    [Fact]
    public void TryDecode_CloudEventsUnknownType_KeepsFullTypeAsRawType()
    {
        var evt = Decoded("""
            {"specversion":"1.0","id":"ce-3","type":"com.example.user.ACCOUNT_LOCKED","time":"2024-06-01T11:59:00Z","data":{"userId":"u-1"}}
            """);

        Assert.Equal(EventType.Other, evt.Type);
        Assert.Equal("com.example.user.ACCOUNT_LOCKED", evt.RawType);
        Assert.Equal(1, _decoder.UnknownTypeCount);
    }

    [Theory]
    [InlineData("""{"specversion":"1.0","id":"x","type":"t","data_base64":"eyJ9"}""")]
    [InlineData("""{"specversion":"0.3","id":"x","type":"t","data":{}}""")]
    [InlineData("""{"specversion":1.0,"id":"x","type":"t","data":{}}""")]
    [InlineData("""{"specversion":"1.0","id":"x","type":"t"}""")]
    [InlineData("""{"specversion":"1.0","id":"x","type":"t","data":"{\"userId\":\"u\"}"}""")]
    [InlineData("""{"specversion":"1.0","id":"x","type":"t","datacontenttype":"application/xml","data":{}}""")]
    public void TryDecode_UnsupportedCloudEventsShape_DeadLettered(string json)
    {
        Assert.Equal(DeadLetterReason.UnsupportedEnvelope, Rejected(json).Reason);
    }

    [Fact]
    public void TryDecode_LoginFailedWithUsernameOnly_Accepted()
    {
        var evt = Decoded(Event("\"username\":\"nobody@example.com\"", "LOGIN_FAILED"));

        Assert.Null(evt.UserId);
        Assert.Equal("nobody@example.com", evt.Username);
        Assert.Equal("nobody@example.com", evt.SubjectKey);
    }

    [Fact]
    public void TryDecode_FailedLoginAliasWithUsernameOnly_Accepted()
    {
        Assert.Equal(EventType.LoginFailed, Decoded(Event("\"username\":\"bob\"", "FAILED_LOGIN")).Type);
    }

    [Theory]
    [InlineData("LOGIN_SUCCESS")]
    [InlineData("LOGOUT")]
    [InlineData("PASSWORD_CHANGED")]
    [InlineData("SOMETHING_NEW")]
    public void TryDecode_OtherTypeWithUsernameOnly_MissingUserId(string type)
    {
        var error = Rejected(Event("\"username\":\"bob\"", type));

        Assert.Equal(DeadLetterReason.MissingField, error.Reason);
        Assert.Contains("userId", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_LoginFailedWithNeitherUserIdNorUsername_MissingUserId()
    {
        var error = Rejected(Event("", "LOGIN_FAILED"));

        Assert.Equal(DeadLetterReason.MissingField, error.Reason);
        Assert.Contains("username", error.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("FE80::0:0:1", "fe80::1")]
    [InlineData("::1", "::1")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]
    [InlineData("64:ff9b::192.0.2.33", "64:ff9b::c000:221")]
    public void TryDecode_Ipv6_NormalisedToCanonicalText(string text, string expected)
    {
        Assert.Equal(expected, Decoded(Event($"\"userId\":\"u-1\",\"ipAddress\":\"{text}\"")).IpAddress);
    }

    [Fact]
    public void TryDecode_Ipv4MappedIpv6_NormalisedToIpv4()
    {
        Assert.Equal("192.0.2.1", Decoded(Event("\"userId\":\"u-1\",\"ipAddress\":\"::ffff:192.0.2.1\"")).IpAddress);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("10.0.0.1")]
    public void TryDecode_DottedQuad_Kept(string text)
    {
        Assert.Equal(text, Decoded(Event($"\"userId\":\"u-1\",\"ipAddress\":\"{text}\"")).IpAddress);
    }

    [Fact]
    public void TryDecode_Properties_ReadAsStringMap()
    {
        var evt = Decoded(Event("""
            "userId":"u-1","properties":{"query":"red shoes","amount":"12.50","empty":"","escaped":"a\"b\u00e9"}
            """.Trim()));

        Assert.Equal(4, evt.Properties!.Count);
        Assert.Equal("red shoes", evt.Properties["query"]);
        Assert.Equal("12.50", evt.Properties["amount"]);
        Assert.Equal("", evt.Properties["empty"]);
        Assert.Equal("a\"bé", evt.Properties["escaped"]);
    }

    [Fact]
    public void TryDecode_PropertyWithNullValue_Dropped()
    {
        var evt = Decoded(Event("\"userId\":\"u-1\",\"properties\":{\"query\":null,\"page\":\"2\"}"));

        Assert.False(evt.Properties!.ContainsKey("query"));
        Assert.Equal("2", evt.Properties["page"]);
    }

    [Fact]
    public void TryDecode_PropertiesAtCountLimit_Accepted()
    {
        var entries = string.Join(',', Enumerable.Range(0, 64).Select(i => $"\"k{i}\":\"v\""));

        Assert.Equal(64, Decoded(Event($"\"userId\":\"u-1\",\"properties\":{{{entries}}}")).Properties!.Count);
    }

    [Fact]
    public void TryDecode_PropertiesOverCountLimit_TooManyProperties()
    {
        var entries = string.Join(',', Enumerable.Range(0, 65).Select(i => $"\"k{i}\":\"v\""));

        Assert.Equal(DeadLetterReason.TooManyProperties, Rejected(Event($"\"userId\":\"u-1\",\"properties\":{{{entries}}}")).Reason);
    }

    [Fact]
    public void TryDecode_FieldsAtLengthLimits_Accepted()
    {
        var id = new string('i', 128);
        var name = new string('n', 256);
        var agent = new string('a', 1024);
        var value = new string('v', 1024);
        var key = new string('k', 128);

        var evt = Decoded($$$"""{"eventId":"{{{id}}}","eventType":"SEARCH","timestamp":1717243140000,"userId":"{{{id}}}","username":"{{{name}}}","sessionId":"{{{id}}}","userAgent":"{{{agent}}}","properties":{"{{{key}}}":"{{{value}}}"}}""");

        Assert.Equal(128, evt.EventId.Length);
        Assert.Equal(256, evt.Username!.Length);
        Assert.Equal(1024, evt.UserAgent!.Length);
        Assert.Equal(1024, evt.Properties![key].Length);
    }

    [Theory]
    [InlineData("eventId", 129)]
    [InlineData("userId", 129)]
    [InlineData("sessionId", 129)]
    [InlineData("username", 257)]
    [InlineData("userAgent", 1025)]
    public void TryDecode_FieldOverLengthLimit_FieldTooLongNamingIt(string field, int length)
    {
        var json = $$"""{"eventId":"e-1","eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}""";
        json = field is "eventId" or "userId"
            ? json.Replace($"\"{field}\":\"{(field == "eventId" ? "e-1" : "u-1")}\"", $"\"{field}\":\"{new string('x', length)}\"", StringComparison.Ordinal)
            : json.Insert(json.Length - 1, $",\"{field}\":\"{new string('x', length)}\"");

        var error = Rejected(json);

        Assert.Equal(DeadLetterReason.FieldTooLong, error.Reason);
        Assert.StartsWith(field, error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_LengthCountsCharactersNotBytes_MultibyteAtLimitAccepted()
    {
        // 256 characters of three UTF-8 bytes each.
        var name = new string('€', 256);

        Assert.Equal(name, Decoded(Event($"\"userId\":\"u-1\",\"username\":\"{name}\"")).Username);
    }

    [Fact]
    public void TryDecode_UnknownFields_Ignored()
    {
        var evt = Decoded(Event("\"userId\":\"u-1\",\"tenant\":\"t\",\"meta\":{\"a\":[1,2,{\"b\":null}]},\"flag\":true"));

        Assert.Equal("u-1", evt.UserId);
    }

    [Fact]
    public void TryDecode_NullOptionalFields_TreatedAsAbsent()
    {
        var evt = Decoded(Event("\"userId\":\"u-1\",\"username\":null,\"sessionId\":null,\"ipAddress\":null,\"userAgent\":null,\"properties\":null"));

        Assert.Null(evt.Username);
        Assert.Null(evt.IpAddress);
        Assert.Null(evt.Properties);
    }

    [Fact]
    public void TryDecode_EscapedPropertyNamesAndValues_Matched()
    {
        var evt = Decoded("""{"\u0065ventId":"e\u002D1","eventType":"LOGIN\u005FSUCCESS","timestamp":"2024\u002D06-01T11:59:00Z","userId":"u-1","ip":"203.0.113\u002E7"}""");

        Assert.Equal("e-1", evt.EventId);
        Assert.Equal(EventType.LoginSuccess, evt.Type);
        Assert.Equal(NowMs - 60_000, evt.TimestampMs);
        Assert.Equal("203.0.113.7", evt.IpAddress);
    }

    [Fact]
    public void TryDecode_Utf8ByteOrderMark_Skipped()
    {
        byte[] message = [0xEF, 0xBB, 0xBF, .. Utf8(ValidEvent)];

        Assert.True(_decoder.TryDecode(message, out var evt, out _));
        Assert.Equal("e-1", evt.EventId);
    }

    [Fact]
    public void TryDecode_FieldOrder_DoesNotMatter()
    {
        var evt = Decoded("""{"properties":{"a":"b"},"userId":"u-1","timestamp":1717243140000,"eventType":"SEARCH","eventId":"e-1"}""");

        Assert.Equal(EventType.Search, evt.Type);
    }

    [Fact]
    public void TryDecode_MaxDepthOption_AllowsEnvelopePropertiesAtThree()
    {
        var decoder = NewEventDecoder(new EventDecoderOptions { MaxDepth = 3 });
        var envelope = Utf8("""{"specversion":"1.0","id":"c","type":"SEARCH","time":"2024-06-01T11:59:00Z","data":{"userId":"u","properties":{"q":"x"}}}""");
        var tooDeep = Utf8("""{"specversion":"1.0","id":"c","type":"SEARCH","time":"2024-06-01T11:59:00Z","data":{"userId":"u","x":{"y":[]}}}""");

        Assert.True(decoder.TryDecode(envelope, out _, out _));
        Assert.False(decoder.TryDecode(tooDeep, out _, out var error));
        Assert.Equal(DeadLetterReason.NestingTooDeep, error.Reason);
    }

    [Fact]
    public void TryDecode_MessageOverConfiguredSize_TooLargeWithoutParsing()
    {
        var decoder = NewEventDecoder(new EventDecoderOptions { MaxMessageBytes = 64 });

        // Not even valid JSON: the size check comes first.
        Assert.False(decoder.TryDecode(new byte[65], out _, out var error));
        Assert.Equal(DeadLetterReason.MessageTooLarge, error.Reason);
    }

    [Fact]
    public void TryDecode_SyntaxErrorAfterFieldError_SyntaxErrorWins()
    {
        var error = Rejected("""{"eventId":42,"eventType":"SEARCH" "timestamp":1}""");

        Assert.Equal(DeadLetterReason.MalformedJson, error.Reason);
    }

    [Fact]
    public void Constructor_InvalidOptions_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NewEventDecoder(new EventDecoderOptions { MaxDepth = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => NewEventDecoder(new EventDecoderOptions { MaxMessageBytes = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => NewEventDecoder(new EventDecoderOptions { MaxFutureSkew = TimeSpan.FromSeconds(-1) }));
        Assert.Throws<ArgumentNullException>(() => new EventDecoder(null!, TimeProvider.System));
        Assert.Throws<ArgumentNullException>(() => new EventDecoder(new EventDecoderOptions(), null!));
    }

    [Fact]
    public void DecodeError_ToDeadLetter_CarriesCodeDetailAndRaw()
    {
        var raw = Utf8("""{"eventType":"SEARCH"}""");
        Assert.False(_decoder.TryDecode(raw, out _, out var error));

        var letter = error.ToDeadLetter("user-events", 3, 42, "u-1", raw, Now);

        Assert.Equal("MISSING_FIELD", letter.Reason);
        Assert.Contains("eventId", letter.Detail, StringComparison.Ordinal);
        Assert.Equal(raw, letter.Raw.ToArray());
        Assert.Equal(3, letter.Partition);
    }
}
