using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// Nova's compute/api.py for the actions on an existing server: one call per action, each in
/// Nova's order — the visible server (404), policy (403), the source host (409), the aggregate's
/// guard (lock and state, 409), the request against the inventory (400) — then the starter records
/// the change, the migration and the instance action, commits once under <see cref="ConflictRetry"/>
/// and enqueues the work. The name given to the retry is the one Nova's 409 uses for the action. Endpoints only check the schema, call one of these and shape the answer.
/// </summary>
public sealed class ComputeApi(XenMigrateDbContext db, ConflictRetry retry, MigrationStarter migrations, LiveMigrationStarter liveMigrations,
    PowerActionStarter power, ServerStarter lifecycle, XenServer.IHypervisorDriver driver, TimeProvider time)
{
    /// <summary>compute_api.resize with a flavor: a resize.</summary>
    public Task ResizeServerAsync(RequestContext context, string serverId, string flavorRef, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.Resize, async () =>
        {
            var server = await MovableServerAsync(context, serverId, NovaPolicy.ServersResize, ct);
            server.EnsureCanResize(InstanceActionNames.Resize, context.IsAdmin);
            // A private flavor not shared with the caller's project is not found (Nova looks it up as the caller).
            var flavor = await db.Flavors.AsNoTracking().VisibleTo(context).FirstOrDefaultAsync(f => f.FlavorId == flavorRef, ct);
            if (flavor is null || flavor.Disabled) throw new FlavorNotFoundException(flavorRef);
            server.EnsureFlavorChanges(flavor.Snapshot());
            await migrations.StartAsync(server, flavor.Snapshot(), InstanceActionNames.Resize, null, context, ct);
        }, ct);

    /// <summary>compute_api.resize without a flavor: a cold migration, to <paramref name="host"/> if named (2.56).</summary>
    public Task MigrateServerAsync(RequestContext context, string serverId, string? host, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.Migrate, async () =>
        {
            var server = await MovableServerAsync(context, serverId, host is null ? NovaPolicy.Migrate : NovaPolicy.MigrateHost, ct);
            server.EnsureCanResize(InstanceActionNames.Migrate, context.IsAdmin);
            if (host is not null)
            {
                await EnsureHostExistsAsync(host, ct);
                if (host == server.Host) throw new CannotMigrateToSameHostException();
            }

            await migrations.StartAsync(server, server.Flavor, InstanceActionNames.Migrate, host, context, ct);
        }, ct);

    public Task ConfirmResizeAsync(RequestContext context, string serverId, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.ConfirmResize, async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ServersConfirmResize, ct);
            await migrations.ConfirmAsync(server, context, ct);
        }, ct);

    public Task RevertResizeAsync(RequestContext context, string serverId, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.RevertResize, async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ServersRevertResize, ct);
            await migrations.RevertAsync(server, context, ct);
        }, ct);

    /// <summary>compute_api.live_migrate; <paramref name="force"/> (2.30–2.67) takes the named host as it is.</summary>
    public Task LiveMigrateServerAsync(RequestContext context, string serverId, string? host, bool force, CancellationToken ct) =>
        retry.RunAsync(serverId, "os-migrateLive", async () =>
        {
            var server = await MovableServerAsync(context, serverId, NovaPolicy.MigrateLive, ct);
            server.EnsureCanLiveMigrate(context.IsAdmin);
            if (host is not null)
            {
                await EnsureHostExistsAsync(host, ct);
                if (host == server.Host) throw new UnableToMigrateToSelfException(server.Id, host);
            }

            await liveMigrations.StartAsync(server, host, force, context, ct);
        }, ct);

    /// <summary>compute_api.live_migrate_abort (2.24; from 2.65 also a queued or preparing one).</summary>
    public Task AbortLiveMigrationAsync(RequestContext context, string serverId, int migrationId, bool abortInQueue, CancellationToken ct) =>
        retry.RunAsync(serverId, "abort live migration", async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ServerMigrationsDelete, ct);
            await liveMigrations.AbortAsync(server, migrationId, abortInQueue, context, ct);
        }, ct);

    /// <summary>compute_api.live_migrate_force_complete (2.22).</summary>
    public Task ForceCompleteLiveMigrationAsync(RequestContext context, string serverId, int migrationId, CancellationToken ct) =>
        retry.RunAsync(serverId, "force complete", async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ServerMigrationsForceComplete, ct);
            await liveMigrations.ForceCompleteAsync(server, migrationId, context, ct);
        }, ct);

    /// <summary>compute_api.stop, start, pause, unpause, suspend, resume and reboot (soft or hard).</summary>
    public Task PowerActionAsync(RequestContext context, string serverId, PowerAction action, CancellationToken ct) =>
        retry.RunAsync(serverId, action.Name, async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, PowerPolicies[action], ct);
            if (action.ChecksHost && !string.IsNullOrEmpty(server.Host)) await EnsureSourceUpAsync(server, ct);
            await power.StartAsync(server, action, context, ct);
        }, ct);

    /// <summary>compute_api.delete: goes ahead whatever else was started meanwhile.</summary>
    public Task DeleteServerAsync(RequestContext context, string serverId, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.Delete, async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ServersDelete, ct);
            await lifecycle.DeleteAsync(server, context, ct);
        }, ct, otherActionsWin: false);

    /// <summary>
    /// compute_api.update_instance (PUT /servers/{id}): name, description, access addresses. A new
    /// name is given to the server's VMs first (their name_label is what XenCenter, Xen Orchestra
    /// and the inventory read), so the row never names a server its hosts call otherwise; a host
    /// that does not answer refuses the rename (409) and changes nothing.
    /// </summary>
    public async Task<Server> UpdateServerAsync(RequestContext context, string serverId, ServerUpdate update, CancellationToken ct)
    {
        Server? updated = null;
        await retry.RunAsync(serverId, "update", async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ServersUpdate, ct);
            if (update.Name is { } name && name != server.Name && server.Managed)
            {
                var hosts = new[] { server.Host, server.VmState == VmState.Resized ? server.PreviousHost : null }.OfType<string>().Distinct();
                foreach (var host in hosts)
                {
                    try
                    {
                        await driver.RenameServerAsync(host, server.Id, name, ct);
                    }
                    catch (Exception e) when (e is Xapi.XapiException or Xapi.XapiTransportException or TimeoutException or XenServer.UnknownComputeHostException)
                    {
                        throw new ServerRenameRefusedException(server.Id, host);
                    }
                }
            }

            server.Update(update.Name, update.SetDescription, update.Description, update.AccessIPv4, update.AccessIPv6, time.GetUtcNow().UtcDateTime);
            await db.SaveChangesAsync(ct);
            updated = server;
        }, ct, otherActionsWin: false); // not an instance action: it goes ahead whatever else runs
        return updated!;
    }

    /// <summary>compute_api.lock (a reason from 2.73): no state check, it holds whatever runs; instance action "lock".</summary>
    public Task LockServerAsync(RequestContext context, string serverId, string? reason, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.Lock, async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.LockServer, ct);
            var now = time.GetUtcNow().UtcDateTime;
            server.Lock(reason, now, byOwner: server.ProjectId == context.ProjectId);
            db.InstanceActions.Add(new InstanceAction(server.Id, InstanceActionNames.Lock, context.RequestId, context.UserId, context.ProjectId, now));
            await db.SaveChangesAsync(ct);
        }, ct, otherActionsWin: false);

    /// <summary>compute_api.unlock: another party's lock needs the override policy (admin).</summary>
    public Task UnlockServerAsync(RequestContext context, string serverId, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.Unlock, async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.UnlockServer, ct);
            if (server.IsLockedByOtherThan(byOwner: server.ProjectId == context.ProjectId)) context.Authorize(NovaPolicy.UnlockOverride, server.ProjectId);
            var now = time.GetUtcNow().UtcDateTime;
            server.Unlock(now);
            db.InstanceActions.Add(new InstanceAction(server.Id, InstanceActionNames.Unlock, context.RequestId, context.UserId, context.ProjectId, now));
            await db.SaveChangesAsync(ct);
        }, ct, otherActionsWin: false);

    /// <summary>admin_actions reset_state: vm_state active or error, task_state none (refused while a job moves, builds or deletes it).</summary>
    public Task ResetStateAsync(RequestContext context, string serverId, VmState state, CancellationToken ct) =>
        retry.RunAsync(serverId, "os-resetState", async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ResetState, ct);
            var moving = (await db.Migrations.AsNoTracking().Where(m => m.InstanceUuid == server.Id).ToListAsync(ct)).Any(m => m.IsInProgress);
            server.ResetState(state, moving, time.GetUtcNow().UtcDateTime);
            await db.SaveChangesAsync(ct);
        }, ct, otherActionsWin: false);

    /// <summary>
    /// deferred_delete restore: only a SOFT_DELETED server can be restored, and XenMigrate deletes at
    /// once (Nova with reclaim_instance_interval = 0), so every server answers Nova's 409.
    /// </summary>
    public async Task RestoreServerAsync(RequestContext context, string serverId, CancellationToken ct)
    {
        var server = await ServerLookup.FindVisibleAsync(db, context, serverId, ct);
        context.Authorize(NovaPolicy.RestoreServer, server.ProjectId);
        throw new InvalidServerStateException("restore", server.Id, "vm_state", server.VmState.ToNovaName());
    }

    /// <summary>deferred_delete forceDelete: with nothing soft-deleted, the delete itself (its own policy).</summary>
    public Task ForceDeleteServerAsync(RequestContext context, string serverId, CancellationToken ct) =>
        retry.RunAsync(serverId, InstanceActionNames.Delete, async () =>
        {
            var server = await AuthorizedServerAsync(context, serverId, NovaPolicy.ForceDeleteServer, ct);
            await lifecycle.DeleteAsync(server, context, ct);
        }, ct, otherActionsWin: false);

    /// <summary>
    /// A network-changed event (os-server-external-events): the server's addresses read again from
    /// its VM's VIFs and guest metrics, as Nova refreshes its info cache. The event is delivered
    /// either way (Nova casts it to the compute); a host that does not answer leaves them for the
    /// next inventory pass.
    /// </summary>
    public async Task RefreshAddressesAsync(Guid serverId, CancellationToken ct)
    {
        var server = await db.Servers.FirstOrDefaultAsync(s => s.Id == serverId, ct);
        if (server?.Host is not { } host) return;
        try
        {
            if (await driver.FindServerVmAsync(host, server.Id, ct) is not { } vm) return;
            server.ObserveAddresses(await driver.AddressesAsync(host, vm.Uuid, ct));
            await db.SaveChangesAsync(ct);
        }
        catch (Exception e) when (e is Xapi.XapiException or Xapi.XapiTransportException or TimeoutException or XenServer.UnknownComputeHostException)
        {
            // left as they were
        }
    }

    /// <summary>
    /// compute_api.get_instance_diagnostics: check_instance_host (a server on no host is 409 "not
    /// ready") and not while it is being deleted or migrated (409), then the VM's XAPI records.
    /// </summary>
    public async Task<XenServer.VmDiagnostics> DiagnosticsAsync(RequestContext context, string serverId, CancellationToken ct)
    {
        var server = await ServerLookup.FindVisibleAsync(db, context, serverId, ct);
        context.Authorize(NovaPolicy.ServerDiagnostics, server.ProjectId);
        if (server.Host is not { } host) throw new ServerNotReadyException(server.Id);
        if (server.TaskState is TaskState.Deleting or TaskState.Migrating)
            throw new InvalidServerStateException("get_diagnostics", server.Id, "task_state", server.TaskState.Value.ToNovaName());
        var vm = await driver.FindServerVmAsync(host, server.Id, ct) ?? throw new ServerNotReadyException(server.Id);
        return await driver.DiagnosticsAsync(host, vm.Uuid, ct);
    }

    private static readonly Dictionary<PowerAction, NovaPolicy.Rule> PowerPolicies = new()
    {
        [PowerAction.Stop] = NovaPolicy.ServersStop,
        [PowerAction.Start] = NovaPolicy.ServersStart,
        [PowerAction.Pause] = NovaPolicy.PauseServer,
        [PowerAction.Unpause] = NovaPolicy.UnpauseServer,
        [PowerAction.Suspend] = NovaPolicy.SuspendServer,
        [PowerAction.Resume] = NovaPolicy.ResumeServer,
        [PowerAction.SoftReboot] = NovaPolicy.ServersReboot,
        [PowerAction.HardReboot] = NovaPolicy.ServersReboot,
    };

    private async Task<Server> AuthorizedServerAsync(RequestContext context, string serverId, NovaPolicy.Rule rule, CancellationToken ct)
    {
        var server = await ServerLookup.FindVisibleAsync(db, context, serverId, ct, tracked: true);
        context.Authorize(rule, server.ProjectId);
        return server;
    }

    /// <summary>A server to move: visible, allowed, and on a host that is up.</summary>
    private async Task<Server> MovableServerAsync(RequestContext context, string serverId, NovaPolicy.Rule rule, CancellationToken ct)
    {
        var server = await AuthorizedServerAsync(context, serverId, rule, ct);
        await EnsureSourceUpAsync(server, ct);
        return server;
    }

    /// <summary>Nova's check_instance_host(check_is_up=True): the source compute must answer.</summary>
    private async Task EnsureSourceUpAsync(Server server, CancellationToken ct)
    {
        var host = await db.ComputeHosts.AsNoTracking().FirstOrDefaultAsync(h => h.Name == server.Host, ct);
        if (host is { IsUp: false } or { ForcedDown: true }) throw new ComputeServiceUnavailableException();
    }

    private async Task EnsureHostExistsAsync(string host, CancellationToken ct)
    {
        if (!await db.ComputeHosts.AnyAsync(h => h.Name == host, ct)) throw new ComputeHostNotFoundException(host);
    }
}
