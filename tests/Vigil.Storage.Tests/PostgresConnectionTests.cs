using Npgsql;

namespace Vigil.Storage.Tests;

public sealed class PostgresConnectionTests
{
    [Fact]
    public void ToConnectionString_JdbcUrlWithUserAndPassword_FillsEveryPart()
    {
        var cs = new NpgsqlConnectionStringBuilder(
            PostgresConnection.ToConnectionString("jdbc:postgresql://db.example:5433/analytics", "vigil", "s3cret"));

        Assert.Equal("db.example", cs.Host);
        Assert.Equal(5433, cs.Port);
        Assert.Equal("analytics", cs.Database);
        Assert.Equal("vigil", cs.Username);
        Assert.Equal("s3cret", cs.Password);
    }

    [Fact]
    public void ToConnectionString_UrlWithCredentialsAndQuery_UrlWins()
    {
        var cs = new NpgsqlConnectionStringBuilder(PostgresConnection.ToConnectionString(
            "postgresql://alice:p%40ss@localhost/db?sslmode=Disable", "ignored", "ignored"));

        Assert.Equal("localhost", cs.Host);
        Assert.Equal(5432, cs.Port);
        Assert.Equal("alice", cs.Username);
        Assert.Equal("p@ss", cs.Password);
        Assert.Equal(SslMode.Disable, cs.SslMode);
    }

    [Fact]
    public void ToConnectionString_JdbcQueryUser_IsUsed()
    {
        var cs = new NpgsqlConnectionStringBuilder(
            PostgresConnection.ToConnectionString("jdbc:postgresql://h:1/d?user=bob&password=pw"));

        Assert.Equal("bob", cs.Username);
        Assert.Equal("pw", cs.Password);
    }

    [Fact]
    public void ToConnectionString_NpgsqlConnectionString_PassesThrough()
    {
        var cs = new NpgsqlConnectionStringBuilder(
            PostgresConnection.ToConnectionString("Host=10.0.0.5;Port=6543;Database=x;Username=u", null, "pw"));

        Assert.Equal("10.0.0.5", cs.Host);
        Assert.Equal(6543, cs.Port);
        Assert.Equal("pw", cs.Password);
    }

    [Fact]
    public void ToConnectionString_Garbage_ThrowsFormatExceptionNamingTheSetting()
    {
        var ex = Assert.Throws<FormatException>(() => PostgresConnection.ToConnectionString("not a url at all;;=="));

        Assert.Contains("POSTGRES_URL", ex.Message, StringComparison.Ordinal);
    }
}
