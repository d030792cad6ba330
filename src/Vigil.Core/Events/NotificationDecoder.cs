using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Vigil.Core.Events;

/// <summary>
/// Decodes and validates <c>notifications</c> messages, { notificationId, userId, channel, kind, timestamp }, with the
/// same rules, aliases and dead-letter reasons as <see cref="EventDecoder"/>. Never throws for bad input.
/// </summary>
/// <remarks>Thread-safe: a decoder holds only its options.</remarks>
public sealed class NotificationDecoder(EventDecoderOptions options, TimeProvider time)
{
    /// <summary>Longest <c>kind</c>.</summary>
    public const int MaxKindLength = 128;

    private readonly EventDecoderOptions _options = Validated(options);
    private readonly TimeProvider _time = time ?? throw new ArgumentNullException(nameof(time));
    private readonly JsonReaderOptions _readerOptions = JsonDecoding.ReaderOptions(options.MaxDepth);

    /// <summary>Decodes one message. Never throws for any input bytes.</summary>
    /// <param name="utf8">The raw message value.</param>
    /// <param name="n">The notification, when the message is valid.</param>
    /// <param name="error">Why the message is not valid, when it is not; the message then belongs in the dead-letter topic.</param>
    public bool TryDecode(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out Notification? n, out DecodeError error)
    {
        n = null;
        if (!JsonDecoding.TryScan(utf8, _options.MaxMessageBytes, _options.MaxDepth, _readerOptions,
                out int start, out bool isEnvelope, out error))
        {
            return false;
        }

        var reader = new Utf8JsonReader(utf8[start..], _readerOptions);
        reader.Read();
        var fields = default(NotificationFields);
        if (isEnvelope)
        {
            if (!CloudEventEnvelope.TryRead(ref reader, ref fields, out var envelope, out error))
            {
                return false;
            }

            fields.ApplyEnvelope(in envelope);
        }
        else if (!JsonDecoding.TryReadObject(ref reader, ref fields, out error))
        {
            return false;
        }

        if (fields.NotificationId is null)
        {
            error = JsonDecoding.Missing("notificationId");
            return false;
        }

        if (fields.UserId is null)
        {
            error = JsonDecoding.Missing("userId");
            return false;
        }

        if (!fields.HasChannel)
        {
            error = JsonDecoding.Missing("channel");
            return false;
        }

        if (fields.Kind is null)
        {
            error = JsonDecoding.Missing("kind");
            return false;
        }

        if (!fields.HasTimestamp)
        {
            error = JsonDecoding.Missing("timestamp");
            return false;
        }

        if (!JsonDecoding.TryCheckNotInFuture(fields.TimestampMs, _time, _options.MaxFutureSkew, out error))
        {
            return false;
        }

        n = new Notification
        {
            NotificationId = fields.NotificationId,
            UserId = fields.UserId,
            Channel = fields.Channel,
            Kind = fields.Kind,
            TimestampMs = fields.TimestampMs,
        };
        return true;
    }

    private static EventDecoderOptions Validated(EventDecoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    /// <summary>The fields of one notification object, as read so far.</summary>
    private struct NotificationFields : IFieldReader
    {
        private const int IdBit = 0;
        private const int UserIdBit = 1;
        private const int ChannelBit = 2;
        private const int KindBit = 3;
        private const int TimestampBit = 4;

        private const int MaxChannelBytes = 64;

        private uint _seen;

        public string? NotificationId;
        public string? UserId;
        public NotificationChannel Channel;
        public bool HasChannel;
        public string? Kind;
        public long TimestampMs;
        public bool HasTimestamp;

        public bool TryReadProperty(ref Utf8JsonReader reader, out DecodeError error)
        {
            if (reader.ValueTextEquals("notificationId"u8) || reader.ValueTextEquals("notification_id"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, IdBit, "notificationId", out error)
                    && JsonDecoding.TryReadString(ref reader, "notificationId", EventDecoder.MaxIdLength, out NotificationId, out error);
            }

            if (reader.ValueTextEquals("userId"u8) || reader.ValueTextEquals("user_id"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, UserIdBit, "userId", out error)
                    && JsonDecoding.TryReadStringOrNumber(ref reader, "userId", EventDecoder.MaxIdLength, out UserId, out error);
            }

            if (reader.ValueTextEquals("channel"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, ChannelBit, "channel", out error) && TryReadChannel(ref reader, out error);
            }

            if (reader.ValueTextEquals("kind"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, KindBit, "kind", out error)
                    && JsonDecoding.TryReadString(ref reader, "kind", MaxKindLength, out Kind, out error);
            }

            if (reader.ValueTextEquals("timestamp"u8) || reader.ValueTextEquals("occurredAt"u8))
            {
                return JsonDecoding.MarkSeen(ref _seen, TimestampBit, "timestamp", out error)
                    && JsonDecoding.TryReadTimestamp(ref reader, "timestamp", out TimestampMs, out HasTimestamp, out error);
            }

            reader.Skip();
            error = default;
            return true;
        }

        /// <summary>Fills what the data object lacked from the envelope: id, time, and the kind from the type's last segment.</summary>
        public void ApplyEnvelope(in CloudEventEnvelope envelope)
        {
            NotificationId ??= envelope.Id;
            if (Kind is null && envelope.Type is not null)
            {
                var segment = JsonDecoding.LastSegment(envelope.Type);
                Kind = segment.IsEmpty ? null : segment.ToString();
            }

            if (!HasTimestamp && envelope.HasTime)
            {
                TimestampMs = envelope.TimeMs;
                HasTimestamp = true;
            }
        }

        private bool TryReadChannel(ref Utf8JsonReader reader, out DecodeError error)
        {
            reader.Read();
            error = default;
            switch (reader.TokenType)
            {
                case JsonTokenType.Null:
                    return true;
                case JsonTokenType.String:
                    if (reader.ValueSpan.Length > MaxChannelBytes)
                    {
                        error = new(DeadLetterReason.InvalidChannel, "channel is too long to be EMAIL, SMS or PUSH");
                        return false;
                    }

                    Span<byte> scratch = stackalloc byte[MaxChannelBytes];
                    var text = reader.ValueIsEscaped ? scratch[..reader.CopyString(scratch)] : reader.ValueSpan;
                    if (text.IsEmpty)
                    {
                        return true;
                    }

                    if (System.Text.Ascii.EqualsIgnoreCase(text, "EMAIL"u8))
                    {
                        Channel = NotificationChannel.Email;
                    }
                    else if (System.Text.Ascii.EqualsIgnoreCase(text, "SMS"u8))
                    {
                        Channel = NotificationChannel.Sms;
                    }
                    else if (System.Text.Ascii.EqualsIgnoreCase(text, "PUSH"u8))
                    {
                        Channel = NotificationChannel.Push;
                    }
                    else
                    {
                        error = new(DeadLetterReason.InvalidChannel,
                            $"channel '{Encoding.UTF8.GetString(text)}' is not EMAIL, SMS or PUSH");
                        return false;
                    }

                    HasChannel = true;
                    return true;
                default:
                    error = JsonDecoding.WrongType("channel", "a string", reader.TokenType);
                    return false;
            }
        }
    }
}
