using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Vigil.Core.Events;

namespace Vigil.Simulator.Internal;

/// <summary>Writes the DESIGN §2 JSON of events and notifications through one reused buffer and writer.</summary>
internal sealed class EventEncoder
{
    // User agents carry '+' and parentheses; the default encoder would escape them, which is valid but unreadable.
    private static readonly JsonWriterOptions s_options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    public EventEncoder() => _writer = new Utf8JsonWriter(_buffer, s_options);

    public byte[] EncodeEvent(Pending p, string eventId)
    {
        var w = Begin();
        w.WriteString("eventId"u8, eventId);
        w.WriteString("eventType"u8, p.Type.ToWireName());
        WriteTimestamp(w, p.Ts);
        if (p.UserId is not null)
        {
            w.WriteString("userId"u8, p.UserId);
        }

        if (p.Username is not null)
        {
            w.WriteString("username"u8, p.Username);
        }

        if (p.SessionId is not null)
        {
            w.WriteString("sessionId"u8, p.SessionId);
        }

        if (p.Ip is not null)
        {
            w.WriteString("ipAddress"u8, p.Ip);
        }

        if (p.UserAgent is not null)
        {
            w.WriteString("userAgent"u8, p.UserAgent);
        }

        if (p.Properties is { Length: > 0 } props)
        {
            w.WriteStartObject("properties"u8);
            foreach (var (k, v) in props)
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
        }

        return End(w);
    }

    public byte[] EncodeNotification(Pending p, string notificationId)
    {
        var w = Begin();
        w.WriteString("notificationId"u8, notificationId);
        w.WriteString("userId"u8, p.UserId);
        w.WriteString("channel"u8, p.Channel switch
        {
            NotificationChannel.Email => "EMAIL",
            NotificationChannel.Sms => "SMS",
            _ => "PUSH",
        });
        w.WriteString("kind"u8, p.NotificationKind);
        WriteTimestamp(w, p.Ts);
        return End(w);
    }

    /// <summary>ISO-8601 UTC with millisecond precision and a 'Z', e.g. 2026-01-05T00:00:10.250Z.</summary>
    public static string FormatTimestamp(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteTimestamp(Utf8JsonWriter w, long ms)
    {
        Span<char> chars = stackalloc char[32];
        DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime
            .TryFormat(chars, out var n, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        w.WriteString("timestamp"u8, chars[..n]);
    }

    private Utf8JsonWriter Begin()
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        return _writer;
    }

    private byte[] End(Utf8JsonWriter w)
    {
        w.WriteEndObject();
        w.Flush();
        return _buffer.WrittenSpan.ToArray();
    }
}
