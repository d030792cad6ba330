using System.Buffers.Text;

namespace Vigil.Core.Events;

/// <summary>The outcome of parsing a timestamp.</summary>
internal enum TimestampStatus
{
    Ok,
    Invalid,
    MissingOffset,
    OutOfRange,
}

/// <summary>Parses timestamp text over UTF-8 bytes, without allocating.</summary>
/// <remarks>
/// A hand-written ISO-8601 parser rather than <see cref="DateTimeOffset.TryParse(string, out DateTimeOffset)"/>: the
/// framework parser silently takes an offset-less time as local time, which on a server is a guess, and it needs a
/// string. Here a missing offset is its own outcome so the dead letter says exactly that.
/// </remarks>
internal static class Timestamps
{
    private static readonly int s_epochDayNumber = new DateOnly(1970, 1, 1).DayNumber;

    /// <summary>
    /// Epoch seconds or milliseconds as digits (with an optional fraction), or ISO-8601 / RFC 3339 date-time text
    /// <c>YYYY-MM-DD(T| )hh:mm[:ss[.fff…]](Z|±hh[:mm])</c>.
    /// </summary>
    public static TimestampStatus TryParse(ReadOnlySpan<byte> text, out long epochMs)
    {
        epochMs = 0;
        if (IsEpochText(text, out bool negative, out bool fractional))
        {
            if (negative)
            {
                return TimestampStatus.OutOfRange;
            }

            if (!fractional)
            {
                return Utf8Parser.TryParse(text, out long whole, out int used) && used == text.Length
                    ? JsonDecoding.FromEpoch(whole, out epochMs)
                    : TimestampStatus.OutOfRange; // only overflow fails on plain digits
            }

            return Utf8Parser.TryParse(text, out double real, out int consumed) && consumed == text.Length
                ? JsonDecoding.FromEpoch(real, out epochMs)
                : TimestampStatus.Invalid;
        }

        return TryParseIso(text, out epochMs);
    }

    private static bool IsEpochText(ReadOnlySpan<byte> text, out bool negative, out bool fractional)
    {
        negative = !text.IsEmpty && text[0] == (byte)'-';
        fractional = false;
        var digits = negative ? text[1..] : text;
        if (digits.IsEmpty || !IsDigit(digits[0]))
        {
            return false;
        }

        foreach (byte b in digits)
        {
            if (b == (byte)'.' && !fractional)
            {
                fractional = true;
            }
            else if (!IsDigit(b))
            {
                return false;
            }
        }

        return digits[^1] != (byte)'.';
    }

    private static TimestampStatus TryParseIso(ReadOnlySpan<byte> s, out long epochMs)
    {
        epochMs = 0;
        if (!FixedDigits(s, 0, 4, out int year) || !At(s, 4, '-') || !FixedDigits(s, 5, 2, out int month) || !At(s, 7, '-')
            || !FixedDigits(s, 8, 2, out int day))
        {
            return TimestampStatus.Invalid;
        }

        if (s.Length == 10)
        {
            // A bare date has neither time of day nor offset: not an instant.
            return TimestampStatus.Invalid;
        }

        if (s[10] is not ((byte)'T' or (byte)'t' or (byte)' ')
            || !FixedDigits(s, 11, 2, out int hour) || !At(s, 13, ':') || !FixedDigits(s, 14, 2, out int minute))
        {
            return TimestampStatus.Invalid;
        }

        int i = 16;
        int second = 0;
        int fractionMs = 0;
        if (At(s, i, ':'))
        {
            if (!FixedDigits(s, i + 1, 2, out second))
            {
                return TimestampStatus.Invalid;
            }

            i += 3;
            if (At(s, i, '.') || At(s, i, ','))
            {
                i++;
                int digits = 0;
                while (i < s.Length && IsDigit(s[i]))
                {
                    // Milliseconds are the resolution of an event time; further digits are dropped.
                    if (digits < 3)
                    {
                        fractionMs = (fractionMs * 10) + (s[i] - '0');
                    }

                    digits++;
                    i++;
                }

                if (digits == 0)
                {
                    return TimestampStatus.Invalid;
                }

                for (; digits < 3; digits++)
                {
                    fractionMs *= 10;
                }
            }
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return TimestampStatus.Invalid;
        }

        if (i == s.Length)
        {
            return TimestampStatus.MissingOffset;
        }

        int offsetMinutes;
        if (s[i] is (byte)'Z' or (byte)'z')
        {
            offsetMinutes = 0;
            i++;
        }
        else if (s[i] is (byte)'+' or (byte)'-')
        {
            int sign = s[i] == (byte)'-' ? -1 : 1;
            if (!FixedDigits(s, i + 1, 2, out int offsetHours))
            {
                return TimestampStatus.Invalid;
            }

            i += 3;
            int offsetMins = 0;
            if (At(s, i, ':'))
            {
                i++;
                if (!FixedDigits(s, i, 2, out offsetMins))
                {
                    return TimestampStatus.Invalid;
                }

                i += 2;
            }
            else if (FixedDigits(s, i, 2, out offsetMins))
            {
                i += 2;
            }

            if (offsetHours > 23 || offsetMins > 59)
            {
                return TimestampStatus.Invalid;
            }

            offsetMinutes = sign * ((offsetHours * 60) + offsetMins);
        }
        else
        {
            return TimestampStatus.Invalid;
        }

        if (i != s.Length)
        {
            return TimestampStatus.Invalid;
        }

        long days = new DateOnly(year, month, day).DayNumber - s_epochDayNumber;
        long ms = (days * 86_400_000L) + (hour * 3_600_000L) + (minute * 60_000L) + (second * 1000L) + fractionMs
            - (offsetMinutes * 60_000L);
        if (ms is < 0 or > JsonDecoding.MaxEpochMs)
        {
            return TimestampStatus.OutOfRange;
        }

        epochMs = ms;
        return TimestampStatus.Ok;
    }

