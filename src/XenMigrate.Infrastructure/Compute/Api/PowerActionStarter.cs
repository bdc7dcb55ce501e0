using Hangfire;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Power;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// What the API does for a power action: set the task_state and record the instance action, commit
/// — before the response — then enqueue the job that drives XAPI. A crash between the commit and the
/// enqueue leaves a task nobody works on; the reconciler finds it and enqueues the job.
/// </summary>
public sealed class PowerActionStarter(XenMigrateDbContext db, IBackgroundJobClient jobs, TimeProvider time)
{
    public async Task StartAsync(Server server, PowerAction action, RequestContext caller, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        server.BeginPowerAction(action, caller.IsAdmin, now);
        var record = new InstanceAction(server.Id, action.Name, caller.RequestId, caller.UserId, caller.ProjectId, now);
        db.InstanceActions.Add(record);
        await db.SaveChangesAsync(ct); // one SaveChanges: the task_state and its action commit together
        jobs.Enqueue<PowerJobs>(j => j.Run(record.Id, null));
    }
}
