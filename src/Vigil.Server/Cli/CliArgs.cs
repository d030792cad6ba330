using System.Globalization;

namespace Vigil.Server.Cli;

/// <summary>A usage error: the message names the flag; the process exits with code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// A small, strict parser for <c>--flag value</c>, <c>--flag=value</c> and boolean <c>--flag</c>. Unknown flags
/// are errors, so a typo never silently falls back to a default.
/// </summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly List<string> _positionals = [];

    private CliArgs()
    {
    }

    /// <summary>Parses <paramref name="args"/> against the flags a verb knows; boolean flags take no value.</summary>
    public static CliArgs Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> valueFlags, IReadOnlyCollection<string> booleanFlags)
    {
        ArgumentNullException.ThrowIfNull(args);
        var result = new CliArgs();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                result._positionals.Add(arg);
                continue;
            }
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? arg[2..eq] : arg[2..];
            if (booleanFlags.Contains(name))
            {
                result._values[name] = eq > 0 ? arg[(eq + 1)..] : "true";
            }
            else if (valueFlags.Contains(name))
            {
                string value;
                if (eq > 0)
                {
                    value = arg[(eq + 1)..];
                }
                else if (i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else
                {
                    throw new UsageException($"--{name} needs a value.");
                }
                result._values[name] = value;
            }
            else
            {
                throw new UsageException($"unknown flag --{name}.");
            }
        }
        return result;
    }

    public IReadOnlyList<string> Positionals => _positionals;

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public bool Flag(string name) =>
        _values.TryGetValue(name, out var v) && !string.Equals(v, "false", StringComparison.OrdinalIgnoreCase);

    public int GetInt(string name, int fallback, int min, int max)
    {
        if (Get(name) is not { } text)
        {
            return fallback;
        }
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"--{name} must be a whole number from {min} to {max}, not '{text}'.");
        }
        return value;
    }
}
