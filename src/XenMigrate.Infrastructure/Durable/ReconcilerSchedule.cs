using Hangfire;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Compute.Common;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// Registers the recurring <see cref="StalledWorkReconciler"/> job, in the background and until it
/// succeeds: registering takes a Hangfire lock, and one left by a process killed a moment ago must
/// delay this process's reconciler, not stop the process from starting.
/// </summary>
public sealed partial class ReconcilerSchedule(IRecurringJobManager recurring, IOptions<WorkflowOptions> options, ILogger<ReconcilerSchedule> logger)
    : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                recurring.AddOrUpdate<StalledWorkReconciler>(StalledWorkReconciler.RecurringJobId, r => r.Run(),
                    StalledWorkReconciler.Cron(options.Value.ReconcileEvery));
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogNotYet(logger, e.Message);
            }

            try
            {
                await Task.Delay(RetryDelay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The migration reconciler is not scheduled yet ({Reason}); trying again")]
    private static partial void LogNotYet(ILogger logger, string reason);
}
