using System.Text.Json.Nodes;
using FluentValidation;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// <c>POST /servers/{id}/action</c>: exactly one top-level key names the action; its body is
/// checked first, then the server is loaded (404), then policy (403), then lock and state (409),
/// then the request itself (400). The server's new state is committed before the answer.
/// </summary>
public static partial class ServerActionsApi
{
    public static void MapServerActions(this RouteGroupBuilder compute) =>
        compute.MapPost("/servers/{server_id}/action", Dispatch).WithTags("Servers")
            .WithSummary("Run a server action: resize, confirmResize, revertResize, migrate, os-stop, os-start, pause, unpause, suspend, resume")
            .WithDescription("""The body has exactly one key, e.g. {"resize":{"flavorRef":"3"}}, {"confirmResize":null}, {"revertResize":null}, {"migrate":null}, {"os-stop":null}, {"pause":null}.""");

    private static async Task<IResult> Dispatch(string server_id, NovaCaller caller, XenMigrateDbContext db, MigrationStarter starter,
        IValidator<ResizeRequest> resizeValidator, IValidator<MigrateRequest> migrateValidator, CancellationToken ct)
    {
        var json = await NovaRequestBody.ReadAsync(caller.Http.Request, ct);
        if (json is not JsonObject body || body.Count != 1) throw NovaFaultException.BadRequest(NovaMessages.MalformedBody);

        var (action, value) = body.Single();
        return action switch
        {
            "resize" => await RetryOnConflictAsync(server_id, action, db, () => ResizeAsync(server_id, new ResizeRequest(value), resizeValidator, caller, db, starter, ct), ct),
            "migrate" => await RetryOnConflictAsync(server_id, action, db, () => MigrateAsync(server_id, new MigrateRequest(value), migrateValidator, caller, db, starter, ct), ct),
            "confirmResize" => await RetryOnConflictAsync(server_id, action, db, () => ConfirmAsync(server_id, caller, db, starter, ct), ct),
            "revertResize" => await RetryOnConflictAsync(server_id, action, db, () => RevertAsync(server_id, caller, db, starter, ct), ct),
            "os-stop" => await RetryOnConflictAsync(server_id, "stop", db, () => PowerAsync(server_id, PowerAction.Stop, caller, db, ct), ct),
            "os-start" => await RetryOnConflictAsync(server_id, "start", db, () => PowerAsync(server_id, PowerAction.Start, caller, db, ct), ct),
            "pause" => await RetryOnConflictAsync(server_id, action, db, () => PowerAsync(server_id, PowerAction.Pause, caller, db, ct), ct),
            "unpause" => await RetryOnConflictAsync(server_id, action, db, () => PowerAsync(server_id, PowerAction.Unpause, caller, db, ct), ct),
            "suspend" => await RetryOnConflictAsync(server_id, action, db, () => PowerAsync(server_id, PowerAction.Suspend, caller, db, ct), ct),
            "resume" => await RetryOnConflictAsync(server_id, action, db, () => PowerAsync(server_id, PowerAction.Resume, caller, db, ct), ct),
            "os-migrateLive" => await RetryOnConflictAsync(server_id, action, db, () => LiveMigrateAsync(server_id, value, caller, db, ct), ct),
            _ => await NotImplementedHereAsync(server_id, action, caller, db, ct),
        };
    }

    /// <summary>Server actions Nova has that XenMigrate does not (yet): Nova would find the server first.</summary>
    private static readonly HashSet<string> OtherNovaActions = new(StringComparer.Ordinal)
    {
        "reboot", "rebuild", "createImage", "createBackup", "changePassword", "lock", "unlock", "shelve", "shelveOffload", "unshelve",
        "rescue", "unrescue", "addFloatingIp", "removeFloatingIp", "addSecurityGroup", "removeSecurityGroup", "addFixedIp", "removeFixedIp",
        "os-getConsoleOutput", "os-getVNCConsole", "os-getSPICEConsole", "os-getRDPConsole", "os-getSerialConsole", "os-resetState",
        "os-resetNetwork", "injectNetworkInfo", "evacuate", "forceDelete", "restore", "trigger_crash_dump",
    };

