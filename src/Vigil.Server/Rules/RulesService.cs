using System.Security.Cryptography;
using Vigil.Core.Alerts;
using Vigil.Core.Rules;

namespace Vigil.Server.Rules;

/// <summary>One rule as the API shows it.</summary>
public sealed record RuleInfo(string Id, string Name, string Type, IReadOnlyList<string> GroupBy, string Timespan, string? Condition,
    string Severity, string Hash, int Line);

/// <summary>Why the last reload was refused.</summary>
public sealed record RuleLoadError(string At, string Message, IReadOnlyList<RuleFileError> Errors);

/// <summary>GET /api/rules: the rules in force, their version, and the last refused edit.</summary>
public sealed record RulesReport(string? File, string? Version, string? LoadedAt, long Reloads, long Failures,
    IReadOnlyList<RuleInfo> Rules, RuleLoadError? LastError);

/// <summary>
/// Hot reload of the declarative rules file in <c>vigil serve</c>: a file watcher (debounced) and a polling fallback
/// (network and container file systems miss watcher events) re-read the file when its content changes; a valid file is
/// published to the <see cref="RuleSetSource"/>, which every partition pipeline swaps in at its next batch boundary,
/// keeping the state of unchanged rules. An invalid file is refused, logged with its line and shown by the API, and
/// the rules in force keep running.
/// </summary>
public sealed class RulesService : BackgroundService
{
    private readonly string? _path;
    private readonly RuleSetSource? _source;
    private readonly ILogger<RulesService> _logger;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _pollInterval;
    private readonly TimeSpan _debounce;
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private string? _lastContentHash;
    private RuleLoadError? _lastError;
    private DateTimeOffset _loadedAt;
    private long _reloads;
    private long _failures;

    /// <param name="path">The rules file; null when the declarative rules are off.</param>
    /// <param name="source">What the pipelines read; null when off.</param>
    /// <param name="logger">Reload results and errors.</param>
    /// <param name="clock">Time of loads and errors.</param>
    /// <param name="pollInterval">How often the file is checked without a watcher event.</param>
    /// <param name="debounce">Quiet time after a watcher event before reading (editors write in several steps).</param>
    public RulesService(string? path, RuleSetSource? source, ILogger<RulesService> logger, TimeProvider clock, TimeSpan pollInterval, TimeSpan debounce)
    {
        _path = path;
        _source = source;
        _logger = logger;
        _clock = clock;
        _pollInterval = pollInterval;
        _debounce = debounce;
        _loadedAt = clock.GetUtcNow();
        if (path is not null && File.Exists(path))
        {
            _lastContentHash = HashOf(File.ReadAllBytes(path));
        }
    }

    /// <summary>The rules in force and the last refused edit.</summary>
    public RulesReport Report()
    {
        var rules = new List<RuleInfo>();
        var set = _source?.Current;
        foreach (var r in set?.Rules ?? [])
        {
            rules.Add(new RuleInfo(r.Id, r.Name, TypeName(r.Kind), [.. r.GroupBy.Select(g => g.ToString())], r.Timespan.ToString(),
                r.Kind is RuleKind.EventCount or RuleKind.ValueCount ? r.Condition.ToString() : null, r.Severity.ToWireName(), r.Hash, r.Line));
        }
        return new RulesReport(_path, set?.Version, set is null ? null : AlertJson.Format(_loadedAt), Interlocked.Read(ref _reloads),
            Interlocked.Read(ref _failures), rules, Volatile.Read(ref _lastError));
    }

    private static string TypeName(RuleKind kind) => kind switch
    {
        RuleKind.EventCount => "event_count",
        RuleKind.ValueCount => "value_count",
        RuleKind.Temporal => "temporal",
        _ => "temporal_ordered",
    };

    /// <summary>Re-reads the file now (also when its content did not change); returns whether it is in force.</summary>
    public async Task<bool> ReloadAsync(bool force, CancellationToken ct)
    {
        if (_path is null || _source is null)
        {
            return false;
        }
        await _reloadLock.WaitAsync(ct);
        try
        {
            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(_path, ct);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail([new RuleFileError(1, 1, null, "cannot read the file: " + ex.Message)]);
                return false;
            }
            var hash = HashOf(bytes);
            if (!force && hash == _lastContentHash)
            {
                return Volatile.Read(ref _lastError) is null;
            }
            _lastContentHash = hash;
            var result = RuleFileParser.Parse(System.Text.Encoding.UTF8.GetString(bytes), _path);
            if (result.Rules is not { } rules)
            {
                Fail(result.Errors);
                return false;
            }
            Volatile.Write(ref _lastError, null);
            var current = _source.Current;
            if (rules.Version == current.Version)
            {
                _logger.LogInformation("Rules file {Path} re-read: no rule changed (version {Version})", _path, rules.Version);
                return true;
            }
            var before = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var r in current.Rules)
            {
                before[r.Id] = r.Hash;
            }
            int kept = 0, changed = 0, added = 0;
            foreach (var r in rules.Rules)
            {
                if (!before.Remove(r.Id, out var old))
                {
                    added++;
                }
                else if (old == r.Hash)
                {
                    kept++;
                }
                else
                {
                    changed++;
                }
            }
            _source.Publish(rules);
            _loadedAt = _clock.GetUtcNow();
            Interlocked.Increment(ref _reloads);
            _logger.LogInformation(
                "Rules reloaded from {Path}: version {Version}, {Count} rules ({Kept} unchanged keep their state, {Changed} changed and {Added} new start empty, {Removed} removed)",
                _path, rules.Version, rules.Rules.Count, kept, changed, added, before.Count);
            return true;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private void Fail(IReadOnlyList<RuleFileError> errors)
    {
        Interlocked.Increment(ref _failures);
        var message = string.Join("; ", errors.Select(e => e.ToString()));
        Volatile.Write(ref _lastError, new RuleLoadError(AlertJson.Format(_clock.GetUtcNow()), message, errors));
        _logger.LogError("Rules file {Path} refused, the previous rules keep running: {Errors}", _path, message);
    }

    private static string HashOf(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_path is null || _source is null)
        {
            return;
        }
        using var watcher = CreateWatcher(_path);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await _changed.WaitAsync(_pollInterval, stoppingToken))
                {
                    // Editors save in steps (truncate, write, rename): wait until the file has been quiet a moment.
                    while (await _changed.WaitAsync(_debounce, stoppingToken))
                    {
                    }
                }
                await ReloadAsync(force: false, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Checking the rules file {Path} failed", _path);
            }
        }
    }

    private FileSystemWatcher? CreateWatcher(string path)
    {
        try
        {
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => Signal();
            watcher.Created += (_, _) => Signal();
            watcher.Renamed += (_, _) => Signal();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
        {
            _logger.LogWarning("No file watcher on {Path} ({Error}); polling every {Interval}", path, ex.Message, _pollInterval);
            return null;
        }
    }

    private void Signal()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    public override void Dispose()
    {
        _changed.Dispose();
        _reloadLock.Dispose();
        base.Dispose();
    }
}
