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
        Assert.InRange(FastDecodes, decoded / 2, decoded);
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
    public void TryDecode_PropertyWhoseValuesNeverRepeat_StopsGoingThroughTheCache()
    {
        var decoder = NewEventDecoder();
        string Message(int i) => $$$"""{"eventId":"e-{{{i}}}","eventType":"PURCHASE","timestamp":"2024-06-01T11:59:00Z","userId":"u-4","properties":{"orderId":"o-{{{i}}}","currency":"EUR"}}""";
        UserEvent? last = null;
        for (int i = 0; i < 2000; i++)
        {
            Assert.True(decoder.TryDecode(Utf8(Message(i)), out last, out _));
            Assert.Equal($"o-{i}", last.Properties!["orderId"]);
        }

        // A repeated order id now comes as new text (one value in sixteen is still looked up, to measure the key).
        var again = Enumerable.Range(0, 4).Select(n => decoder.TryDecode(Utf8(Message(1999)), out var e, out _) ? e : null).ToArray();
        Assert.All(again, e => Assert.Equal("o-1999", e!.Properties!["orderId"]));
        Assert.Contains(again, e => !ReferenceEquals(e!.Properties!["orderId"], last!.Properties!["orderId"]));
        // The currency, one value throughout, still comes from the cache.
        Assert.All(again, e => Assert.Same(last!.Properties!["currency"], e!.Properties!["currency"]));
    }

    /// <summary>serve's partitions each have a decoder; with ShareStringCache they use one value cache, so a value one
    /// decoder materialised is the instance another gets. Without it each has its own.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TryDecode_TwoDecodersOfOneOptions_ShareTheCacheOnlyWhenAsked(bool share)
    {
        var options = new EventDecoderOptions { ShareStringCache = share };
        var one = NewEventDecoder(options);
        var other = NewEventDecoder(options);
        Assert.True(one.TryDecode(Utf8(s_valid[1]), out var first, out _));
        Assert.True(other.TryDecode(Utf8(s_valid[1]), out var second, out _));

        Assert.Equal(first.UserId, second.UserId);
        Assert.Equal(share, ReferenceEquals(first.UserId, second.UserId));
        Assert.Equal(share, ReferenceEquals(first.UserAgent, second.UserAgent));
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

    private const string Head = "\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":\"2024-06-01T11:59:00Z\"";

    /// <summary>Messages at the edges of what the fast path's scanner takes; each is decoded both ways and compared.</summary>
    public static TheoryData<string> ScannerEdges => new()
    {
        // White space wherever JSON allows it, and where it does not.
        "{ \t\r\n" + Head.Replace(",", " ,\n ", StringComparison.Ordinal).Replace(":", "\t:\r", StringComparison.Ordinal) + " , \"userId\" : \"u-1\" \n}\r\n",
        "\n\n{" + Head + ",\"userId\":\"u-1\"}\t",
        "{" + Head + ",\"userId\":\"u-1\"}\u000B",
        "{" + Head + ",\"userId\":\"u-1\"}\u00A0",
        "\u00A0{" + Head + ",\"userId\":\"u-1\"}",
        // Separators: trailing, doubled, missing, misplaced.
        "{" + Head + ",\"userId\":\"u-1\",}",
        "{," + Head + ",\"userId\":\"u-1\"}",
        "{" + Head + ",,\"userId\":\"u-1\"}",
        "{" + Head + ",\"userId\"::\"u-1\"}",
        "{" + Head + ",\"userId\" \"u-1\"}",
        "{" + Head + ",\"userId\":\"u-1\" \"x\":1}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"1\",}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{,\"a\":\"1\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"1\" \"b\":\"2\"}}",
        "{" + Head + ",\"userId\":\"u-1\"}}",
        "{" + Head + ",\"userId\":\"u-1\"",
        "{" + Head + ",\"userId\":\"u-1",
        "{" + Head + ",\"userId\":\"u-1\"}{}",
        "{" + Head + ",\"userId\":\"u-1\"} 1",
        // Numbers, as a numeric user id, as an unknown value and as a timestamp.
        "{" + Head + ",\"userId\":0}",
        "{" + Head + ",\"userId\":-0}",
        "{" + Head + ",\"userId\":007}",
        "{" + Head + ",\"userId\":12.50}",
        "{" + Head + ",\"userId\":1e5}",
        "{" + Head + ",\"userId\":1E+05}",
        "{" + Head + ",\"userId\":-1.5e-3}",
        "{" + Head + ",\"userId\":1.}",
        "{" + Head + ",\"userId\":.5}",
        "{" + Head + ",\"userId\":+1}",
        "{" + Head + ",\"userId\":-}",
        "{" + Head + ",\"userId\":1e}",
        "{" + Head + ",\"userId\":1e+}",
        "{" + Head + ",\"userId\":0x10}",
        "{" + Head + ",\"userId\":1,\"n\":-12.5e+3}",
        "{" + Head + ",\"userId\":1,\"n\":01}",
        "{" + Head + ",\"userId\":1,\"n\":-}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":1717243140000,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":1717243140,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":1717243140.5,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":1.71724314e12,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":-0,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":0,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":01717243140000,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":999999999999999999,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":9999999999999999999,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":\"1717243140000\",\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":\"\",\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":null,\"occurredAt\":1717243140000,\"userId\":\"u-1\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":\"2024-06-01T11:59:00\\u005A\",\"userId\":\"u-1\"}",
        // Literals.
        "{" + Head + ",\"userId\":\"u-1\",\"flag\":true,\"off\":false,\"none\":null}",
        "{" + Head + ",\"userId\":\"u-1\",\"flag\":tru}",
        "{" + Head + ",\"userId\":\"u-1\",\"flag\":truex}",
        "{" + Head + ",\"userId\":\"u-1\",\"flag\":True}",
        "{" + Head + ",\"userId\":\"u-1\",\"none\":nul}",
        "{" + Head + ",\"userId\":\"u-1\",\"none\":nulll}",
        "{" + Head + ",\"userId\":null,\"username\":\"ghost\"}",
        "{" + Head + ",\"userId\":true}",
        // Strings: escapes of every kind, decoded or refused.
        "{" + Head + ",\"userId\":\"u-\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
        "{" + Head + ",\"userId\":\"u-\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"}",
        "{" + Head + ",\"userId\":\"\\u0000\"}",
        "{" + Head + ",\"userId\":\"\\u0075-1\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"userAgent\":\"Mozilla\\/5.0 (X11; Linux x86_64)\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"q\\u0075ery\":\"caf\\u00e9\",\"k\":\"\\\"quoted\\\"\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"q\":\"a\",\"\\u0071\":\"b\"}}",
        "{" + Head + ",\"userId\":\"u-\\x\"}",
        "{" + Head + ",\"userId\":\"u-\\u12\"}",
        "{" + Head + ",\"userId\":\"u-\\u12G4\"}",
        "{" + Head + ",\"userId\":\"u-\\ud800\"}",
        "{" + Head + ",\"userId\":\"u-\\udc00\"}",
        "{" + Head + ",\"userId\":\"u-\\ud800\\u0041\"}",
        "{" + Head + ",\"userId\":\"u-\\ud800\\\\\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"x\":\"\\ud800\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"x\":\"\\udc00\\ud800\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"x\":\"tab\there\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"x\":\"nul\u0000here\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"x\":\"del\u007Fhere\"}",
        "{" + Head + ",\"userId\":\"u-1\\",
        "{" + Head + ",\"userId\":\"u-1\\\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"userAgent\":\"" + string.Concat(Enumerable.Repeat("\\u0041", 200)) + "\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"userAgent\":\"" + string.Concat(Enumerable.Repeat("\\/", 600)) + "\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"ipAddress\":\"1.2.3.\\u0034\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"eventTyp\\u0065\":\"LOGOUT\"}",
        "{\"eventId\":\"e-1\",\"eventType\":\"SEA\\u0052CH\",\"timestamp\":1717243140000,\"userId\":\"u-1\"}",
        // Names: escaped ones may spell a field, or specversion.
        "{\"event\\u0049d\":\"e-1\",\"eventType\":\"SEARCH\",\"timestamp\":1717243140000,\"userId\":\"u-1\"}",
        "{\"spec\\u0076ersion\":\"1.0\",\"id\":\"c-1\",\"type\":\"LOGOUT\",\"time\":\"2024-06-01T11:58:00Z\",\"data\":{\"userId\":\"u-1\"}}",
        "{\"specversion\":\"1.0\",\"id\":\"c-1\",\"type\":\"LOGOUT\",\"time\":\"2024-06-01T11:58:00Z\",\"data\":{\"userId\":\"u-1\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"spécial\":\"ü\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"\":\"\"}",
        // Non-ASCII values, at and around the length limits.
        "{" + Head + ",\"userId\":\"ü-1\",\"username\":\"Zoë Ünal\",\"properties\":{\"città\":\"Zürich\"}}",
        "{" + Head + ",\"userId\":\"" + new string('u', 128) + "\"}",
        "{" + Head + ",\"userId\":\"" + new string('u', 129) + "\"}",
        "{" + Head + ",\"userId\":\"" + new string('é', 100) + "\"}",
        "{" + Head + ",\"userId\":\"" + new string('é', 129) + "\"}",
        "{" + Head + ",\"userId\":\"" + string.Concat(Enumerable.Repeat("\\u00e9", 128)) + "\"}",
        "{" + Head + ",\"userId\":\"" + string.Concat(Enumerable.Repeat("\\u00e9", 129)) + "\"}",
        "{" + Head + ",\"userId\":" + new string('7', 128) + "}",
        // Properties: empty, null, nested, duplicates (null values do not count), three or more entries.
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{}}",
        // Values looked up after the scan (plain ones) next to values decoded at once (escaped, empty, a third entry).
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"1\",\"b\":\"caf\\u00e9\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"\",\"b\":\"x\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"\\u0078\",\"b\":\"y\",\"c\":\"z\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"x\",\"b\":null,\"c\":\"z\"},\"sessionId\":\"s-1\"}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{ }}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":null}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":null}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":null,\"a\":\"x\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"x\",\"a\":null}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"x\",\"b\":\"y\",\"a\":\"z\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"c\":\"5\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"\",\"\":\"5\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":{}}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":[]}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":1}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{\"a\":false}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{a:\"1\"}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":[]}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{" + string.Join(',', Enumerable.Range(0, 64).Select(i => $"\"k{i}\":\"v{i}\"")) + "}}",
        "{" + Head + ",\"userId\":\"u-1\",\"properties\":{" + string.Join(',', Enumerable.Range(0, 64).Select(i => $"\"k{i}\":\"v{i}\"")) + ",\"k9\":null}}",
        // Unknown fields holding nested values: the careful path reads them.
        "{" + Head + ",\"userId\":\"u-1\",\"extra\":{\"a\":[1,{\"b\":null}]}}",
        "{" + Head + ",\"userId\":\"u-1\",\"extra\":[]}",
        "{" + Head + ",\"userId\":\"u-1\",\"extra\":[1,]}",
    };

    [Theory]
    [MemberData(nameof(ScannerEdges))]
    public void TryDecode_ScannerEdgeCase_FastPathMatchesTwoPass(string json)
    {
        AssertSame(Utf8(json));
    }

    [Fact]
    public void TryDecode_RawBytesAroundStrings_FastPathMatchesTwoPass()
    {
        // Every byte value placed inside a string value and between tokens: control characters, DEL, lone UTF-8
        // continuation and lead bytes, and bytes only valid in pairs.
        for (int b = 0; b < 256; b++)
        {
            var prefix = Utf8("{" + Head + ",\"userId\":\"u-");
            AssertSame([.. prefix, (byte)b, .. Utf8("\"}")], $"byte {b:X2} in a value");
            AssertSame([.. prefix, .. Utf8("1\""), (byte)b, .. Utf8("}")], $"byte {b:X2} after a value");
            AssertSame([.. prefix, (byte)0xC3, (byte)b, .. Utf8("\"}")], $"byte C3 {b:X2} in a value");
        }
    }

    [Fact]
    public void TryDecode_RandomFlatObjects_FastPathMatchesTwoPass()
    {
        // Messages built from the pieces the scanner handles, joined with random white space, escapes and small slips.
        string[] required = ["\"eventId\":\"e-1\"", "\"eventType\":\"SEARCH\"", "\"timestamp\":\"2024-06-01T11:59:00Z\"", "\"userId\":\"u-1\""];
        string[] names = ["username", "sessionId", "ipAddress", "userAgent", "properties", "x", "ü", "type", "ip"];
        string[] values = ["\"e-1\"", "\"SEARCH\"", "1717243140000", "\"u-1\"", "42", "-0.5e3", "true", "false", "null",
            "\"203.0.113.7\"", "\"::1\"", "\"\"", "\"a\\u00e9\\n\"", "\"\\ud83d\\ude00\"", "{\"k\":\"v\",\"q\":null}", "{}", "[1]", "\"ü\"", "\"\\/x\""];
        string[] spaces = ["", "", "", " ", "\n", "\t", "\r\n "];
        var random = new Random(2026);
        int decoded = 0;
        for (int i = 0; i < 3000; i++)
        {
            var members = new List<string>(required);
            int extras = random.Next(0, 5);
            for (int m = 0; m < extras; m++)
            {
                members.Add($"\"{names[random.Next(names.Length)]}\"{spaces[random.Next(spaces.Length)]}:{values[random.Next(values.Length)]}");
            }

            if (random.Next(4) == 0)
            {
                members.RemoveAt(random.Next(members.Count));
            }

            var text = new System.Text.StringBuilder("{");
            foreach (var member in members.OrderBy(_ => random.Next()))
            {
                if (text.Length > 1)
                {
                    text.Append(random.Next(100) == 0 ? "" : ",");
                }

                var slipped = random.Next(100) == 0 ? member.Replace(":", "", StringComparison.Ordinal) : member;
                text.Append(spaces[random.Next(spaces.Length)]).Append(slipped).Append(spaces[random.Next(spaces.Length)]);
            }

            text.Append(random.Next(100) == 0 ? ",}" : "}");
            if (AssertSame(Utf8(text.ToString())))
            {
                decoded++;
            }
        }

        // Fields go missing, repeat or hold the wrong type, so only some messages decode; both outcomes must be exercised,
        // and most of the decoded ones (all but those with nested or escaped oddities) by the fast path.
        Assert.InRange(decoded, 300, 2999);
        Assert.InRange(FastDecodes, decoded / 2, decoded);
    }

    [Fact]
    public void TryDecode_TimestampsAroundTheRememberedHour_FastPathMatchesTwoPass()
    {
        // The decoder remembers the hour of the latest "YYYY-MM-DDThh:mm:ss.fffZ" time and reads only the rest of the
        // next one in that hour: every time here, valid or not (a 60th second or minute, a letter, another hour, day,
        // month or year sharing most of the bytes), must come out as the full parser reads it.
        var random = new Random(7);
        string[] heads = ["2024-06-01T11", "2024-06-01T12", "2024-06-01T01", "2024-05-01T11", "2023-06-01T11", "2024-06-11T11", "2024-02-29T23", "2023-02-29T23"];
        int decoded = 0;
        for (int i = 0; i < 4000; i++)
        {
            var head = heads[random.Next(4) == 0 ? random.Next(heads.Length) : 0];
            var rest = $"{random.Next(60):00}:{random.Next(60):00}.{random.Next(1000):000}".ToCharArray();
            if (random.Next(8) == 0)
            {
                rest[random.Next(rest.Length)] = "0123456789:.6Zx"[random.Next(15)];
            }

            var end = random.Next(16) == 0 ? "z" : "Z";
            var text = $$"""{"eventId":"e-{{i}}","eventType":"SEARCH","timestamp":"{{head}}:{{new string(rest)}}{{end}}","userId":"u-1"}""";
            if (AssertSame(Utf8(text)))
            {
                decoded++;
            }
        }

        Assert.InRange(decoded, 2000, 3999);
        Assert.InRange(FastDecodes, decoded * 9 / 10, decoded);
    }

    [Theory]
    [InlineData("2024-06-01T11:59:60.000Z")]
    [InlineData("2024-06-01T11:60:00.000Z")]
    [InlineData("2024-06-01T11:5a:00.000Z")]
    [InlineData("2024-06-01T11:59:00.00aZ")]
    [InlineData("2024-06-01T11:59:00.000+")]
    public void TryDecode_InvalidTimeInTheRememberedHour_IsTheFullParsersDeadLetter(string timestamp)
    {
        // The hour is remembered from a valid event first; the invalid rest must still be refused as the two-pass path refuses it.
        Assert.True(AssertSame(Utf8("""{"eventId":"e-1","eventType":"SEARCH","timestamp":"2024-06-01T11:58:59.999Z","userId":"u-1"}""")));
        Assert.False(AssertSame(Utf8($$"""{"eventId":"e-2","eventType":"SEARCH","timestamp":"{{timestamp}}","userId":"u-1"}""")));
        Assert.True(AssertSame(Utf8("""{"eventId":"e-3","eventType":"SEARCH","timestamp":"2024-06-01T11:59:59.999Z","userId":"u-1"}""")));
    }

    // One pair per test (xunit makes an instance per test): the fast decoder's value cache then also serves hits
    // across messages, as in a stream.
    private readonly EventDecoder _fast = NewEventDecoder();
    private readonly EventDecoder _slow = new(new EventDecoderOptions(), new FixedTimeProvider(Now)) { FastPathEnabled = false };

    /// <summary>Messages the fast path decoded on its own (the rest it handed to the two-pass path).</summary>
    private int FastDecodes { get; set; }

    private bool AssertSame(byte[] message, string? name = null)
    {
        var fast = _fast;
        var slow = _slow;
        if (_fast.TryDecodeFastOnly(message, out _))
        {
            FastDecodes++;
        }

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
