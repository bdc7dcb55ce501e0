using System.Runtime.CompilerServices;
using Hangfire;
using Hangfire.Server;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Migrations;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Telemetry;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// The durable Hangfire jobs: one per workflow step, each taking only the migration id. A step
/// holds its migration's lock (two workers never run one migration at once; a duplicate delivery
/// finds the lock held and steps aside), is retried by Hangfire, and when its retries are spent
/// the migration is rolled back.
/// </summary>
public sealed partial class MigrationJobs(
    IServiceScopeFactory scopes,
    IBackgroundJobClient jobs,
    WorkerLocks locks,
    ILogger<MigrationJobs> logger)
{
    /// <summary>Retries after the first attempt; the rollback runs when the last one fails.</summary>
    public const int Retries = DurableJob.Retries;

    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task Prep(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.PrepAsync(migrationId, ct), () => jobs.Enqueue<MigrationJobs>(j => j.CopyBase(migrationId, null)));

    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task CopyBase(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.CopyBaseAsync(migrationId, ct), () => jobs.Enqueue<MigrationJobs>(j => j.CutOver(migrationId, null)));

    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task CutOver(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.CutOverAsync(migrationId, ct), () => jobs.Enqueue<MigrationJobs>(j => j.Finish(migrationId, null)));

    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task Finish(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.FinishAsync(migrationId, ct), next: null);

    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task Confirm(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.ConfirmAsync(migrationId, ct), next: null);

    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task Revert(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.RevertAsync(migrationId, ct), next: null);

    /// <summary>Carries on a rollback that was cut short (enqueued by <see cref="Resume"/>).</summary>
    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task RollBack(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.RollBackAsync(migrationId, reason: null, ct), next: null);

    /// <summary>Enqueues the step a stalled migration is waiting for (used by the reconciler).</summary>
    public async Task Resume(int migrationId)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var migration = await db.Migrations.AsNoTracking().SingleOrDefaultAsync(m => m.Id == migrationId);
        var checkpoint = await db.MigrationCheckpoints.AsNoTracking().SingleOrDefaultAsync(c => c.MigrationId == migrationId);
        if (migration is null || checkpoint is null) return;
        if (migration.Type == MigrationType.LiveMigration)
        {
            jobs.Enqueue<LiveMigrationJobs>(j => j.Run(migrationId, null));
            return;
        }

        if (checkpoint.RollbackReason is not null)
        {
            jobs.Enqueue<MigrationJobs>(j => j.RollBack(migrationId, null));
            return;
        }

        switch (migration.Status)
        {
            case MigrationStatus.PreMigrating when migration.DestCompute is null: jobs.Enqueue<MigrationJobs>(j => j.Prep(migrationId, null)); break;
            case MigrationStatus.PreMigrating: jobs.Enqueue<MigrationJobs>(j => j.CopyBase(migrationId, null)); break;
            case MigrationStatus.Migrating when checkpoint.SourceHaltedAt is null && !checkpoint.Disks.All(d => d.BaseCopied) || checkpoint.Disks.Count == 0:
                jobs.Enqueue<MigrationJobs>(j => j.CopyBase(migrationId, null)); break;
            case MigrationStatus.Migrating: jobs.Enqueue<MigrationJobs>(j => j.CutOver(migrationId, null)); break;
            case MigrationStatus.PostMigrating: jobs.Enqueue<MigrationJobs>(j => j.Finish(migrationId, null)); break;
            case MigrationStatus.Confirming: jobs.Enqueue<MigrationJobs>(j => j.Confirm(migrationId, null)); break;
            case MigrationStatus.Reverting: jobs.Enqueue<MigrationJobs>(j => j.Revert(migrationId, null)); break;
        }
    }

    private async Task RunAsync(int migrationId, PerformContext? context, Func<ResizeWorkflow, CancellationToken, Task> step, Action? next,
        [CallerMemberName] string stepName = "")
    {
        // The step's span and log scope (its request id) cover the whole delivery, failures included.
        var requestId = await MigrationStepScope.RequestIdAsync(scopes, migrationId, CancellationToken.None);
        using var observed = MigrationStepScope.Begin(logger, migrationId, stepName, requestId);
        var outcome = await DurableJob.RunAsync(locks, LockResource.Migration(migrationId), context, logger, $"Migration {migrationId}", "The migration",
            async ct =>
            {
                await using var scope = scopes.CreateAsyncScope();
                await step(scope.ServiceProvider.GetRequiredService<ResizeWorkflow>(), ct);
            },
            (reason, ct) => RollBackAsync(migrationId, reason, ct));
        if (outcome != DurableJob.Outcome.GaveUp) observed.Succeeded(); // stepping aside is no failure
        if (outcome == DurableJob.Outcome.Done) next?.Invoke();
    }

    private async Task RollBackAsync(int migrationId, string reason, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<ResizeWorkflow>().RollBackAsync(migrationId, reason, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The rollback itself met a fault (a host still down): the reconciler tries again later.
            LogRollbackFailed(logger, migrationId, e.Message);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Migration {MigrationId}: rollback failed ({Reason})")]
    private static partial void LogRollbackFailed(ILogger logger, int migrationId, string reason);
}

/// <summary>
/// Recurring: re-enqueues the step of any migration in a working status that nobody is working on
/// (its lock is free) and whose rows have not moved for <see cref="WorkflowOptions.ReconcileAfter"/>:
/// a process killed mid-step, a crash between commit and enqueue, a lost job.
/// </summary>
public sealed class MigrationReconciler(XenMigrateDbContext db, IBackgroundJobClient jobs, WorkerLocks locks,
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

    public async Task Run()
    {
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
            jobs.Enqueue<MigrationJobs>(j => j.Resume(id));
        }

        // Builds and deletes no worker carries on (their process was killed, or the job was lost).
        foreach (var (serverId, deleting) in await servers.StalledAsync(cutoff, CancellationToken.None))
        {
            var probe = await locks.TryAcquireAsync(LockResource.Server(serverId), TimeSpan.Zero, CancellationToken.None);
            if (probe is null) continue;
            await probe.DisposeAsync();
            if (deleting) jobs.Enqueue<ServerJobs>(j => j.Delete(serverId, null));
            else jobs.Enqueue<ServerJobs>(j => j.Build(serverId, null));
        }

        await ResumePowerActionsAsync(cutoff);
    }

    /// <summary>
    /// A power action whose server has shown its task for a while and whose lock is free lost its job
    /// (a crash between commit and enqueue, a killed worker): its job runs again and finds what was done.
    /// </summary>
    private async Task ResumePowerActionsAsync(DateTime cutoff)
    {
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
        }
    }

    /// <summary>Hangfire's cron for <see cref="WorkflowOptions.ReconcileEvery"/> (six fields: seconds first).</summary>
    public static string Cron(TimeSpan every) => every switch
    {
        { TotalSeconds: < 60 } => $"*/{Math.Max(1, (int)every.TotalSeconds)} * * * * *",
        { TotalMinutes: < 60 } => $"0 */{(int)every.TotalMinutes} * * * *",
        _ => "0 0 * * * *",
    };
}