    private static bool At(ReadOnlySpan<byte> s, int index, char c) => index < s.Length && s[index] == (byte)c;

    private static bool IsDigit(byte b) => b - (uint)'0' <= 9;

    private static bool FixedDigits(ReadOnlySpan<byte> s, int index, int count, out int value)
    {
        value = 0;
        if (index + count > s.Length)
        {
            return false;
        }

        for (int k = index; k < index + count; k++)
        {
            if (!IsDigit(s[k]))
            {
                return false;
            }

            value = (value * 10) + (s[k] - '0');
        }

        return true;
    }
}

/// <summary>
/// The hour of the latest event time written in the producers' usual form, <c>YYYY-MM-DDThh:mm:ss.fffZ</c> (24 bytes):
/// consecutive events mostly share it, so a timestamp with the same first 13 bytes only needs its minutes, seconds and
/// milliseconds read. <see cref="TryParse"/> answers only for that form and that hour, and gives exactly what
/// <see cref="Timestamps.TryParse"/> gives; anything else is for the full parser, whose result
/// <see cref="Remember"/> then keeps.
/// </summary>
internal struct IsoHourMemo
{
    private const int Length = 24;

    // Bytes 0–7 and 5–12 of the remembered text: together its first 13 bytes, "YYYY-MM-DDThh".
    private ulong _head;
    private ulong _tail;

    // Epoch milliseconds at the start of that hour; only meaningful once _known.
    private long _hourMs;
    private bool _known;

    /// <summary>The time of <paramref name="text"/> when it is in the remembered hour and the usual form.</summary>
    public readonly bool TryParse(ReadOnlySpan<byte> text, out long epochMs)
    {
        epochMs = 0;
        if (!_known || text.Length != Length || !InHourForm(text)
            || BitConverter.ToUInt64(text) != _head || BitConverter.ToUInt64(text[5..]) != _tail
            || !TryWithinHour(text, out var withinMs))
        {
            return false;
        }

        var ms = _hourMs + withinMs;
        if (ms is < 0 or > JsonDecoding.MaxEpochMs)
        {
            return false;
        }

        epochMs = ms;
        return true;
    }

    /// <summary>Keeps the hour of <paramref name="text"/>, which the full parser read as <paramref name="epochMs"/>,
    /// when it is in the usual form.</summary>
    public void Remember(ReadOnlySpan<byte> text, long epochMs)
    {
        if (text.Length != Length || !InHourForm(text) || !TryWithinHour(text, out var withinMs))
        {
            return;
        }

        _head = BitConverter.ToUInt64(text);
        _tail = BitConverter.ToUInt64(text[5..]);
        _hourMs = epochMs - withinMs;
        _known = true;
    }

    // The separators after the hour: ":mm:ss.fffZ". The first 13 bytes were validated by the full parser once and are
    // compared byte for byte after that.
    private static bool InHourForm(ReadOnlySpan<byte> t) =>
        t[13] == (byte)':' && t[16] == (byte)':' && t[19] == (byte)'.' && t[23] == (byte)'Z';

    private static bool TryWithinHour(ReadOnlySpan<byte> t, out long withinMs)
    {
        withinMs = 0;
        uint m1 = t[14] - (uint)'0', m2 = t[15] - (uint)'0', s1 = t[17] - (uint)'0', s2 = t[18] - (uint)'0';
        uint f1 = t[20] - (uint)'0', f2 = t[21] - (uint)'0', f3 = t[22] - (uint)'0';
        if (m1 > 5 || m2 > 9 || s1 > 5 || s2 > 9 || f1 > 9 || f2 > 9 || f3 > 9)
        {
            return false;
        }

        withinMs = ((((m1 * 10) + m2) * 60_000L) + (((s1 * 10) + s2) * 1000L)) + (((f1 * 10) + f2) * 10) + f3;
        return true;
    }
}
