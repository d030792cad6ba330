namespace Vigil.Core.Events;

/// <summary>Resolves event type text, canonical names and the aliases the user service sends, ignoring case.</summary>
internal static class EventTypeNames
{
    private static readonly (string Name, EventType Type)[] s_names = Build();

    /// <summary>The type named by <paramref name="utf8"/>, or <see cref="EventType.Other"/>.</summary>
    public static EventType Resolve(ReadOnlySpan<byte> utf8)
    {
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
