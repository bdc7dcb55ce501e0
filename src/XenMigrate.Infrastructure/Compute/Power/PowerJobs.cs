using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Durable;

namespace XenMigrate.Infrastructure.Compute.Power;

/// <summary>
/// The durable Hangfire job of a power action, taking only its instance action id. Like a migration
/// step it holds a lock of its own (a duplicate delivery steps aside), is retried by Hangfire, and
/// when the retries are spent the task is dropped with a fault.
/// </summary>
public sealed class PowerJobs(IServiceScopeFactory scopes, WorkerLocks locks, ILogger<PowerJobs> logger) : DurableJobs(scopes)
{
    [StepName("power action")]
    public Task Run(int instanceActionId, PerformContext? context) =>
        DurableJob.RunAsync(locks, LockResource.PowerAction(instanceActionId), context, logger, $"Power action {instanceActionId}", "The power action",
            ct => InScopeAsync<PowerWorkflow>(w => w.RunAsync(instanceActionId, ct)),
            (reason, ct) => InScopeAsync<PowerWorkflow>(w => w.FailAsync(instanceActionId, reason, ct)));
}
