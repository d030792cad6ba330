using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Vigil.Kafka.Tests;

/// <summary>Writes log lines to the test's output, so a failing run shows what the clients saw.</summary>
internal sealed class TestLogger<T>(ITestOutputHelper output, LogLevel minimum = LogLevel.Information) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        try
        {
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {typeof(T).Name}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished; librdkafka threads may still log while shutting down.
        }
    }
}

internal static class TestSupport
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    public static KafkaOptions Options(EmbeddedBroker broker, string group) =>
        new() { BootstrapServers = broker.BootstrapServers, GroupId = group, ClientSettings = EmbeddedBroker.ClientSettings };

    /// <summary>Reads until <paramref name="count"/> records arrived or the patience runs out.</summary>
    public static async Task<List<SourceRecord>> ReadAsync(ChannelReader<SourceRecord> reader, int count, TimeSpan? patience = null)
    {
        var records = new List<SourceRecord>(count);
        using var timeout = new CancellationTokenSource(patience ?? Patience);
        try
        {
            while (records.Count < count)
            {
                records.Add(await reader.ReadAsync(timeout.Token));
            }
        }
        catch (OperationCanceledException)
        {
            // The caller asserts on what arrived.
        }

        return records;
    }

    /// <summary>Reads whatever arrives until the stream has been quiet for <paramref name="quiet"/>.</summary>
    public static async Task<List<SourceRecord>> ReadUntilQuietAsync(ChannelReader<SourceRecord> reader, TimeSpan quiet)
    {
        var records = new List<SourceRecord>();
        while (true)
        {
            using var timeout = new CancellationTokenSource(quiet);
            try
            {
                records.Add(await reader.ReadAsync(timeout.Token));
            }
            catch (OperationCanceledException)
            {
                return records;
            }
        }
    }

    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? Patience);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting until " + what);
            }

            await Task.Delay(50);
        }
    }
}
