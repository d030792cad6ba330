namespace Vigil.Core.Detection;

/// <summary>The rule names Vigil's built-in rules put on their alerts (DESIGN §3, plus RESET_BOMBING).</summary>
public static class RuleNames
{
    public const string BruteForce = "BRUTE_FORCE";
    public const string BruteForceIp = "BRUTE_FORCE_IP";
    public const string PasswordSpray = "PASSWORD_SPRAY";
    public const string CredentialStuffing = "CREDENTIAL_STUFFING";
    public const string AccountTakeover = "ACCOUNT_TAKEOVER";
    public const string ImpossibleTravel = "IMPOSSIBLE_TRAVEL";
    public const string NewCountry = "NEW_COUNTRY";
    public const string RapidActivity = "RAPID_ACTIVITY";
    public const string BehaviorAnomaly = "BEHAVIOR_ANOMALY";
    public const string ResetBombing = "RESET_BOMBING";

    /// <summary>Every built-in rule, in a fixed order.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        BruteForce, BruteForceIp, PasswordSpray, CredentialStuffing, AccountTakeover, ImpossibleTravel, NewCountry,
        RapidActivity, BehaviorAnomaly, ResetBombing,
    ];
}
