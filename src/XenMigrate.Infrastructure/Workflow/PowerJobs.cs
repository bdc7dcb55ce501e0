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
public sealed class PowerJobs(IServiceScopeFactory scopes, WorkerLocks locks, ILogger<PowerJobs> logger)
{
    [AutomaticRetry(Attempts = DurableJob.Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task Run(int instanceActionId, PerformContext? context) =>
        DurableJob.RunAsync(locks, LockResource.PowerAction(instanceActionId), context, logger, $"Power action {instanceActionId}", "The power action",
            ct => WithWorkflowAsync(w => w.RunAsync(instanceActionId, ct)),
            (reason, ct) => WithWorkflowAsync(w => w.FailAsync(instanceActionId, reason, ct)));

    private async Task WithWorkflowAsync(Func<PowerWorkflow, Task> work)
    {
        await using var scope = scopes.CreateAsyncScope();
        await work(scope.ServiceProvider.GetRequiredService<PowerWorkflow>());
    }
}
