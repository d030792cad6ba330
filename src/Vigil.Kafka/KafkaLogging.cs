using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Vigil.Kafka;

/// <summary>Routes librdkafka's own log lines into <see cref="ILogger"/> instead of stderr.</summary>
internal static class KafkaLogging
{
    public static void Forward(ILogger logger, LogMessage message)
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
