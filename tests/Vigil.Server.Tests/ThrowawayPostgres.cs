using System.Diagnostics;
using Npgsql;

namespace Vigil.Server.Tests;

/// <summary>
/// A PostgreSQL server of the test's own, in a temporary directory on a free loopback port, which the test may stop
/// and start (the shared test server must stay up for the other tests). Runs as the postgres account when root.
/// </summary>
public sealed class ThrowawayPostgres : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _directory;

    private ThrowawayPostgres(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=vigil;Database=postgres;Pooling=false;Timeout=5";

    public static async Task<ThrowawayPostgres> StartAsync()
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").OrderBy(d => d, StringComparer.Ordinal).Select(d => Path.Combine(d, "bin"))
            .LastOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            ?? throw new InvalidOperationException("PostgreSQL is not installed (./scripts/test.sh installs it).");
        var directory = Directory.CreateTempSubdirectory("vigil-pg-").FullName;
        var server = new ThrowawayPostgres(bin, directory, VigilProcess.FreePort());
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", "postgres", directory);
        }
        await server.AsPostgresAsync("initdb", "-D", Path.Combine(directory, "data"), "-U", "vigil", "-A", "trust", "--no-sync");
        await server.StartServerAsync();
        return server;
    }

    public Task StartServerAsync() => AsPostgresAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-l", Path.Combine(_directory, "log"), "-w",
        "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -k {_directory} -c fsync=off", "start");

    public Task StopServerAsync() => AsPostgresAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-m", "fast", "-w", "stop");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await AsPostgresAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-m", "immediate", "stop");
        }
        catch (InvalidOperationException)
        {
        }
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The ids of the stored alerts of <paramref name="rules"/> (null: every rule).</summary>
    public async Task<HashSet<string>> AlertIdsAsync(IReadOnlyCollection<string>? rules)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            rules is null ? "SELECT alert_id FROM security_alerts" : "SELECT alert_id FROM security_alerts WHERE rule = ANY(@rules)", connection);
        if (rules is not null)
        {
            command.Parameters.AddWithValue("rules", rules.ToArray());
        }
        var ids = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetString(0));
            }
        }
        catch (PostgresException e) when (e.SqlState == "42P01")
        {
            // Not migrated yet.
        }
        return ids;
    }

    private Task AsPostgresAsync(string tool, params string[] args)
    {
        var path = Path.Combine(_bin, tool);
        return Environment.UserName == "root" ? RunAsync("runuser", ["-u", "postgres", "--", path, .. args]) : RunAsync(path, args);
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {await stderr}");
        }
    }
}
