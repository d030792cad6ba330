using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vigil.Server.Tests;

/// <summary>
/// Runs the built <c>vigil</c> command line as a real child process, the way a user runs it, and captures its
/// output. Killed (with its process tree) on dispose.
/// </summary>
public sealed class VigilProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _lock = new();

    private VigilProcess(Process process)
    {
        _process = process;
    }

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The server's build output for the configuration the tests were built in.</summary>
    public static string VigilDll
    {
        get
        {
#if DEBUG
            const string configuration = "Debug";
#else
            const string configuration = "Release";
#endif
            var dll = Path.Combine(RepositoryRoot, "src", "Vigil.Server", "bin", configuration, "net10.0", "vigil.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the solution first: vigil.dll is missing.", dll);
        }
    }

    public static VigilProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(VigilDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        // A developer's own settings must not leak into the process under test.
        info.Environment.Remove("KAFKA_BOOTSTRAP_SERVERS");
        info.Environment.Remove("POSTGRES_URL");
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var result = new VigilProcess(process);
        process.OutputDataReceived += (_, e) => result.Append(result._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => result.Append(result._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    public string StandardOutput
    {
        get
        {
            lock (_lock)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_lock)
            {
                return _stderr.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until a line of standard output satisfies <paramref name="match"/>; returns it.</summary>
    public async Task<string> WaitForOutputLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var line in StandardOutput.Split('\n'))
            {
                if (match(line.TrimEnd('\r')))
                {
                    return line.TrimEnd('\r');
                }
            }
            if (_process.HasExited)
            {
                break;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"No matching output line in {timeout}. stdout:\n{StandardOutput}\nstderr:\n{StandardError}");
    }

    /// <summary>Waits until <paramref name="url"/> answers 200, or fails with the process output.</summary>
    public async Task WaitForHttpAsync(HttpClient http, string url, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"vigil exited with {_process.ExitCode}.\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
            }
            try
            {
                using var response = await http.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{url} did not answer in {timeout}.\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
    }

    /// <summary>Asks the process to stop, as a service manager would (SIGTERM), and waits for it.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        return await WaitForExitAsync(timeout);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _process.Dispose();
    }

    /// <summary>Runs vigil to completion and returns (exit code, stdout, stderr).</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        await using var process = Start(workingDirectory, null, args);
        process._process.StandardInput.Close();
        var code = await process.WaitForExitAsync(timeout);
        // Let the asynchronous readers drain.
        process._process.WaitForExit();
        return (code, process.StandardOutput, process.StandardError);
    }

    private static readonly HashSet<int> s_handedOut = [];

    /// <summary>
    /// A port free now, below the system's ephemeral range and not handed out before in this test run. A port the OS
    /// picked for a listener on port 0 could be picked again for a process the test starts (serve's embedded broker
    /// listens on port 0) before the test's own server binds it; below the ephemeral range the OS never picks.
    /// </summary>
    public static int FreePort()
    {
        var ephemeralLow = EphemeralRangeStart();
        var floor = Math.Max(1024, ephemeralLow - 12_000);
        for (var attempt = 0; attempt < 500; attempt++)
        {
            var port = Random.Shared.Next(floor, ephemeralLow);
            lock (s_handedOut)
            {
                if (s_handedOut.Contains(port))
                {
                    continue;
                }
            }
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
            }
            catch (SocketException)
            {
                continue;
            }
            lock (s_handedOut)
            {
                if (s_handedOut.Add(port))
                {
                    return port;
                }
            }
        }
        throw new InvalidOperationException($"No free port found in {floor}–{ephemeralLow - 1}.");
    }

    private static int EphemeralRangeStart()
    {
        const string RangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(RangeFile)
            && File.ReadAllText(RangeFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) is [var low, ..]
            && int.TryParse(low, out var start) && start > 2048)
        {
            return start;
        }
        return 32768;
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_lock)
        {
            target.AppendLine(line);
        }
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Vigil.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Vigil.slnx not found above the test binaries.");
    }
}
