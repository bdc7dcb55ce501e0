using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Common;
using XenMigrate.Domain.Drains;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Drains;

/// <summary>
/// Moves a drain forward by one look at the world: settles the moves under way from their
/// migrations (a finished cold move is confirmed here), then starts pending ones while there are
/// free slots. It holds no state of its own — a crash between two passes loses nothing, because
/// the next pass reads the servers and migrations again (a move started but not yet recorded is
/// found as a busy server, then as a finished resize to confirm).
/// </summary>
public sealed partial class HostDrainCoordinator(XenMigrateDbContext db, MigrationStarter starter, LiveMigrationStarter liveStarter,
    TimeProvider time, ILogger<HostDrainCoordinator> logger)
{
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    public async Task AdvanceAsync(int drainId, CancellationToken ct)
    {
        var drain = await db.HostDrains.SingleAsync(d => d.Id == drainId, ct);
        if (drain.IsFinished) return;

        foreach (var item in drain.Items.Where(i => i.IsActive).ToList()) await SettleAsync(drain, item, ct);
        if (drain.Status == HostDrainStatus.Running)
        {
            foreach (var item in drain.Items.Where(i => i.Status == DrainItemStatus.Pending).OrderBy(i => i.Id).ToList())
            {
                if (drain.FreeSlots == 0) break;
                await StartAsync(drain, item, ct);
            }
        }

        drain.FinishIfSettled(Now);
        drain.FinishCancelIfSettled(Now);
        await db.SaveChangesAsync(ct);
        if (drain.IsFinished) LogFinished(logger, drain.Uuid, drain.Host, drain.Status);
    }

    /// <summary>Reads how a move under way is doing and records its outcome.</summary>
    private async Task SettleAsync(HostDrain drain, HostDrainItem item, CancellationToken ct)
    {
        // The migration first, then the server: a move commits both in one save, so a server read
        // after its migration is at least as new — read the other way round, a move finishing
        // between the reads shows "completed" beside the server still on this host.
        var migration = await db.Migrations.AsNoTracking().FirstOrDefaultAsync(m => m.Uuid == item.MigrationUuid, ct);
        var server = await db.Servers.FirstOrDefaultAsync(s => s.Id == item.ServerId, ct);
        if (server is null)
        {
            item.Skip("the server was deleted", Now);
            return;
        }

        if (migration is null) return; // recorded before its migration committed: look again next pass

        switch (migration.Status)
        {
            case MigrationStatus.Finished when server.VmState == VmState.Resized:
                await ConfirmAsync(drain, item, server, ct);
                break;
            case MigrationStatus.Confirmed:
            case MigrationStatus.Completed:
                if (item.Method == DrainMethod.Confirm && server.Host == drain.Host) item.Requeue(Now); // it was resized onto this host
                else item.Moved(server.Host ?? migration.DestCompute ?? "?", Now);
                break;
            case MigrationStatus.Error or MigrationStatus.Failed or MigrationStatus.Cancelled or MigrationStatus.Reverted:
                var why = FailureOf(server, migration, item);
                if (item.Method == DrainMethod.Live && item.Attempts == 1 && server.TaskState is null && server.Host == drain.Host)
                {
                    LogLiveFellBack(logger, server.Id, why);
                    item.Wait($"live migration failed ({why}); moving it cold", Now);
                    await StartColdAsync(drain, item, server, ct);
                }
                else
                {
                    item.Fail(why, Now);
                }

                break;
        }
    }

    private async Task StartAsync(HostDrain drain, HostDrainItem item, CancellationToken ct)
    {
        var server = await db.Servers.FirstOrDefaultAsync(s => s.Id == item.ServerId, ct);
        if (server is null)
        {
            item.Skip("the server was deleted", Now);
            return;
        }

        var oldCopyHere = server.VmState == VmState.Resized && server.PreviousHost == drain.Host;
        if (server.Host != drain.Host && !oldCopyHere)
        {
            item.Moved(server.Host ?? "?", Now); // moved off by someone else meanwhile: the host is rid of it all the same
            return;
        }

        if (server.TaskState is { } task)
        {
            item.Wait($"waiting for task_state {task.ToNovaName()} to finish", Now);
            return;
        }

        switch (server.VmState)
        {
            case VmState.Resized:
                // Its resize waits for a confirm; confirming frees the old copy on this host or, when it was
                // resized onto this host, lets it be moved on afterwards.
                await ConfirmAsync(drain, item, server, ct, DrainMethod.Confirm);
                break;
            case VmState.Active or VmState.Paused:
                await StartLiveAsync(drain, item, server, ct);
                break;
            case VmState.Stopped:
                await StartColdAsync(drain, item, server, ct);
                break;
            default:
                item.Fail($"a server in vm_state {server.VmState.ToNovaName()} cannot be moved; stop or repair it first", Now);
                break;
        }
    }

    private async Task StartLiveAsync(HostDrain drain, HostDrainItem item, Server server, CancellationToken ct) =>
        await RunAsync(item, server, async () =>
        {
            var migration = await liveStarter.StartAsync(server, requestedHost: null, force: false, CallerOf(drain), ct);
            item.Start(DrainMethod.Live, migration.Uuid, Now);
        });

    private async Task StartColdAsync(HostDrain drain, HostDrainItem item, Server server, CancellationToken ct) =>
        await RunAsync(item, server, async () =>
        {
            var migration = await starter.StartAsync(server, server.Flavor, InstanceActionNames.Migrate, null, CallerOf(drain), ct);
            item.Start(DrainMethod.Cold, migration.Uuid, Now);
        });

    private async Task ConfirmAsync(HostDrain drain, HostDrainItem item, Server server, CancellationToken ct, DrainMethod? asMethod = null) =>
        await RunAsync(item, server, async () =>
        {
            var migration = await db.Migrations.AsNoTracking()
                .Where(m => m.InstanceUuid == server.Id && m.Status == MigrationStatus.Finished)
                .OrderByDescending(m => m.Id).FirstAsync(ct);
            await starter.ConfirmAsync(server, CallerOf(drain), ct);
            if (asMethod is { } method) item.Start(method, migration.Uuid, Now);
            item.Confirming(migration.DestCompute ?? server.Host ?? "?", Now);
        });

    /// <summary>
    /// Runs one start or confirm. A refusal fails the item with the reason; a lost race with another
    /// writer leaves it for the next pass.
    /// </summary>
    private async Task RunAsync(HostDrainItem item, Server server, Func<Task> action)
    {
        try
        {
            await action();
            await db.SaveChangesAsync();
        }
        catch (DbUpdateConcurrencyException)
        {
            // someone else changed the server meanwhile: forget this attempt, look again next pass
            foreach (var entry in db.ChangeTracker.Entries().Where(e => e.Entity is not HostDrain).ToList()) entry.State = EntityState.Detached;
            item.Wait("the server changed meanwhile; trying again", Now);
        }
        catch (DomainException e)
        {
            db.Entry(server).State = EntityState.Detached;
            item.Fail(e.Message, Now);
        }
    }

    private static string FailureOf(Server server, Migration migration, HostDrainItem item)
    {
        var fault = server.Fault is { } f && item.StartedAt is { } started && f.CreatedAt >= started ? f.Message : null;
        return fault ?? $"migration {migration.Uuid} ended {migration.Status.ToNovaName()}";
    }

    private static RequestContext CallerOf(HostDrain drain) =>
        RequestContext.ActingFor(drain.UserId, drain.ProjectId, "req-" + Guid.NewGuid());

    [LoggerMessage(Level = LogLevel.Information, Message = "Live migration of {ServerId} failed ({Reason}); the drain moves it cold")]
    private static partial void LogLiveFellBack(ILogger logger, Guid serverId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drain {DrainId} of host {Host} finished: {Status}")]
    private static partial void LogFinished(ILogger logger, Guid drainId, string host, HostDrainStatus status);
}
