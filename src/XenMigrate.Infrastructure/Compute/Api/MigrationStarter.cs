using Hangfire;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Common;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Compute.Resize;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// What the API does for resize, migrate, confirm and revert: change the server's state, record
/// the migration and the instance action, commit — all before the response — then enqueue the
/// first step. Two requests racing on one server meet the optimistic concurrency check: one wins.
/// </summary>
public sealed class MigrationStarter(XenMigrateDbContext db, IBackgroundJobClient jobs, XenServer.IHypervisorDriver driver, Quotas.QuotaService quotas,
    TimeProvider time)
{
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Resize (to another flavor) or cold migration (same flavor, action "migrate"). A resize's
    /// growth is checked against the quota and committed under the project's hold, so concurrent
    /// resizes and creates cannot overshoot it.
    /// </summary>
    /// <exception cref="QuotaExceededException">The larger flavor does not fit the project's quota.</exception>
    public async Task<Migration> StartAsync(Server server, FlavorSnapshot newFlavor, string action, string? requestedHost, RequestContext caller, CancellationToken ct)
    {
        var type = server.KindOfMoveTo(newFlavor);
        server.EnsureCanResize(action, caller.IsAdmin);
        await AssertMovableAsync(driver, server, ct);
        Migration migration;
        // Only a resize grows usage: a cold migration takes no hold on the project.
        await using (var hold = type == MigrationType.Resize ? await quotas.HoldProjectAsync(server.ProjectId, ct) : null)
        {
            if (hold is not null) await quotas.EnsureRoomForResizeAsync(server.ProjectId, server.Flavor, newFlavor, ct);
            server.BeginResize(action, newFlavor, caller.IsAdmin, Now);
            migration = new Migration(Guid.NewGuid(), server.Id, type, server.Host!, server.Node,
                server.Flavor.FlavorInternalId, newFlavor.FlavorInternalId, server.ProjectId, caller.UserId, Now);
            await CommitNewAsync(db, migration, action, requestedHost, caller, Now, ct);
            if (hold is not null) await hold.CommitAsync(ct);
        }

        jobs.Enqueue<ResizeJobs>(j => j.Prep(migration.Id, null));
        return migration;
    }

    /// <summary>
    /// Refuses before the 202 what no host could take (a vGPU, PCI or USB passthrough). A host that
    /// does not answer now is left to the first step, which checks again.
    /// </summary>
    internal static async Task AssertMovableAsync(XenServer.IHypervisorDriver driver, Server server, CancellationToken ct)
    {
        if (server.Host is null) return;
        try
        {
            await driver.AssertMovableAsync(server.Host, server.Id, ct);
        }
        catch (XenServer.UnmovableVmException e)
        {
            throw new ServerCannotMoveException(server.Id, e.Message);
        }
        catch (Exception e) when (e is Xapi.XapiException or Xapi.XapiTransportException or TimeoutException or XenServer.UnknownComputeHostException)
        {
            // Checked again, with everything else, when the move starts.
        }
    }

    /// <summary>
    /// Commits a new migration with the server's change (already made on the tracked entity), its
    /// instance action and its checkpoint — in one transaction: a crash between the two saves (the
    /// first assigns the migration id) must not leave a migration without its checkpoint.
    /// </summary>
    internal static async Task CommitNewAsync(XenMigrateDbContext db, Migration migration, string action, string? requestedHost, RequestContext caller,
        DateTime now, CancellationToken ct)
    {
        db.Migrations.Add(migration);
        db.InstanceActions.Add(new InstanceAction(migration.InstanceUuid, action, caller.RequestId, caller.UserId, caller.ProjectId, now));
        // Inside the caller's transaction (a quota hold) when there is one; else in one of its own.
        await using var own = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        await db.SaveChangesAsync(ct);
        db.MigrationCheckpoints.Add(new MigrationCheckpoint
        {
            MigrationId = migration.Id, StartRequestId = caller.RequestId, RequestedHost = requestedHost, UpdatedAt = now,
        });
        await db.SaveChangesAsync(ct);
        if (own is not null) await own.CommitAsync(ct);
    }

    public async Task ConfirmAsync(Server server, RequestContext caller, CancellationToken ct)
    {
        server.EnsureCanConfirmResize(caller.IsAdmin);
        var migration = await FinishedMigrationAsync(server, ct);
        migration.TransitionTo(MigrationStatus.Confirming, Now);
        await RecordAsync(server, migration, InstanceActionNames.ConfirmResize, caller, ct);
        jobs.Enqueue<ResizeJobs>(j => j.Confirm(migration.Id, null));
    }

    public async Task RevertAsync(Server server, RequestContext caller, CancellationToken ct)
    {
        server.BeginRevertResize(caller.IsAdmin, Now);
        var migration = await FinishedMigrationAsync(server, ct);
        migration.TransitionTo(MigrationStatus.Reverting, Now);
        await RecordAsync(server, migration, InstanceActionNames.RevertResize, caller, ct);
        jobs.Enqueue<ResizeJobs>(j => j.Revert(migration.Id, null));
    }

    private async Task RecordAsync(Server server, Migration migration, string action, RequestContext caller, CancellationToken ct)
    {
        db.InstanceActions.Add(new InstanceAction(server.Id, action, caller.RequestId, caller.UserId, caller.ProjectId, Now));
        var checkpoint = await db.MigrationCheckpoints.SingleAsync(c => c.MigrationId == migration.Id, ct);
        checkpoint.ConfirmOrRevertRequestId = caller.RequestId;
        checkpoint.UpdatedAt = Now;
        server.ReportProgress(server.Progress, Now); // bumps the row: a racing confirm and revert cannot both commit
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Nova's "Instance has not been resized." when no migration of the server is finished.</summary>
    private async Task<Migration> FinishedMigrationAsync(Server server, CancellationToken ct) =>
        await db.Migrations.Where(m => m.InstanceUuid == server.Id && m.Status == MigrationStatus.Finished)
            .OrderByDescending(m => m.Id).FirstOrDefaultAsync(ct)
        ?? throw new NotResizedException();
}
