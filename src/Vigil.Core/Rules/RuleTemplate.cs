using System.Text;

namespace Vigil.Core.Rules;

/// <summary>
/// Summary templates: text with placeholders in braces, such as <c>{count} failed logins from {ipAddress}</c>.
/// Unknown placeholders are refused when the file is loaded, so a typo never reaches an analyst as "{cuont}".
/// </summary>
public static class RuleTemplate
{
    /// <summary>The placeholders a template may use.</summary>
    public static IReadOnlyList<string> Placeholders { get; } =
    [
        "rule", "count", "threshold", "distinct", "field", "seconds", "minutes", "timespan", "group", "userId",
        "ipAddress", "username", "account", "userAgent", "accounts", "ips", "steps", "previousCount",
    ];

    /// <summary>Null when <paramref name="template"/> is well formed, else what is wrong with it.</summary>
    public static string? Validate(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf('{', i);
            var close = template.IndexOf('}', i);
            if (open < 0)
            {
                return close >= 0 ? "a '}' without its '{'" : null;
            }
            if (close >= 0 && close < open)
            {
                return "a '}' without its '{'";
            }
            var end = template.IndexOf('}', open + 1);
            if (end < 0)
            {
                return "a '{' without its '}'";
            }
            var name = template[(open + 1)..end];
            if (!Placeholders.Contains(name))
            {
                return $"unknown placeholder '{{{name}}}' (known: {string.Join(", ", Placeholders)})";
            }
            i = end + 1;
        }
        return null;
    }

    /// <summary>Fills a validated template; <paramref name="value"/> gives each placeholder's text.</summary>
    public static string Render(string template, Func<string, string?> value)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(value);
        var sb = new StringBuilder(template.Length + 32);
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf('{', i);
            if (open < 0)
            {
                sb.Append(template, i, template.Length - i);
                break;
            }
            var end = template.IndexOf('}', open + 1);
            if (end < 0)
            {
                sb.Append(template, i, template.Length - i);
                break;
            }
            sb.Append(template, i, open - i);
            sb.Append(value(template[(open + 1)..end]) ?? "-");
            i = end + 1;
        }
        return sb.ToString();
    }
}