    /// <summary>
    /// An action this gateway lacks: for one of Nova's, another project's (or no) server is 404 as
    /// in Nova, which looks the server up before it runs the action; then, or for a name Nova does
    /// not know either, Nova's 400.
    /// </summary>
    private static async Task<IResult> NotImplementedHereAsync(string serverId, string action, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        if (OtherNovaActions.Contains(action)) await ServersApi.FindVisibleAsync(caller, db, serverId, ct);
        throw NovaFaultException.BadRequest(NovaMessages.NoSuchAction(action));
    }

    private static async Task<IResult> ResizeAsync(string serverId, ResizeRequest request, IValidator<ResizeRequest> validator,
        NovaCaller caller, XenMigrateDbContext db, MigrationStarter starter, CancellationToken ct)
    {
        Validate(validator, request);
        var server = await ServersApi.FindVisibleAsync(caller, db, serverId, ct, tracked: true);
        caller.Authorize(NovaPolicy.ServersResize, server.ProjectId);
        await EnsureSourceUpAsync(db, server, ct);
        server.EnsureCanResize(InstanceActionNames.Resize, caller.IsAdmin);

        var flavor = await db.Flavors.AsNoTracking().FirstOrDefaultAsync(f => f.FlavorId == request.FlavorRef, ct);
        if (flavor is null || flavor.Disabled) throw NovaFaultException.BadRequest(NovaMessages.FlavorNotFound(request.FlavorRef));
        server.EnsureFlavorChanges(flavor.Snapshot());

        await CommitAsync(db, () => starter.StartAsync(server, flavor.Snapshot(), InstanceActionNames.Resize, null, Of(caller), ct));
        return Results.Accepted();
    }

    private static async Task<IResult> MigrateAsync(string serverId, MigrateRequest request, IValidator<MigrateRequest> validator,
        NovaCaller caller, XenMigrateDbContext db, MigrationStarter starter, CancellationToken ct)
    {
        // Before 2.56 there is no schema for migrate and a host is ignored.
        var host = caller.Version.AtLeast(56) ? request.Host : null;
        if (caller.Version.AtLeast(56)) Validate(validator, request);

        var server = await ServersApi.FindVisibleAsync(caller, db, serverId, ct, tracked: true);
        caller.Authorize(host is null ? NovaPolicy.Migrate : NovaPolicy.MigrateHost, server.ProjectId);
        await EnsureSourceUpAsync(db, server, ct);
        server.EnsureCanResize(InstanceActionNames.Migrate, caller.IsAdmin);

        if (host is not null)
        {
            if (!await db.ComputeHosts.AnyAsync(h => h.Name == host, ct)) throw NovaFaultException.BadRequest(NovaMessages.ComputeHostNotFound(host));
            if (host == server.Host) throw NovaFaultException.BadRequest(NovaMessages.CannotMigrateToSameHost);
        }

        await CommitAsync(db, () => starter.StartAsync(server, server.Flavor, InstanceActionNames.Migrate, host, Of(caller), ct));
        return Results.Accepted();
    }

    private static async Task<IResult> ConfirmAsync(string serverId, NovaCaller caller, XenMigrateDbContext db, MigrationStarter starter, CancellationToken ct)
    {
        var server = await ServersApi.FindVisibleAsync(caller, db, serverId, ct, tracked: true);
        caller.Authorize(NovaPolicy.ServersConfirmResize, server.ProjectId);
        await CommitAsync(db, () => starter.ConfirmAsync(server, Of(caller), ct));
        return Results.NoContent();
    }

