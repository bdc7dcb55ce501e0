using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// The durable Hangfire job of a power action, taking only its instance action id. Like a migration
/// step it holds a lock of its own (a duplicate delivery steps aside), is retried by Hangfire, and
/// when the retries are spent the task is dropped with a fault.
/// </summary>
public sealed partial class PowerJobs(IServiceScopeFactory scopes, WorkerLocks locks, ILogger<PowerJobs> logger)
{
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(5);

    [AutomaticRetry(Attempts = MigrationJobs.Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public async Task Run(int instanceActionId, PerformContext? context)
    {
        var ct = context?.CancellationToken.ShutdownToken ?? CancellationToken.None;
        var held = await locks.TryAcquireAsync(LockResource.PowerAction(instanceActionId), LockWait, ct);
        if (held is null)
        {
            LogSteppedAside(logger, instanceActionId); // the holder finishes it; if it dies, the reconciler resumes
            return;
        }

        await using (held)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<PowerWorkflow>().RunAsync(instanceActionId, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var attempt = context?.GetJobParameter<int>("RetryCount") ?? MigrationJobs.Retries;
                if (attempt < MigrationJobs.Retries)
                {
                    LogAttemptFailed(logger, instanceActionId, attempt + 1, e.Message);
                    throw;
                }

                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<PowerWorkflow>().FailAsync(instanceActionId, MigrationJobs.Describe(e, "The power action"), ct);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Power action {ActionId}: attempt {Attempt} failed ({Reason}); Hangfire retries it")]
    private static partial void LogAttemptFailed(ILogger logger, int actionId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Power action {ActionId}: another worker holds its lock; this delivery steps aside")]
    private static partial void LogSteppedAside(ILogger logger, int actionId);
}
