using Hangfire;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Common;
using XenMigrate.Domain.Flavors;
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
    /// Records the servers of one create request (BUILD/scheduling), their membership of the group
    /// they asked for, and each one's create action within the project's quota (checked and
    /// committed under the project's hold, so concurrent creates cannot overshoot it), then
    /// enqueues each boot. Between <paramref name="minCount"/> and <paramref name="maxCount"/>
    /// servers are made, as many as the quota leaves room for (Nova's _check_num_instances_quota);
    /// <paramref name="make"/> builds the server of each launch index once the count is known.
    /// </summary>
    /// <exception cref="QuotaExceededException">No room for <paramref name="minCount"/> servers of the flavor or in the group, or more metadata than metadata_items.</exception>
    public async Task<IReadOnlyList<Server>> CreateAsync(string projectId, FlavorSnapshot flavor, int metadataItems, int minCount, int maxCount,
        Func<int, int, Server> make, ServerGroup? group, RequestContext caller, CancellationToken ct)
    {
        await quotas.EnsureMetadataWithinLimitAsync(projectId, metadataItems, ct);
        var servers = new List<Server>();
        await using (var hold = await quotas.HoldProjectAsync(projectId, ct))
        {
            var count = Math.Min(maxCount, await quotas.ServersThatFitAsync(projectId, flavor, ct));
            if (count < minCount) await quotas.EnsureRoomForServersAsync(projectId, flavor, minCount, ct); // throws Nova's "Quota exceeded for …"
            if (group is not null) await quotas.EnsureRoomInGroupAsync(group, count, ct);
            for (var index = 0; index < count; index++)
            {
                var server = make(index, count);
                servers.Add(server);
                db.Servers.Add(server);
                if (group is not null) db.ServerGroupMembers.Add(new ServerGroupMember(group.Id, server.Id));
                db.InstanceActions.Add(new InstanceAction(server.Id, InstanceActionNames.Create, caller.RequestId, caller.UserId, caller.ProjectId, Now));
            }

            await db.SaveChangesAsync(ct);
            await hold.CommitAsync(ct);
        }

        foreach (var server in servers)
        {
            var id = server.Id;
            jobs.Enqueue<ServerJobs>(j => j.Build(id, null));
        }

        return servers;
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
