using System.Text;
using Vigil.Core.Events;
using static Vigil.Core.Tests.Events.DecoderTestData;

namespace Vigil.Core.Tests.Events;

/// <summary>
/// A corpus of bad messages, each with the exact dead-letter reason it must get, and fuzzing: whatever the bytes,
/// <see cref="EventDecoder.TryDecode"/> returns a status and never throws.
/// </summary>
public sealed class EventDecoderBadInputTests
{
    internal static readonly Dictionary<string, (Func<byte[]> Message, DeadLetterReason Reason)> s_corpus = new()
    {
        ["empty"] = (() => [], DeadLetterReason.EmptyMessage),
        ["only white space"] = (() => Utf8(" \r\n\t "), DeadLetterReason.EmptyMessage),
        ["10 MB message"] = (() => Utf8($$"""{"eventId":"{{new string('a', 10 * 1024 * 1024)}}"}"""), DeadLetterReason.MessageTooLarge),
        ["invalid UTF-8 in a string"] = (() => [.. Utf8("{\"eventId\":\"e"), 0xFF, 0xFE, .. Utf8("\",\"eventType\":\"SEARCH\"}")], DeadLetterReason.InvalidUtf8),
        ["overlong UTF-8 encoding"] = (() => [.. Utf8("{\"userId\":\"a"), 0xC0, 0xAF, .. Utf8("\"}")], DeadLetterReason.InvalidUtf8),
        ["UTF-16 encoded JSON"] = (() => Encoding.Unicode.GetBytes(ValidEvent), DeadLetterReason.MalformedJson),
        ["UTF-8 encoded surrogate"] = (() => [.. Utf8("{\"userId\":\""), 0xED, 0xA0, 0x80, .. Utf8("\"}")], DeadLetterReason.InvalidUtf8),
        ["binary garbage"] = (() => [0x00, 0x9C, 0xFF, 0x13, 0x80, 0x7F, 0xC3, 0x28, 0xE2, 0x82], DeadLetterReason.InvalidUtf8),
        ["control characters"] = (() => [0x00, 0x01, 0x02, 0x1B], DeadLetterReason.MalformedJson),
        ["gzip header"] = (() => [0x1F, 0x8B, 0x08, 0x00], DeadLetterReason.InvalidUtf8),
        ["not JSON: plain text"] = (() => Utf8("user u-1 logged in"), DeadLetterReason.MalformedJson),
        ["not JSON: XML"] = (() => Utf8("<event id=\"e-1\"/>"), DeadLetterReason.MalformedJson),
        ["not JSON: single quotes"] = (() => Utf8("{'eventId':'e-1'}"), DeadLetterReason.MalformedJson),
        ["not JSON: unquoted names"] = (() => Utf8("{eventId:\"e-1\"}"), DeadLetterReason.MalformedJson),
        ["comment"] = (() => Utf8("{/* hi */\"eventId\":\"e-1\"}"), DeadLetterReason.MalformedJson),
        ["trailing comma"] = (() => Utf8("""{"eventId":"e-1",}"""), DeadLetterReason.MalformedJson),
        ["missing comma"] = (() => Utf8("""{"eventId":"e-1" "userId":"u-1"}"""), DeadLetterReason.MalformedJson),
        ["garbage after the object"] = (() => Utf8(ValidEvent + "x"), DeadLetterReason.MalformedJson),
        ["two objects"] = (() => Utf8(ValidEvent + "\n" + ValidEvent), DeadLetterReason.MalformedJson),
        ["invalid escape"] = (() => Utf8("""{"eventId":"e\x1"}"""), DeadLetterReason.MalformedJson),
        ["lone surrogate escape in a value"] = (() => Utf8("""{"eventId":"\uD800","eventType":"SEARCH"}"""), DeadLetterReason.MalformedJson),
        ["lone low surrogate escape in a name"] = (() => Utf8("""{"\uDC00x":"e","eventType":"SEARCH"}"""), DeadLetterReason.MalformedJson),
        ["reversed surrogate escapes"] = (() => Utf8("""{"eventId":"\uDC00\uD800"}"""), DeadLetterReason.MalformedJson),
        ["truncated: open brace"] = (() => Utf8("{"), DeadLetterReason.TruncatedJson),
        ["truncated: mid name"] = (() => Utf8("""{"eventId":"e-1","eventTy"""), DeadLetterReason.TruncatedJson),
        ["truncated: after colon"] = (() => Utf8("""{"eventId":"""), DeadLetterReason.TruncatedJson),
        ["truncated: mid string"] = (() => Utf8("""{"eventId":"e-"""), DeadLetterReason.TruncatedJson),
        ["truncated: mid number"] = (() => Utf8("""{"eventId":"e-1","timestamp":17172"""), DeadLetterReason.TruncatedJson),
        ["truncated: mid literal"] = (() => Utf8("""{"eventId":"e-1","flag":tr"""), DeadLetterReason.TruncatedJson),
        ["truncated: inner object unclosed"] = (() => Utf8("""{"eventId":"e-1","properties":{"a":"b"}"""), DeadLetterReason.TruncatedJson),
        ["truncated: half the valid event"] = (() => Utf8(ValidEvent[..(ValidEvent.Length / 2)]), DeadLetterReason.TruncatedJson),
        ["top level array"] = (() => Utf8($"[{ValidEvent}]"), DeadLetterReason.NotAnObject),
        ["top level string"] = (() => Utf8("\"LOGIN_SUCCESS\""), DeadLetterReason.NotAnObject),
        ["top level number"] = (() => Utf8("42"), DeadLetterReason.NotAnObject),
        ["top level null"] = (() => Utf8("null"), DeadLetterReason.NotAnObject),
        ["10,000 nested objects"] = (() => Nested(10_000, closed: true), DeadLetterReason.NestingTooDeep),
        ["10,000 nested objects, unclosed"] = (() => Nested(10_000, closed: false), DeadLetterReason.NestingTooDeep),
        ["17 levels, one past the limit"] = (() => Nested(16, closed: true), DeadLetterReason.NestingTooDeep),
        ["10,000 nested arrays in a field"] = (() => Utf8("{\"x\":" + new string('[', 10_000) + new string(']', 10_000) + "}"), DeadLetterReason.NestingTooDeep),
        ["duplicate eventId"] = (() => Utf8("""{"eventId":"e-1","eventId":"e-2","eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.DuplicateKey),
        ["duplicate via aliases userId and user_id"] = (() => Utf8(Event("\"userId\":\"u-1\",\"user_id\":\"u-2\"")), DeadLetterReason.DuplicateKey),
        ["duplicate via aliases type and eventType"] = (() => Utf8(Event("\"userId\":\"u-1\",\"type\":\"LOGOUT\"")), DeadLetterReason.DuplicateKey),
        ["duplicate via aliases ip and ip_address"] = (() => Utf8(Event("\"userId\":\"u-1\",\"ip\":\"1.2.3.4\",\"ip_address\":\"1.2.3.4\"")), DeadLetterReason.DuplicateKey),
        ["duplicate via aliases timestamp and occurredAt"] = (() => Utf8(Event("\"userId\":\"u-1\",\"occurredAt\":1717243140000")), DeadLetterReason.DuplicateKey),
        ["duplicate property key"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":{\"a\":\"1\",\"a\":\"2\"}")), DeadLetterReason.DuplicateKey),
        ["duplicate properties"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":{},\"properties\":{}")), DeadLetterReason.DuplicateKey),
        ["duplicate envelope id"] = (() => Utf8("""{"specversion":"1.0","id":"a","id":"b","data":{}}"""), DeadLetterReason.DuplicateKey),
        ["wrong type: eventId number"] = (() => Utf8("""{"eventId":42,"eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.WrongType),
        ["wrong type: eventId object"] = (() => Utf8("""{"eventId":{"id":"e-1"},"eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.WrongType),
        ["wrong type: eventType number"] = (() => Utf8("""{"eventId":"e-1","eventType":3,"timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.WrongType),
        ["wrong type: timestamp boolean"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":true,"userId":"u-1"}"""), DeadLetterReason.WrongType),
        ["wrong type: timestamp object"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":{"$date":1},"userId":"u-1"}"""), DeadLetterReason.WrongType),
        ["wrong type: userId object"] = (() => Utf8(Event("\"userId\":{\"id\":1}")), DeadLetterReason.WrongType),
        ["wrong type: userId array"] = (() => Utf8(Event("\"userId\":[\"u-1\"]")), DeadLetterReason.WrongType),
        ["wrong type: userId boolean"] = (() => Utf8(Event("\"userId\":false")), DeadLetterReason.WrongType),
        ["wrong type: username number"] = (() => Utf8(Event("\"userId\":\"u-1\",\"username\":7")), DeadLetterReason.WrongType),
        ["wrong type: ipAddress number"] = (() => Utf8(Event("\"userId\":\"u-1\",\"ipAddress\":3232235777")), DeadLetterReason.WrongType),
        ["wrong type: properties array"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":[\"a\"]")), DeadLetterReason.WrongType),
        ["wrong type: properties string"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":\"a=b\"")), DeadLetterReason.WrongType),
        ["missing eventId"] = (() => Utf8("""{"eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.MissingField),
        ["empty eventId"] = (() => Utf8("""{"eventId":"","eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.MissingField),
        ["null eventId"] = (() => Utf8("""{"eventId":null,"eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.MissingField),
        ["missing eventType"] = (() => Utf8("""{"eventId":"e-1","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.MissingField),
        ["missing timestamp"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","userId":"u-1"}"""), DeadLetterReason.MissingField),
        ["missing userId"] = (() => Utf8(Event("")), DeadLetterReason.MissingField),
        ["empty object"] = (() => Utf8("{}"), DeadLetterReason.MissingField),
        ["NaN literal"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp": NaN,"userId":"u-1"}"""), DeadLetterReason.InvalidNumber),
        ["Infinity literal"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":Infinity,"userId":"u-1"}"""), DeadLetterReason.InvalidNumber),
        ["-Infinity literal"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":-Infinity,"userId":"u-1"}"""), DeadLetterReason.InvalidNumber),
        ["NaN literal in an array"] = (() => Utf8("""{"eventId":"e-1","scores":[1, NaN]}"""), DeadLetterReason.InvalidNumber),
        ["NaN as timestamp string"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"NaN","userId":"u-1"}"""), DeadLetterReason.InvalidTimestamp),
        ["Infinity as timestamp string"] = (() => Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"Infinity","userId":"u-1"}"""), DeadLetterReason.InvalidTimestamp),
        ["timestamp 1e30"] = (() => Utf8(TimestampEvent("1e30")), DeadLetterReason.TimestampOutOfRange),
        ["timestamp 1e400"] = (() => Utf8(TimestampEvent("1e400")), DeadLetterReason.TimestampOutOfRange),
        ["negative epoch"] = (() => Utf8(TimestampEvent("-1717243140000")), DeadLetterReason.TimestampOutOfRange),
        ["negative fractional epoch"] = (() => Utf8(TimestampEvent("-0.5")), DeadLetterReason.TimestampOutOfRange),
        ["epoch microseconds"] = (() => Utf8(TimestampEvent("1717243140000000")), DeadLetterReason.TimestampOutOfRange),
        ["epoch beyond Int64"] = (() => Utf8(TimestampEvent("99999999999999999999999")), DeadLetterReason.TimestampOutOfRange),
        ["negative epoch as string"] = (() => Utf8(TimestampEvent("\"-5\"")), DeadLetterReason.TimestampOutOfRange),
        ["ISO before 1970"] = (() => Utf8(TimestampEvent("\"1969-12-31T23:59:59Z\"")), DeadLetterReason.TimestampOutOfRange),
        ["ISO 0001 pushed back by its offset"] = (() => Utf8(TimestampEvent("\"0001-01-01T00:00:00+01:00\"")), DeadLetterReason.TimestampOutOfRange),
        ["eventId 129 characters"] = (() => Utf8($$"""{"eventId":"{{new string('e', 129)}}","eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.FieldTooLong),
        ["eventId of 200 escapes"] = (() => Utf8($$"""{"eventId":"{{string.Concat(Enumerable.Repeat("\\u0041", 200))}}","eventType":"SEARCH","timestamp":1717243140000,"userId":"u-1"}"""), DeadLetterReason.FieldTooLong),
        ["numeric userId 129 digits"] = (() => Utf8(Event($"\"userId\":{new string('7', 129)}")), DeadLetterReason.FieldTooLong),
        ["eventType 129 characters"] = (() => Utf8(Event("\"userId\":\"u-1\"", new string('T', 129))), DeadLetterReason.FieldTooLong),
        ["userAgent 1 MB"] = (() => Utf8(Event($"\"userId\":\"u-1\",\"userAgent\":\"{new string('a', 1_000_000)}\"")), DeadLetterReason.FieldTooLong),
        ["property value 1025"] = (() => Utf8(Event($"\"userId\":\"u-1\",\"properties\":{{\"q\":\"{new string('q', 1025)}\"}}")), DeadLetterReason.FieldTooLong),
        ["property key 129"] = (() => Utf8(Event($"\"userId\":\"u-1\",\"properties\":{{\"{new string('k', 129)}\":\"v\"}}")), DeadLetterReason.FieldTooLong),
        ["IP '1' (inet_aton shorthand)"] = (() => Utf8(IpEvent("1")), DeadLetterReason.InvalidIpAddress),
        ["IP '1.2.3'"] = (() => Utf8(IpEvent("1.2.3")), DeadLetterReason.InvalidIpAddress),
        ["IP '1.2.3.4.5'"] = (() => Utf8(IpEvent("1.2.3.4.5")), DeadLetterReason.InvalidIpAddress),
        ["IP octet 256"] = (() => Utf8(IpEvent("256.1.1.1")), DeadLetterReason.InvalidIpAddress),
        ["IP leading zero (octal)"] = (() => Utf8(IpEvent("010.0.0.1")), DeadLetterReason.InvalidIpAddress),
        ["IP hex octet"] = (() => Utf8(IpEvent("0x7f.0.0.1")), DeadLetterReason.InvalidIpAddress),
        ["IP with port"] = (() => Utf8(IpEvent("1.2.3.4:80")), DeadLetterReason.InvalidIpAddress),
        ["IP trailing dot"] = (() => Utf8(IpEvent("1.2.3.4.")), DeadLetterReason.InvalidIpAddress),
        ["IP with space"] = (() => Utf8(IpEvent(" 1.2.3.4")), DeadLetterReason.InvalidIpAddress),
        ["IPv6 bracketed"] = (() => Utf8(IpEvent("[::1]")), DeadLetterReason.InvalidIpAddress),
        ["IPv6 bracketed with port"] = (() => Utf8(IpEvent("[::1]:443")), DeadLetterReason.InvalidIpAddress),
        ["IPv6 zone id"] = (() => Utf8(IpEvent("fe80::1%eth0")), DeadLetterReason.InvalidIpAddress),
        ["IPv6 two double colons"] = (() => Utf8(IpEvent("1::2::3")), DeadLetterReason.InvalidIpAddress),
        ["IPv6 non-hex"] = (() => Utf8(IpEvent("gggg::1")), DeadLetterReason.InvalidIpAddress),
        ["IPv6 short IPv4 tail"] = (() => Utf8(IpEvent("::ffff:1.2.3")), DeadLetterReason.InvalidIpAddress),
        ["IP host name"] = (() => Utf8(IpEvent("localhost")), DeadLetterReason.InvalidIpAddress),
        ["timestamp text 'yesterday'"] = (() => Utf8(TimestampEvent("\"yesterday\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp month 13"] = (() => Utf8(TimestampEvent("\"2024-13-01T00:00:00Z\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp 30 February"] = (() => Utf8(TimestampEvent("\"2024-02-30T00:00:00Z\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp hour 25"] = (() => Utf8(TimestampEvent("\"2024-06-01T25:00:00Z\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp date only"] = (() => Utf8(TimestampEvent("\"2024-06-01\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp bad offset"] = (() => Utf8(TimestampEvent("\"2024-06-01T11:59:00+2\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp RFC 1123"] = (() => Utf8(TimestampEvent("\"Sat, 01 Jun 2024 11:59:00 GMT\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp epoch in exponent text"] = (() => Utf8(TimestampEvent("\"1.7e12\"")), DeadLetterReason.InvalidTimestamp),
        ["timestamp without offset"] = (() => Utf8(TimestampEvent("\"2024-06-01T11:59:00\"")), DeadLetterReason.TimestampMissingOffset),
        ["timestamp without offset, with fraction"] = (() => Utf8(TimestampEvent("\"2024-06-01T11:59:00.123\"")), DeadLetterReason.TimestampMissingOffset),
        ["timestamp an hour in the future"] = (() => Utf8(TimestampEvent("\"2024-06-01T13:00:00Z\"")), DeadLetterReason.TimestampInFuture),
        ["epoch an hour in the future"] = (() => Utf8(TimestampEvent((NowMs + 3_600_000).ToString(System.Globalization.CultureInfo.InvariantCulture))), DeadLetterReason.TimestampInFuture),
        ["property value number"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":{\"amount\":12.5}")), DeadLetterReason.PropertyNotString),
        ["property value boolean"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":{\"mfa\":true}")), DeadLetterReason.PropertyNotString),
        ["property value object"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":{\"geo\":{\"lat\":\"1\"}}")), DeadLetterReason.PropertyNotString),
        ["property value array"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":{\"tags\":[\"a\"]}")), DeadLetterReason.PropertyNotString),
        ["65 properties"] = (() => Utf8(Event("\"userId\":\"u-1\",\"properties\":{" + string.Join(',', Enumerable.Range(0, 65).Select(i => $"\"k{i}\":\"v\"")) + "}")), DeadLetterReason.TooManyProperties),
        ["CloudEvents data_base64"] = (() => Utf8("""{"specversion":"1.0","id":"c-1","type":"LOGOUT","data_base64":"e30="}"""), DeadLetterReason.UnsupportedEnvelope),
        ["CloudEvents without data"] = (() => Utf8("""{"specversion":"1.0","id":"c-1","type":"LOGOUT"}"""), DeadLetterReason.UnsupportedEnvelope),
        ["CloudEvents 0.3"] = (() => Utf8("""{"specversion":"0.3","id":"c-1","type":"LOGOUT","data":{}}"""), DeadLetterReason.UnsupportedEnvelope),
        ["CloudEvents data is a string"] = (() => Utf8("""{"specversion":"1.0","id":"c-1","type":"LOGOUT","data":"{}"}"""), DeadLetterReason.UnsupportedEnvelope),
        ["CloudEvents XML content type"] = (() => Utf8("""{"specversion":"1.0","id":"c-1","type":"LOGOUT","datacontenttype":"text/xml","data":{}}"""), DeadLetterReason.UnsupportedEnvelope),
        ["CloudEvents missing everything in data"] = (() => Utf8("""{"specversion":"1.0","data":{"userId":"u-1"}}"""), DeadLetterReason.MissingField),
    };

    public static TheoryData<string> CorpusCases => [.. s_corpus.Keys];

    private static string TimestampEvent(string timestamp) =>
        $$"""{"eventId":"e-1","eventType":"SEARCH","timestamp":{{timestamp}},"userId":"u-1"}""";

    private static string IpEvent(string ip) => Event($"\"userId\":\"u-1\",\"ipAddress\":\"{ip}\"");

    [Theory]
    [MemberData(nameof(CorpusCases))]
    public void TryDecode_BadInput_DeadLetteredWithItsOwnReason(string name)
    {
        var (message, reason) = s_corpus[name];
        var decoder = NewEventDecoder();

        bool ok = decoder.TryDecode(message(), out var evt, out var error);

        Assert.False(ok, $"{name}: decoded but should be {reason}");
        Assert.Null(evt);
        Assert.True(reason == error.Reason, $"{name}: expected {reason}, got {error.Reason}: {error.Detail}");
        Assert.False(string.IsNullOrWhiteSpace(error.Detail));
    }

    [Fact]
    public void TryDecode_Corpus_CoversEveryReasonButNoneAndChannel()
    {
        var covered = new HashSet<DeadLetterReason>();
        foreach (var (_, reason) in s_corpus.Values)
        {
            covered.Add(reason);
        }

        foreach (var reason in Enum.GetValues<DeadLetterReason>())
        {
            if (reason is not (DeadLetterReason.None or DeadLetterReason.InvalidChannel))
            {
                Assert.Contains(reason, covered);
            }
        }
    }

    [Theory]
    [InlineData("eventId", """{"eventId":42}""")]
    [InlineData("userId", """{"userId":{}}""")]
    [InlineData("properties.amount", """{"properties":{"amount":1}}""")]
    [InlineData("eventType", """{"eventId":"e-1","timestamp":1717243140000,"userId":"u-1"}""")]
    [InlineData("timestamp", """{"eventId":"e-1","eventType":"SEARCH","userId":"u-1"}""")]
    [InlineData("ipAddress", """{"ip":"1.2.3"}""")]
    [InlineData("username", """{"username":"x","user_id":1,"username":"y"}""")]
    public void TryDecode_FieldError_DetailNamesTheField(string field, string json)
    {
        Assert.False(NewEventDecoder().TryDecode(Utf8(json), out _, out var error));

        Assert.Contains(field, error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_RandomBytes_NeverThrows()
    {
        var decoder = NewEventDecoder();
        var random = new Random(20240601);
        for (int i = 0; i < 3000; i++)
        {
            var message = new byte[random.Next(0, 256)];
            random.NextBytes(message);
            AssertConsistent(decoder, message);
        }
    }

    [Fact]
    public void TryDecode_RandomJsonAlphabet_NeverThrows()
    {
        // Random bytes are mostly invalid UTF-8 and die early; these reach deep into the reader and the field code.
        var alphabet = Utf8("{}[]\":,.-+0123456789eEtrufalsnNIy \\u0041dD8C\"ipuserIdtimestampeventTypeproperties");
        var decoder = NewEventDecoder();
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            var message = new byte[random.Next(1, 128)];
            message[0] = (byte)'{';
            for (int k = 1; k < message.Length; k++)
            {
                message[k] = alphabet[random.Next(alphabet.Length)];
            }

            AssertConsistent(decoder, message);
        }
    }

    [Fact]
    public void TryDecode_MutationsOfValidMessages_NeverThrow()
    {
        var seeds = new[]
        {
            Utf8(ValidEvent),
            Utf8("""{"specversion":"1.0","id":"c-1","type":"com.example.user.LOGIN_FAILED","time":"2024-06-01T11:58:00Z","data":{"username":"m","ip":"2001:db8::1","properties":{"reason":"bad password"}}}"""),
            Utf8("""{"event_id":"e\u002D2","type":"login","occurredAt":1717243140.5,"user_id":12345,"ip_address":"::ffff:10.0.0.1"}"""),
        };
        var decoder = NewEventDecoder();
        var random = new Random(1234);
        int decoded = 0;
        for (int i = 0; i < 6000; i++)
        {
            var message = Mutate(seeds[i % seeds.Length], random);
            if (AssertConsistent(decoder, message))
            {
                decoded++;
            }
        }

        // Sanity: the mutations are small enough that some still decode, so the field code is exercised too.
        Assert.InRange(decoded, 1, 5999);
    }

    [Fact]
    public void TryDecode_EveryPrefixOfValidMessage_NeverThrowsAndIsTruncatedOrShort()
    {
        var decoder = NewEventDecoder();
        var message = Utf8(ValidEvent);
        for (int length = 1; length < message.Length; length++)
        {
            Assert.False(decoder.TryDecode(message.AsSpan(0, length), out _, out var error));
            Assert.Equal(DeadLetterReason.TruncatedJson, error.Reason);
        }
    }

    private static ReadOnlySpan<byte> Structural => "{}[]\":,\\0-.eNu"u8;

    internal static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = new List<byte>(seed);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes[at] = Structural[random.Next(Structural.Length)];
                    break;
                case 2:
                    bytes.Insert(at, (byte)random.Next(32, 127));
                    break;
                case 3:
                    bytes.RemoveAt(at);
                    break;
                case 4:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    int length = Math.Min(random.Next(1, 16), bytes.Count - at);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
            }
        }

        return [.. bytes];
    }

    private static bool AssertConsistent(EventDecoder decoder, byte[] message)
    {
        bool ok = decoder.TryDecode(message, out var evt, out var error);
        if (ok)
        {
            Assert.NotNull(evt);
            Assert.Equal(DeadLetterReason.None, error.Reason);
        }
        else
        {
            Assert.Null(evt);
            Assert.NotEqual(DeadLetterReason.None, error.Reason);
            Assert.False(string.IsNullOrEmpty(error.Detail));
        }

        return ok;
    }
}
