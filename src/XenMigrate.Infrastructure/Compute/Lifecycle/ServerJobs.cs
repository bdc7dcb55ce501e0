using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Compute.Resize;
using XenMigrate.Infrastructure.Durable;

namespace XenMigrate.Infrastructure.Compute.Lifecycle;

/// <summary>
/// The durable Hangfire jobs of a server's boot and delete, each taking only the server id and
/// holding the server's lock (a duplicate delivery steps aside), as <see cref="ResizeJobs"/>
/// does for migrations. A boot that keeps failing is cleaned up and ends in ERROR; so does a delete.
/// </summary>
public sealed class ServerJobs(IServiceScopeFactory scopes, WorkerLocks locks, ILogger<ServerJobs> logger) : DurableJobs(scopes)
{
    [StepName("build and start")]
    public Task Build(Guid serverId, PerformContext? context) =>
        RunAsync(serverId, context, (w, ct) => w.BuildAsync(serverId, ct), (w, reason, ct) => w.FailBuildAsync(serverId, reason, ct));

    [StepName("delete")]
    public Task Delete(Guid serverId, PerformContext? context) =>
        RunAsync(serverId, context, (w, ct) => w.DeleteAsync(serverId, ct), (w, reason, ct) => w.FailDeleteAsync(serverId, reason, ct));

    private Task RunAsync(Guid serverId, PerformContext? context, Func<ServerLifecycleWorkflow, CancellationToken, Task> step,
        Func<ServerLifecycleWorkflow, string, CancellationToken, Task> giveUp) =>
        DurableJob.RunAsync(locks, LockResource.Server(serverId), context, logger, $"Server {serverId}", "The server operation",
            ct => InScopeAsync<ServerLifecycleWorkflow>(w => step(w, ct)),
            (reason, ct) => InScopeAsync<ServerLifecycleWorkflow>(w => giveUp(w, reason, ct)));
}
