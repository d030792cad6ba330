using System.Text;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Events;

/// <summary>The shared clock and builders for the decoder tests.</summary>
internal static class DecoderTestData
{
    /// <summary>The wall clock of every decoder test: 2024-06-01T12:00:00Z.</summary>
    public static readonly DateTimeOffset Now = new(2024, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static long NowMs => Now.ToUnixTimeMilliseconds();

    /// <summary>A complete, valid event one minute before <see cref="Now"/>.</summary>
    public const string ValidEvent =
        """{"eventId":"e-1","eventType":"LOGIN_SUCCESS","timestamp":"2024-06-01T11:59:00Z","userId":"u-1","username":"alice","sessionId":"s-1","ipAddress":"203.0.113.7","userAgent":"Mozilla/5.0","properties":{"method":"password"}}""";

    /// <summary>A complete, valid notification one minute before <see cref="Now"/>.</summary>
    public const string ValidNotification =
        """{"notificationId":"n-1","userId":"u-1","channel":"EMAIL","kind":"PASSWORD_RESET","timestamp":"2024-06-01T11:59:00Z"}""";

    public static EventDecoder NewEventDecoder(EventDecoderOptions? options = null) =>
        new(options ?? new EventDecoderOptions(), new FixedTimeProvider(Now));

    public static NotificationDecoder NewNotificationDecoder(EventDecoderOptions? options = null) =>
        new(options ?? new EventDecoderOptions(), new FixedTimeProvider(Now));

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>An event with the given JSON members after eventId, eventType and timestamp (which <paramref name="members"/> may not repeat).</summary>
    public static string Event(string members, string type = "LOGIN_SUCCESS") =>
        $$"""{"eventId":"e-1","eventType":"{{type}}","timestamp":1717243140000{{(members.Length == 0 ? "" : "," + members)}}}""";

    /// <summary><paramref name="levels"/> nested objects, closed or not.</summary>
    public static byte[] Nested(int levels, bool closed)
    {
        var text = new StringBuilder(levels * 6);
        text.Append("""{"eventId":"e-1","x":""");
        for (int i = 0; i < levels; i++)
        {
            text.Append("""{"a":""");
        }

        text.Append('1');
        if (closed)
        {
            text.Append('}', levels).Append('}');
        }

        return Utf8(text.ToString());
    }
}
