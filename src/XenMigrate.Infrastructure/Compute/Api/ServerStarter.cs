using Hangfire;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Common;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.ServerGroups;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Lifecycle;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// What the API does for create and delete: commit the server's new state and the instance action
/// before the answer, then enqueue the job that does the work on XenServer.
/// </summary>
public sealed class ServerStarter(XenMigrateDbContext db, IBackgroundJobClient jobs, Quotas.QuotaService quotas, TimeProvider time)
{
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Records the new server (BUILD/scheduling), its membership of the group it asked for, and its create action within the project's quota
    /// (checked and committed under the project's hold, so concurrent creates cannot overshoot it),
    /// then enqueues the boot.
    /// </summary>
    /// <exception cref="QuotaExceededException">No room left for the server's flavor or in its group, or more metadata than metadata_items.</exception>
    public async Task CreateAsync(Server server, ServerGroup? group, RequestContext caller, CancellationToken ct)
    {
        await quotas.EnsureMetadataWithinLimitAsync(server.ProjectId, server.Metadata.Count, ct);
        await using (var hold = await quotas.HoldProjectAsync(server.ProjectId, ct))
        {
            await quotas.EnsureRoomForServerAsync(server.ProjectId, server.Flavor, ct);
            if (group is not null)
            {
                await quotas.EnsureRoomInGroupAsync(group, ct);
                db.ServerGroupMembers.Add(new ServerGroupMember(group.Id, server.Id));
            }

            db.Servers.Add(server);
            db.InstanceActions.Add(new InstanceAction(server.Id, InstanceActionNames.Create, caller.RequestId, caller.UserId, caller.ProjectId, Now));
            await db.SaveChangesAsync(ct);
            await hold.CommitAsync(ct);
        }

        jobs.Enqueue<ServerJobs>(j => j.Build(server.Id, null));
    }

    /// <summary>
    /// Deletes a server: task_state deleting and the action committed, then the job destroys the
    /// VMs. A server on no host has nothing on XenServer and is deleted at once (Nova's local delete).
    /// An earlier delete still running is left to finish (the answer is the same 204).
    /// </summary>
    public async Task DeleteAsync(Server server, RequestContext caller, CancellationToken ct)
    {
        if (server.TaskState == TaskState.Deleting && !(server.Locked && !caller.IsAdmin)) return;
        server.BeginDelete(caller.IsAdmin, Now);
        db.InstanceActions.Add(new InstanceAction(server.Id, InstanceActionNames.Delete, caller.RequestId, caller.UserId, caller.ProjectId, Now));
        var placed = server.Host is not null
                     || await db.Migrations.AnyAsync(m => m.InstanceUuid == server.Id && m.Status == MigrationStatus.Finished, ct);
        if (!placed) server.MarkDeleted(Now);
        await db.SaveChangesAsync(ct);
        if (placed) jobs.Enqueue<ServerJobs>(j => j.Delete(server.Id, null));
    }
}
