using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Vigil.Kafka;

/// <summary>Routes librdkafka's own log lines into <see cref="ILogger"/> instead of stderr.</summary>
/// <remarks>
/// librdkafka calls these handlers on its own threads, through native frames: an exception escaping one aborts the
/// process (SIGABRT) instead of reaching any catch. So they swallow what the logger throws, which can happen when a
/// client outlives the host's logging during shutdown.
/// </remarks>
internal static class KafkaLogging
{
    public static void Forward(ILogger logger, LogMessage message) => Guard(logger, message, ForwardCore);

    /// <summary>Runs a handler for a librdkafka callback, never letting an exception out.</summary>
    public static void Guard<T>(ILogger logger, T argument, Action<ILogger, T> handler)
    {
        try
        {
            handler(logger, argument);
        }
        catch (Exception)
        {
            // Nowhere to report it: the logger is what failed.
        }
    }

    private static void ForwardCore(ILogger logger, LogMessage message)
    {
        var level = message.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
            SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        if (logger.IsEnabled(level))
        {
            logger.Log(level, "librdkafka {Client} {Facility}: {Message}", message.Name, message.Facility, message.Message);
        }
    }

    public static string ClientId(string role) => $"vigil-{role}-{Environment.MachineName}";
}
