namespace Vigil.Core.Events;

/// <summary>Resolves event type text, canonical names and the aliases the user service sends, ignoring case.</summary>
internal static class EventTypeNames
{
    private static readonly (string Name, EventType Type)[] s_names = Build();

    // The canonical names as UTF-8, indexed by type.
    private static readonly byte[][] s_wireUtf8 = BuildWireUtf8();

    /// <summary>The type named by <paramref name="utf8"/>, or <see cref="EventType.Other"/>.</summary>
    public static EventType Resolve(ReadOnlySpan<byte> utf8)
    {
        // Nearly every event spells its type canonically: one exact compare picked by length and first letter, before
        // the case-insensitive walk over every name and alias.
        var exact = ExactCanonical(utf8);
        if (exact != EventType.Other)
        {
            return exact;
        }

        foreach (var (name, type) in s_names)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(utf8, name))
            {
                return type;
            }
        }

        return EventType.Other;
    }

    /// <summary>The type named by <paramref name="text"/>, or <see cref="EventType.Other"/>.</summary>
    public static EventType Resolve(ReadOnlySpan<char> text)
    {
        foreach (var (name, type) in s_names)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(text, name))
            {
                return type;
            }
        }

        return EventType.Other;
    }

    private static EventType ExactCanonical(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return EventType.Other;
        }

        var type = (utf8.Length, utf8[0]) switch
        {
            (15, (byte)'U') => EventType.UserRegistered,
            (13, (byte)'L') => EventType.LoginSuccess,
            (12, (byte)'L') => EventType.LoginFailed,
            (6, (byte)'L') => EventType.Logout,
            (16, (byte)'P') => EventType.PasswordChanged,
            (24, (byte)'P') => EventType.PasswordResetRequested,
            (13, (byte)'E') => EventType.EmailChanged,
            (11, (byte)'M') => EventType.MfaChanged,
            (15, (byte)'P') => EventType.ProfileUpdated,
            (6, (byte)'S') => EventType.Search,
            (9, (byte)'P') => EventType.PageView,
            (8, (byte)'P') => EventType.Purchase,
            (12, (byte)'U') => EventType.UserDeleted,
            _ => EventType.Other,
        };
        return type != EventType.Other && utf8.SequenceEqual(s_wireUtf8[(int)type]) ? type : EventType.Other;
    }

    private static byte[][] BuildWireUtf8()
    {
        var names = new byte[(int)EventType.UserDeleted + 1][];
        for (var type = EventType.Other; type <= EventType.UserDeleted; type++)
        {
            names[(int)type] = System.Text.Encoding.ASCII.GetBytes(type.ToWireName());
        }

        return names;
    }

    private static (string, EventType)[] Build()
    {
        var names = new List<(string, EventType)>();
        for (var type = EventType.UserRegistered; type <= EventType.UserDeleted; type++)
        {
            names.Add((type.ToWireName(), type));
        }

        names.Add(("USER_LOGIN", EventType.LoginSuccess));
        names.Add(("LOGIN", EventType.LoginSuccess));
        names.Add(("FAILED_LOGIN", EventType.LoginFailed));
        return [.. names];
    }
}
