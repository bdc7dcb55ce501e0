using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// A worker-side loop that looks at the database every <see cref="Interval"/> and acts on what it
/// finds. A failed pass is logged and the next one tries again: every pass starts from the
/// database, so nothing is lost by failing one.
/// </summary>
public abstract partial class PeriodicWorker(ILogger logger) : BackgroundService
{
    protected abstract TimeSpan Interval { get; }

    protected abstract Task PassAsync(CancellationToken ct);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PassAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, GetType().Name, e);
            }

            try
            {
                await Task.Delay(Interval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Worker}: a pass failed; the next pass tries again")]
    private static partial void LogPassFailed(ILogger logger, string worker, Exception e);
}
