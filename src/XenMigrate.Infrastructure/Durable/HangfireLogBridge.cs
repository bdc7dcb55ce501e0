using Hangfire.Logging;
using Microsoft.Extensions.Logging;
using HangfireLogLevel = Hangfire.Logging.LogLevel;
using MsLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// Hangfire's log provider is process-wide (static), while each gateway instance has its own
/// ILoggerFactory. This bridge sends Hangfire's logs to the factory of the gateway that started
/// last and stays silent, instead of throwing, once that factory has been disposed (a stopped
/// gateway in a process that starts another: tests, or an in-process restart).
/// </summary>
public sealed class HangfireLogBridge(ILoggerFactory factory) : ILogProvider
{
    public ILog GetLogger(string name) => new BridgedLog(factory, name);

    private sealed class BridgedLog(ILoggerFactory factory, string name) : ILog
    {
        private ILogger? _logger;

        public bool Log(HangfireLogLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
        {
            try
            {
                var logger = _logger ??= factory.CreateLogger(name);
                var level = Map(logLevel);
                if (messageFunc is null) return logger.IsEnabled(level); // Hangfire's "is this level on?" probe
                if (!logger.IsEnabled(level)) return false;
#pragma warning disable CA1848, CA2254 // Hangfire hands over finished messages, not templates
                logger.Log(level, exception, messageFunc());
#pragma warning restore CA1848, CA2254
                return true;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }

        private static MsLogLevel Map(HangfireLogLevel level) => level switch
        {
            HangfireLogLevel.Trace => MsLogLevel.Trace,
            HangfireLogLevel.Debug => MsLogLevel.Debug,
            HangfireLogLevel.Info => MsLogLevel.Information,
            HangfireLogLevel.Warn => MsLogLevel.Warning,
            HangfireLogLevel.Error => MsLogLevel.Error,
            _ => MsLogLevel.Critical,
        };
    }
}
