namespace Vigil.Simulator;

/// <summary>The attack campaigns the simulator can inject; one flag per alert rule of DESIGN §3.</summary>
[Flags]
public enum AttackKinds
{
    /// <summary>No campaigns: legitimate traffic only.</summary>
    None = 0,
    /// <summary>Many failed logins on one account, from one address or a botnet, sometimes ending in a success.</summary>
    BruteForce = 1 << 0,
    /// <summary>One address hammering the login form over real and guessed account names.</summary>
    BruteForceIp = 1 << 1,
    /// <summary>One address trying one or two common passwords against many accounts.</summary>
    PasswordSpray = 1 << 2,
    /// <summary>A leaked credential list replayed from many addresses; a few logins succeed.</summary>
    CredentialStuffing = 1 << 3,
    /// <summary>Failures, a success from a new country, then e-mail, password or MFA changed.</summary>
    AccountTakeover = 1 << 4,
    /// <summary>Logins of one account from two far-apart cities minutes apart.</summary>
    ImpossibleTravel = 1 << 5,
    /// <summary>A scraper on one account: hundreds of page views and searches a minute.</summary>
    RapidActivity = 1 << 6,
    /// <summary>An account suddenly active at night on a new device, searching and buying far more than usual.</summary>
    BehaviorAnomaly = 1 << 7,
    /// <summary>Every kind.</summary>
    All = BruteForce | BruteForceIp | PasswordSpray | CredentialStuffing | AccountTakeover | ImpossibleTravel
        | RapidActivity | BehaviorAnomaly,
}

/// <summary>Wire names of <see cref="AttackKinds"/> (the label <c>kind</c> strings) and parsing of the <c>--attacks</c> list.</summary>
public static class AttackKindNames
{
    private static readonly (AttackKinds Kind, string Name)[] s_names =
    [
        (AttackKinds.BruteForce, "BRUTE_FORCE"),
        (AttackKinds.BruteForceIp, "BRUTE_FORCE_IP"),
        (AttackKinds.PasswordSpray, "PASSWORD_SPRAY"),
        (AttackKinds.CredentialStuffing, "CREDENTIAL_STUFFING"),
        (AttackKinds.AccountTakeover, "ACCOUNT_TAKEOVER"),
        (AttackKinds.ImpossibleTravel, "IMPOSSIBLE_TRAVEL"),
        (AttackKinds.RapidActivity, "RAPID_ACTIVITY"),
        (AttackKinds.BehaviorAnomaly, "BEHAVIOR_ANOMALY"),
    ];

    /// <summary>Every single kind, in a fixed order.</summary>
    public static IReadOnlyList<AttackKinds> Singles { get; } = Array.ConvertAll(s_names, n => n.Kind);

    /// <summary>The label kind of a single flag, for example <c>PASSWORD_SPRAY</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="kind"/> is not exactly one flag.</exception>
    public static string ToWireName(this AttackKinds kind)
    {
        foreach (var (k, name) in s_names)
        {
            if (k == kind)
            {
                return name;
            }
        }

        throw new ArgumentException($"'{kind}' is not a single attack kind.", nameof(kind));
    }

    /// <summary>
    /// Parses <c>all</c>, <c>none</c> or a comma-separated list of kinds (<c>BRUTE_FORCE,PASSWORD_SPRAY</c>),
    /// case-insensitively; <c>brute-force</c> and <c>BruteForce</c> are accepted too.
    /// </summary>
    public static bool TryParse(string? text, out AttackKinds kinds)
    {
        kinds = AttackKinds.None;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        foreach (var raw in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var token = raw.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
            if (token.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                kinds |= AttackKinds.All;
                continue;
            }

            if (token.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var found = false;
            foreach (var (k, name) in s_names)
            {
                if (token.Equals(name.Replace("_", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase))
                {
                    kinds |= k;
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                kinds = AttackKinds.None;
                return false;
            }
        }

        return true;
    }

    /// <summary>Like <see cref="TryParse"/>, throwing a <see cref="FormatException"/> that names the bad token.</summary>
    public static AttackKinds Parse(string text) =>
        TryParse(text, out var kinds) ? kinds : throw new FormatException($"Unknown attack kinds '{text}'; expected all, none or a list such as BRUTE_FORCE,PASSWORD_SPRAY.");
}
