using System.Runtime.CompilerServices;
using Hangfire;
using Hangfire.Server;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Migrations;
using XenMigrate.Infrastructure.Compute.LiveMigration;
using XenMigrate.Infrastructure.Durable;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Telemetry;

namespace XenMigrate.Infrastructure.Compute.Resize;

/// <summary>
/// The durable Hangfire jobs: one per workflow step, each taking only the migration id. A step
/// holds its migration's lock (two workers never run one migration at once; a duplicate delivery
/// finds the lock held and steps aside), is retried by Hangfire, and when its retries are spent
/// the migration is rolled back.
/// </summary>
public sealed partial class ResizeJobs(
    IServiceScopeFactory scopes,
    IBackgroundJobClient jobs,
    WorkerLocks locks,
    ILogger<ResizeJobs> logger) : DurableJobs(scopes)
{
    /// <summary>Retries after the first attempt; the rollback runs when the last one fails.</summary>
    public const int Retries = DurableJob.Retries;

    [StepName("plan the move and prepare the destination")]
    public Task Prep(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.PrepAsync(migrationId, ct), () => jobs.Enqueue<ResizeJobs>(j => j.CopyBase(migrationId, null)));

    [StepName("copy the disks while the server runs")]
    public Task CopyBase(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.CopyBaseAsync(migrationId, ct), () => jobs.Enqueue<ResizeJobs>(j => j.CutOver(migrationId, null)));

    [StepName("stop, copy the last changes, start on the destination")]
    public Task CutOver(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.CutOverAsync(migrationId, ct), () => jobs.Enqueue<ResizeJobs>(j => j.Finish(migrationId, null)));

    [StepName("finish (VERIFY_RESIZE or done)")]
    public Task Finish(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.FinishAsync(migrationId, ct), next: null);

    [StepName("confirm (remove the source)")]
    public Task Confirm(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.ConfirmAsync(migrationId, ct), next: null);

    [StepName("revert (restart the source)")]
    public Task Revert(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.RevertAsync(migrationId, ct), next: null);

    /// <summary>Carries on a rollback that was cut short (enqueued by <see cref="Resume"/>).</summary>
    [StepName("roll back a failed move")]
    public Task RollBack(int migrationId, PerformContext? context) =>
        RunAsync(migrationId, context, (w, ct) => w.RollBackAsync(migrationId, reason: null, ct), next: null);

    /// <summary>Enqueues the step a stalled migration is waiting for (used by the reconciler).</summary>
    [StepName("resume where it stopped")]
    public async Task Resume(int migrationId)
    {
        await using var scope = Scopes.CreateAsyncScope();
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
            jobs.Enqueue<ResizeJobs>(j => j.RollBack(migrationId, null));
            return;
        }

        switch (migration.Status)
        {
            case MigrationStatus.PreMigrating when migration.DestCompute is null: jobs.Enqueue<ResizeJobs>(j => j.Prep(migrationId, null)); break;
            case MigrationStatus.PreMigrating: jobs.Enqueue<ResizeJobs>(j => j.CopyBase(migrationId, null)); break;
            case MigrationStatus.Migrating when checkpoint.SourceHaltedAt is null && !checkpoint.Disks.All(d => d.BaseCopied) || checkpoint.Disks.Count == 0:
                jobs.Enqueue<ResizeJobs>(j => j.CopyBase(migrationId, null)); break;
            case MigrationStatus.Migrating: jobs.Enqueue<ResizeJobs>(j => j.CutOver(migrationId, null)); break;
            case MigrationStatus.PostMigrating: jobs.Enqueue<ResizeJobs>(j => j.Finish(migrationId, null)); break;
            case MigrationStatus.Confirming: jobs.Enqueue<ResizeJobs>(j => j.Confirm(migrationId, null)); break;
            case MigrationStatus.Reverting: jobs.Enqueue<ResizeJobs>(j => j.Revert(migrationId, null)); break;
        }
    }

    private async Task RunAsync(int migrationId, PerformContext? context, Func<ResizeWorkflow, CancellationToken, Task> step, Action? next,
        [CallerMemberName] string stepName = "")
    {
        // The step's span and log scope (its request id) cover the whole delivery, failures included.
        var requestId = await MigrationStepScope.RequestIdAsync(Scopes, migrationId, CancellationToken.None);
        using var observed = MigrationStepScope.Begin(logger, migrationId, stepName, requestId);
        var outcome = await DurableJob.RunAsync(locks, LockResource.Migration(migrationId), context, logger, $"Migration {migrationId}", "The migration",
            ct => InScopeAsync<ResizeWorkflow>(w => step(w, ct)),
            (reason, ct) => RollBackAsync(migrationId, reason, ct));
        if (outcome != DurableJob.Outcome.GaveUp) observed.Succeeded(); // stepping aside is no failure
        if (outcome == DurableJob.Outcome.Done) next?.Invoke();
    }

    private async Task RollBackAsync(int migrationId, string reason, CancellationToken ct)
    {
        try
        {
            await InScopeAsync<ResizeWorkflow>(w => w.RollBackAsync(migrationId, reason, ct));
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
