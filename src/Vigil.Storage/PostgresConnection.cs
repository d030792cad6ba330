using Npgsql;

namespace Vigil.Storage;

/// <summary>Turns the POSTGRES_URL users of the original stack know into an Npgsql connection string.</summary>
public static class PostgresConnection
{
    /// <summary>
    /// Accepts <c>jdbc:postgresql://host:port/db?user=…</c>, <c>postgresql://user:pass@host:port/db</c>
    /// or a plain Npgsql connection string; <paramref name="user"/> and <paramref name="password"/>
    /// (POSTGRES_USER / POSTGRES_PASSWORD) fill in what the URL lacks.
    /// </summary>
    /// <exception cref="FormatException">The URL cannot be understood; the message says why, without the password.</exception>
    public static string ToConnectionString(string url, string? user = null, string? password = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        var text = url.Trim();
        if (text.StartsWith("jdbc:", StringComparison.OrdinalIgnoreCase))
        {
            text = text[5..];
        }
        NpgsqlConnectionStringBuilder builder;
        if (text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                throw new FormatException("POSTGRES_URL is not a valid postgresql:// URL.");
            }
            builder = new NpgsqlConnectionStringBuilder
            {
                Host = uri.Host.Trim('[', ']'),
                Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
                Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } db ? db : null,
            };
            if (uri.UserInfo.Length > 0)
            {
                var parts = uri.UserInfo.Split(':', 2);
                builder.Username = Uri.UnescapeDataString(parts[0]);
                if (parts.Length == 2)
                {
                    builder.Password = Uri.UnescapeDataString(parts[1]);
                }
            }
            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                var key = Uri.UnescapeDataString(kv[0]);
                var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : string.Empty;
                switch (key.ToLowerInvariant())
                {
                    case "user": builder.Username = value; break;
                    case "password": builder.Password = value; break;
                    case "sslmode": builder["SSL Mode"] = value; break;
                    case "applicationname": builder.ApplicationName = value; break;
                    default: break; // JDBC-only options have no Npgsql meaning.
                }
            }
        }
        else
        {
            try
            {
                builder = new NpgsqlConnectionStringBuilder(text);
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"POSTGRES_URL is neither a postgresql:// URL nor a connection string: {ex.Message}", ex);
            }
        }
        if (string.IsNullOrEmpty(builder.Username) && !string.IsNullOrEmpty(user))
        {
            builder.Username = user;
        }
        if (string.IsNullOrEmpty(builder.Password) && !string.IsNullOrEmpty(password))
        {
            builder.Password = password;
        }
        return builder.ConnectionString;
    }
}
