using Npgsql;

namespace Vigil.Storage.Tests;

/// <summary>
/// The real PostgreSQL server the test command starts (its connection string in VIGIL_TEST_POSTGRES).
/// Each test gets a fresh database, so tests never see each other's rows.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly List<string> _databases = [];
    private string? _adminConnectionString;

    public async Task InitializeAsync()
    {
        _adminConnectionString = Environment.GetEnvironmentVariable("VIGIL_TEST_POSTGRES");
        if (string.IsNullOrEmpty(_adminConnectionString))
        {
            throw new InvalidOperationException(
                "VIGIL_TEST_POSTGRES is not set: run the tests with ./scripts/test.sh, which starts a throw-away PostgreSQL server.");
        }
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "vigil_test_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(_adminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name};", connection);
            await command.ExecuteNonQueryAsync();
        }
        lock (_databases)
        {
            _databases.Add(name);
        }
        return new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_adminConnectionString is null)
        {
            return;
        }
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        foreach (var name in _databases)
        {
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE);", connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
