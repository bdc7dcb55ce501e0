using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Migrations;
using XenMigrate.Infrastructure.Durable;
using XenMigrate.Infrastructure.Telemetry;

namespace XenMigrate.Infrastructure.Compute.LiveMigration;

/// <summary>
/// The durable Hangfire job of a live migration: one job carries it from accepted to its end,
/// holding the migration's lock (a duplicate delivery steps aside). Hangfire retries a pass that
/// failed (a host that did not answer); each pass resumes from the migration's status and
/// checkpoint. When the retries are spent before migrate_send started, the migration ends in error
/// with the server where it was; once it runs, the XenServer task decides, and the reconciler
/// resumes following it later.
/// </summary>
public sealed class LiveMigrationJobs(IServiceScopeFactory scopes, WorkerLocks locks, ILogger<LiveMigrationJobs> logger) : DurableJobs(scopes)
{
    [StepName("live migration")]
    public async Task Run(int migrationId, PerformContext? context)
    {
        var requestId = await MigrationStepScope.RequestIdAsync(Scopes, migrationId, CancellationToken.None);
        using var observed = MigrationStepScope.Begin(logger, migrationId, "LiveMigrate", requestId);
        var outcome = await DurableJob.RunAsync(locks, LockResource.Migration(migrationId), context, logger, $"Live migration {migrationId}", "The live migration",
            ct => InScopeAsync<LiveMigrationWorkflow>(w => w.RunAsync(migrationId, ct)),
            (reason, ct) => GiveUpAsync(migrationId, reason, ct));
        if (outcome != DurableJob.Outcome.GaveUp) observed.Succeeded(); // stepping aside is no failure
    }

    /// <summary>Nothing was started on XenServer yet: the migration ends in error and the server stays.</summary>
    private async Task GiveUpAsync(int migrationId, string reason, CancellationToken ct)
    {
        await using var scope = Scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Persistence.XenMigrateDbContext>();
        var status = (await db.Migrations.FindAsync([migrationId], ct))?.Status;
        if (status is not (MigrationStatus.Accepted or MigrationStatus.Queued or MigrationStatus.Preparing)) return; // running: the reconciler follows it later
        await scope.ServiceProvider.GetRequiredService<LiveMigrationWorkflow>().EndAsync(migrationId, MigrationStatus.Error, reason, ct);
    }
}
