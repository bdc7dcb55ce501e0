using Hangfire;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.LiveMigration;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// What the API does for os-migrateLive and for aborting one: the server's state, the migration
/// record, the instance action and the checkpoint are committed before the answer, then the job
/// is enqueued (a crash in between is picked up by the reconciler).
/// </summary>
public sealed class LiveMigrationStarter(XenMigrateDbContext db, IBackgroundJobClient jobs, XenServer.IHypervisorDriver driver, TimeProvider time)
{
    /// <summary>Nova's instance action names (nova/compute/instance_actions.py).</summary>

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Starts the live migration. With <paramref name="force"/> (2.30–2.67) the named host is taken
    /// as it is; otherwise the scheduler picks or checks the destination in the job.
    /// </summary>
    public async Task<Migration> StartAsync(Server server, string? requestedHost, bool force, RequestContext caller, CancellationToken ct)
    {
        server.EnsureCanLiveMigrate(caller.IsAdmin);
        await MigrationStarter.AssertMovableAsync(driver, server, ct);
        server.BeginLiveMigration(caller.IsAdmin, Now);
        var migration = new Migration(Guid.NewGuid(), server.Id, MigrationType.LiveMigration, server.Host!, server.Node,
            server.Flavor.FlavorInternalId, server.Flavor.FlavorInternalId, server.ProjectId, caller.UserId, Now);
        if (force && requestedHost is not null)
        {
            var url = await db.ComputeHosts.AsNoTracking().Where(h => h.Name == requestedHost).Select(h => h.XapiUrl).FirstOrDefaultAsync(ct);
            migration.SetDestination(requestedHost, requestedHost, Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.Host : null, Now);
        }

        await MigrationStarter.CommitNewAsync(db, migration, InstanceActionNames.LiveMigration, requestedHost, caller, Now, ct);
        jobs.Enqueue<LiveMigrationJobs>(j => j.Run(migration.Id, null));
        return migration;
    }

    /// <summary>
    /// Nova's live_migrate_abort: the server must be migrating, the migration must be this
    /// server's, and running (from 2.65 also queued or preparing). The worker cancels the XAPI task.
    /// </summary>
    public async Task AbortAsync(Server server, int migrationId, bool abortInQueue, RequestContext caller, CancellationToken ct)
    {
        server.EnsureLiveMigrating("abort live migration");
        var migration = await LiveMigrationAsync(server, migrationId, "abort live migration",
            abortInQueue ? [MigrationStatus.Running, MigrationStatus.Queued, MigrationStatus.Preparing] : [MigrationStatus.Running], ct);
        var checkpoint = await db.MigrationCheckpoints.SingleAsync(c => c.MigrationId == migration.Id, ct);
        checkpoint.AbortRequestedAt ??= Now;
        checkpoint.UpdatedAt = Now;
        db.InstanceActions.Add(new InstanceAction(server.Id, InstanceActionNames.LiveMigrationCancel, caller.RequestId, caller.UserId, caller.ProjectId, Now));
        await db.SaveChangesAsync(ct);
        // A migration still waiting for its job (queued, preparing) is ended by that job when it runs.
        jobs.Enqueue<LiveMigrationJobs>(j => j.Run(migration.Id, null));
    }

    /// <summary>
    /// Nova's live_migrate_force_complete on a running migration. XenServer's migrate_send has no
    /// such switch (its stop-and-copy always follows the copy), so this records the action only.
    /// </summary>
    public async Task ForceCompleteAsync(Server server, int migrationId, RequestContext caller, CancellationToken ct)
    {
        server.EnsureLiveMigrating("force complete");
        await LiveMigrationAsync(server, migrationId, "force complete", [MigrationStatus.Running], ct);
        db.InstanceActions.Add(new InstanceAction(server.Id, InstanceActionNames.LiveMigrationForceComplete, caller.RequestId, caller.UserId, caller.ProjectId, Now));
        await db.SaveChangesAsync(ct);
    }

    private async Task<Migration> LiveMigrationAsync(Server server, int migrationId, string method, MigrationStatus[] allowed, CancellationToken ct)
    {
        var migration = await db.Migrations.AsNoTracking().FirstOrDefaultAsync(m => m.Id == migrationId && m.InstanceUuid == server.Id, ct)
                        ?? throw new MigrationNotFoundForInstanceException(migrationId, server.Id);
        if (!allowed.Contains(migration.Status))
            throw new InvalidMigrationStateException(migrationId, server.Id, migration.Status.ToNovaName(), method);
        return migration;
    }
}

