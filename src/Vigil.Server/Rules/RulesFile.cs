using Vigil.Core.Rules;

namespace Vigil.Server.Rules;

/// <summary>Where serve and replay find the declarative rules file, and loading it at start-up.</summary>
public static class RulesFile
{
    /// <summary>The value of <c>Vigil:Rules:File</c> / <c>--rules</c> that turns the declarative rules off.</summary>
    public const string None = "none";

    /// <summary>The rules shipped beside the binary.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "rules", "default.yaml");

    /// <summary>
    /// The file to load: <paramref name="configured"/> when set (null when it is <see cref="None"/>), else the
    /// shipped default when present.
    /// </summary>
    public static string? Resolve(string? configured)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(DefaultPath) ? DefaultPath : null;
        }
        return string.Equals(configured.Trim(), None, StringComparison.OrdinalIgnoreCase) ? null : Path.GetFullPath(configured);
    }

    /// <summary>Loads <paramref name="path"/>; a missing or bad file throws with every error's line and field.</summary>
    /// <exception cref="InvalidDataException">The file is missing or invalid.</exception>
    public static RuleSet Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"the rules file '{path}' does not exist (use '{None}' to run the built-in rules only)");
        }
        var result = RuleFileParser.ParseFile(path);
        return result.Rules ?? throw new InvalidDataException("the rules file is invalid:" + Environment.NewLine + result.Message(path));
    }
}