    private static async Task<IResult> RevertAsync(string serverId, NovaCaller caller, XenMigrateDbContext db, MigrationStarter starter, CancellationToken ct)
    {
        var server = await ServersApi.FindVisibleAsync(caller, db, serverId, ct, tracked: true);
        caller.Authorize(NovaPolicy.ServersRevertResize, server.ProjectId);
        await CommitAsync(db, () => starter.RevertAsync(server, Of(caller), ct));
        return Results.Accepted();
    }

    /// <summary>
    /// Runs the state change. When another writer changed the server in between (optimistic
    /// concurrency), the whole check-and-change runs again on the fresh row: a benign write (the
    /// inventory recording a power state) passes the second time, while a real competitor (another
    /// resize) now fails the state check with Nova's 409.
    /// </summary>
    private static async Task CommitAsync(XenMigrateDbContext db, Func<Task> change)
    {
        try
        {
            await change();
        }
        catch (DbUpdateConcurrencyException)
        {
            db.ChangeTracker.Clear();
            throw new ConflictRetry();
        }
    }

    /// <summary>
    /// Runs a handler again (at most three times in all) when its commit lost a race to a benign
    /// writer (the inventory recording a power state). When the writer was another action on the
    /// server — it recorded an instance action since this request first looked — this request lost:
    /// Nova's 409, even if that action has already finished, so of requests that race exactly one wins.
    /// </summary>
    private static async Task<IResult> RetryOnConflictAsync(string serverId, string action, XenMigrateDbContext db, Func<Task<IResult>> handler, CancellationToken ct)
    {
        var id = Guid.TryParse(serverId, out var parsed) ? parsed : (Guid?)null;
        var lastAction = id is null ? null : await LatestActionAsync(db, id.Value, ct);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await handler();
            }
            catch (ConflictRetry)
            {
                // A benign writer got there first: look again; another action: this one lost.
                if (attempt < 3 && await LatestActionAsync(db, id!.Value, ct) == lastAction) continue;
                db.ChangeTracker.Clear();
                var fresh = await db.Servers.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id!.Value, ct);
                if (fresh is null) return await handler(); // deleted meanwhile: the handler's lookup answers Nova's 404
                // Nova's own order: a confirm or revert after another one was accepted finds no finished migration.
                if (action is "confirmResize" or "revertResize" && fresh.TaskState is null
                    && !await db.Migrations.AsNoTracking().AnyAsync(m => m.InstanceUuid == fresh.Id && m.Status == Domain.Migrations.MigrationStatus.Finished, ct))
                    throw new NotResizedException();
                var state = fresh.TaskState is { } task ? ("task_state", task.ToNovaName()) : ("vm_state", fresh.VmState.ToNovaName());
                throw new InvalidServerStateException(action, fresh.Id, state.Item1, state.Item2);
            }
        }
    }

    private static Task<int?> LatestActionAsync(XenMigrateDbContext db, Guid serverId, CancellationToken ct) =>
        db.InstanceActions.AsNoTracking().Where(a => a.ServerId == serverId).MaxAsync(a => (int?)a.Id, ct);

    private sealed class ConflictRetry : Exception;

    internal static MigrationStarter.Caller Of(NovaCaller caller) => new(caller.UserId, caller.ProjectId, caller.IsAdmin, caller.RequestId);

    private static void Validate<T>(IValidator<T> validator, T request)
    {
        var result = validator.Validate(request);
        if (!result.IsValid) throw NovaFaultException.BadRequest(result.Errors[0].ErrorMessage);
    }

    /// <summary>Nova's check_instance_host(check_is_up=True): the source compute must answer.</summary>
    private static async Task EnsureSourceUpAsync(XenMigrateDbContext db, Server server, CancellationToken ct)
    {
        var host = await db.ComputeHosts.AsNoTracking().FirstOrDefaultAsync(h => h.Name == server.Host, ct);
        if (host is { IsUp: false } or { ForcedDown: true })
            throw new NovaFaultException(StatusCodes.Status409Conflict, NovaMessages.ServiceUnavailable);
    }
}
