namespace Vigil.Core.Events;

/// <summary>The kinds of user-service event Vigil understands (DESIGN §2).</summary>
/// <remarks>An event type Vigil does not know is kept as <see cref="Other"/> and counted, never dropped.</remarks>
public enum EventType : byte
{
    Other = 0,
    UserRegistered,
    LoginSuccess,
    LoginFailed,
    Logout,
    PasswordChanged,
    PasswordResetRequested,
    EmailChanged,
    MfaChanged,
    ProfileUpdated,
    Search,
    PageView,
    Purchase,
    UserDeleted,
}

/// <summary>Wire names of <see cref="EventType"/>.</summary>
public static class EventTypes
{
    private static readonly string[] s_names =
    [
        "OTHER", "USER_REGISTERED", "LOGIN_SUCCESS", "LOGIN_FAILED", "LOGOUT", "PASSWORD_CHANGED",
        "PASSWORD_RESET_REQUESTED", "EMAIL_CHANGED", "MFA_CHANGED", "PROFILE_UPDATED", "SEARCH",
        "PAGE_VIEW", "PURCHASE", "USER_DELETED",
    ];

    /// <summary>The canonical wire name, for example <c>LOGIN_FAILED</c>.</summary>
    public static string ToWireName(this EventType type) => s_names[(int)type];

    /// <summary>Every known type with its canonical wire name, <see cref="EventType.Other"/> excluded.</summary>
    public static IReadOnlyList<string> WireNames { get; } = s_names[1..];
}
