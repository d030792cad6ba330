using System.Net;
using System.Security.Cryptography;
using System.Text;
using Vigil.Server.Hosting;

namespace Vigil.Server.Security;

/// <summary>The roles of the API, from least to most privileged.</summary>
public static class Roles
{
    public const string Viewer = "viewer";
    public const string Analyst = "analyst";
    public const string Admin = "admin";

    public static bool IsKnown(string role) => role is Viewer or Analyst or Admin;
}

/// <summary>The authorization policies endpoints ask for.</summary>
public static class Policies
{
    /// <summary>Any authenticated caller, and anonymous callers when anonymous viewing is on.</summary>
    public const string Read = "read";

    /// <summary>Analysts and admins: alert workflow, test data, ingest.</summary>
    public const string Write = "write";

    /// <summary>Admins only: retraining, the audit log.</summary>
    public const string Admin = "admin";
}

/// <summary>A configured API key, kept only as its SHA-256 hash.</summary>
public sealed record ApiKey(string Name, string Role, byte[] Hash);

/// <summary>
/// Who may call the API. Keys come from <c>Vigil:Auth:Keys:N:Name|Key|Role</c> (or <c>VIGIL_API_KEYS</c> as
/// <c>name:role:key;…</c>). Bound to anything but loopback, keys are mandatory. On loopback with no keys, the
/// development default applies: anonymous callers may read, and a one-time admin login link is printed, as Jupyter does.
/// </summary>
public sealed class AuthSettings
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Name, string Role)> _sessions = new(StringComparer.Ordinal);
    private string? _loginToken;

    private AuthSettings(IReadOnlyList<ApiKey> keys, bool anonymousViewer, bool loopbackOnly)
    {
        Keys = keys;
        AnonymousViewer = anonymousViewer;
        LoopbackOnly = loopbackOnly;
    }

    public IReadOnlyList<ApiKey> Keys { get; }

    /// <summary>Anonymous callers get the viewer role (loopback only).</summary>
    public bool AnonymousViewer { get; }

    public bool LoopbackOnly { get; }

    /// <summary>Reads and checks the settings; throws <see cref="OptionsException"/> naming the setting when they are unsafe or malformed.</summary>
    public static AuthSettings From(IConfiguration config, VigilOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        var keys = new List<ApiKey>();
        foreach (var child in config.GetSection("Vigil:Auth:Keys").GetChildren())
        {
            var name = child["Name"];
            var key = child["Key"];
            var role = child["Role"]?.ToLowerInvariant();
            var setting = $"Vigil:Auth:Keys:{child.Key}";
            if (string.IsNullOrWhiteSpace(name) || string.IsNullOrWhiteSpace(key) || role is null)
            {
                throw new OptionsException(setting, "each key needs Name, Key and Role.");
            }
            keys.Add(Make(setting, name, key, role));
        }
        if (config["VIGIL_API_KEYS"] is { Length: > 0 } compact)
        {
            var i = 0;
            foreach (var entry in compact.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var parts = entry.Split(':', 3);
                if (parts.Length != 3)
                {
                    throw new OptionsException("VIGIL_API_KEYS", $"entry {i + 1} is not name:role:key.");
                }
                keys.Add(Make("VIGIL_API_KEYS", parts[0], parts[2], parts[1].ToLowerInvariant()));
                i++;
            }
        }

        var loopbackOnly = true;
        foreach (var url in options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IsLoopback(url))
            {
                loopbackOnly = false;
            }
        }
        if (!loopbackOnly && keys.Count == 0)
        {
            throw new OptionsException("Vigil:Auth:Keys",
                $"Vigil listens on {options.Urls}, beyond loopback, so authentication is mandatory: configure API keys " +
                "(Vigil__Auth__Keys__0__Name, __Key, __Role, or VIGIL_API_KEYS=name:role:key).");
        }
        var anonymous = config["Vigil:Auth:AnonymousViewer"] is { } text
            ? bool.TryParse(text, out var v) ? v : throw new OptionsException("Vigil:Auth:AnonymousViewer", $"'{text}' is not true or false.")
            : loopbackOnly;
        if (anonymous && !loopbackOnly)
        {
            throw new OptionsException("Vigil:Auth:AnonymousViewer", "anonymous viewing is only allowed when Vigil listens on loopback.");
        }
        return new AuthSettings(keys, anonymous, loopbackOnly);
    }

    /// <summary>The development default: loopback and no keys, so a one-time login link is the way in for writes.</summary>
    public bool DevelopmentLogin => LoopbackOnly && Keys.Count == 0;

    /// <summary>Creates the one-time login token (development default only).</summary>
    public string IssueLoginToken()
    {
        lock (_lock)
        {
            _loginToken = NewToken();
            return _loginToken;
        }
    }

    /// <summary>Spends the one-time token; true once, for the right token.</summary>
    public bool RedeemLoginToken(string token)
    {
        lock (_lock)
        {
            if (_loginToken is null || !FixedEquals(_loginToken, token))
            {
                return false;
            }
            _loginToken = null;
            return true;
        }
    }

    /// <summary>Finds the key whose hash matches, in time independent of where the match is.</summary>
    public ApiKey? FindKey(string presented)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        ApiKey? found = null;
        foreach (var key in Keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, key.Hash))
            {
                found = key;
            }
        }
        return found;
    }

    public string StartSession(string name, string role)
    {
        var id = NewToken();
        lock (_lock)
        {
            _sessions[id] = (name, role);
        }
        return id;
    }

    public (string Name, string Role)? FindSession(string id)
    {
        lock (_lock)
        {
            return _sessions.TryGetValue(id, out var s) ? s : null;
        }
    }

    public void EndSession(string id)
    {
        lock (_lock)
        {
            _sessions.Remove(id);
        }
    }

    private static ApiKey Make(string setting, string name, string key, string role)
    {
        if (!Roles.IsKnown(role))
        {
            throw new OptionsException(setting, $"role '{role}' is not viewer, analyst or admin.");
        }
        if (key.Length < 16)
        {
            throw new OptionsException(setting, "an API key must be at least 16 characters long.");
        }
        return new ApiKey(name, role, SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    }

    private static bool IsLoopback(string url)
    {
        if (!Uri.TryCreate(url.Replace("*", "any", StringComparison.Ordinal).Replace("+", "any", StringComparison.Ordinal),
                UriKind.Absolute, out var uri))
        {
            return false;
        }
        if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }

    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    private static bool FixedEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}
