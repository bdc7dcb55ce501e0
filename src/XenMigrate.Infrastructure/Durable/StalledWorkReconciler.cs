using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Migrations;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Compute.Lifecycle;
using XenMigrate.Infrastructure.Compute.LiveMigration;
using XenMigrate.Infrastructure.Compute.Power;
using XenMigrate.Infrastructure.Compute.Resize;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// Recurring: finds work that nobody carries on — a migration in a working status, a build, a
/// delete or a power action whose lock is free and whose rows have not moved for
/// <see cref="WorkflowOptions.ReconcileAfter"/> (a process killed mid-step, a crash between commit
/// and enqueue, a lost job) — and enqueues its next step again; every step finds what was done.
/// </summary>
public sealed class StalledWorkReconciler(XenMigrateDbContext db, IBackgroundJobClient jobs, WorkerLocks locks,
    ServerLifecycleWorkflow servers, IOptions<WorkflowOptions> options, TimeProvider time)
{
    public const string RecurringJobId = "xenmigrate-reconcile";

    private static readonly MigrationStatus[] Working =
    [
        MigrationStatus.PreMigrating, MigrationStatus.Migrating, MigrationStatus.PostMigrating,
        MigrationStatus.Confirming, MigrationStatus.Reverting,
        // Live migration (LiveMigrationJobs).
        MigrationStatus.Accepted, MigrationStatus.Queued, MigrationStatus.Preparing, MigrationStatus.Running,
    ];

    /// <summary>Enqueues every stalled piece of work again; returns how many.</summary>
    [JobDisplayName("Resume stalled builds, deletes, power actions and moves")]
    [ForgetWhenIdle]
    public async Task<int> Run()
    {
        var resumed = 0;
        var cutoff = time.GetUtcNow().UtcDateTime - options.Value.ReconcileAfter;
        var stalled = await db.Migrations.AsNoTracking()
            .Where(m => Working.Contains(m.Status) && m.UpdatedAt < cutoff)
            .Join(db.MigrationCheckpoints.AsNoTracking().Where(c => c.UpdatedAt < cutoff), m => m.Id, c => c.MigrationId, (m, _) => m.Id)
            .ToListAsync();
        foreach (var id in stalled)
        {
            // A held lock means a live worker is on it (a long disk copy writes no rows for a while).
            var probe = await locks.TryAcquireAsync(LockResource.Migration(id), TimeSpan.Zero, CancellationToken.None);
            if (probe is null) continue;
            await probe.DisposeAsync();
            jobs.Enqueue<ResizeJobs>(j => j.Resume(id));
            resumed++;
        }

        // Builds and deletes no worker carries on (their process was killed, or the job was lost).
        foreach (var (serverId, deleting) in await servers.StalledAsync(cutoff, CancellationToken.None))
        {
            var probe = await locks.TryAcquireAsync(LockResource.Server(serverId), TimeSpan.Zero, CancellationToken.None);
            if (probe is null) continue;
            await probe.DisposeAsync();
            if (deleting) jobs.Enqueue<ServerJobs>(j => j.Delete(serverId, null));
            else jobs.Enqueue<ServerJobs>(j => j.Build(serverId, null));
            resumed++;
        }

        return resumed + await ResumePowerActionsAsync(cutoff);
    }

    /// <summary>
    /// A power action whose server has shown its task for a while and whose lock is free lost its job
    /// (a crash between commit and enqueue, a killed worker): its job runs again and finds what was done.
    /// </summary>
    private async Task<int> ResumePowerActionsAsync(DateTime cutoff)
    {
        var resumed = 0;
        // Few rows carry a task at once; the task filter runs here so no provider must translate the converted enum.
        var busy = await db.Servers.AsNoTracking().Where(s => s.TaskState != null && s.UpdatedAt < cutoff)
            .Select(s => new { s.Id, s.TaskState }).ToListAsync();
        foreach (var server in busy)
        {
            if (Domain.Servers.PowerAction.ForTask(server.TaskState) is not { } action) continue;
            var actionId = await db.InstanceActions.AsNoTracking().Where(a => a.ServerId == server.Id && a.Action == action.Name)
                .OrderByDescending(a => a.Id).Select(a => (int?)a.Id).FirstOrDefaultAsync();
            if (actionId is not { } id) continue;
            var probe = await locks.TryAcquireAsync(LockResource.PowerAction(id), TimeSpan.Zero, CancellationToken.None);
            if (probe is null) continue;
            await probe.DisposeAsync();
            jobs.Enqueue<PowerJobs>(j => j.Run(id, null));
            resumed++;
        }

        return resumed;
    }

    /// <summary>Hangfire's cron for <see cref="WorkflowOptions.ReconcileEvery"/> (six fields: seconds first).</summary>
    public static string Cron(TimeSpan every) => every switch
    {
        { TotalSeconds: < 60 } => $"*/{Math.Max(1, (int)every.TotalSeconds)} * * * * *",
        { TotalMinutes: < 60 } => $"0 */{(int)every.TotalMinutes} * * * *",
        _ => "0 0 * * * *",
    };
}
