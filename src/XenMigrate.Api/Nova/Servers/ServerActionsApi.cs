using System.Text.Json.Nodes;
using FluentValidation;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// <c>POST /servers/{id}/action</c>: exactly one top-level key names the action; its body is
/// checked against the action's schema here, then <see cref="ComputeApi"/> does the rest in
/// Nova's order (404, 403, 409, 400) and commits the server's new state before the answer.
/// </summary>
public static partial class ServerActionsApi
{
    public static void MapServerActions(this RouteGroupBuilder compute) =>
        compute.MapPost("/servers/{server_id}/action", Dispatch).WithTags("Servers").Produces(StatusCodes.Status202Accepted).Produces(StatusCodes.Status204NoContent)
            .WithSummary("Run a server action: resize, confirmResize, revertResize, migrate, os-migrateLive, reboot, os-stop, os-start, pause, unpause, suspend, resume, lock, unlock, os-resetState, restore, forceDelete")
            .WithDescription("""The body has exactly one key, e.g. {"resize":{"flavorRef":"3"}}, {"confirmResize":null}, {"revertResize":null}, {"migrate":null}, {"reboot":{"type":"SOFT"}}, {"os-stop":null}, {"pause":null}.""");

    private static async Task<IResult> Dispatch(string server_id, NovaCaller caller, XenMigrateDbContext db, ComputeApi compute,
        IValidator<ResizeRequest> resizeValidator, IValidator<MigrateRequest> migrateValidator, IValidator<RebootRequest> rebootValidator,
        CancellationToken ct)
    {
        var json = await NovaRequestBody.ReadAsync(caller.Http.Request, ct);
        if (json is not JsonObject body || body.Count != 1) throw NovaFaultException.BadRequest(NovaMessages.MalformedBody);

        var (action, value) = body.Single();
        var context = caller.Context;
        switch (action)
        {
            case "resize":
                var resize = Validated(resizeValidator, new ResizeRequest(value));
                await compute.ResizeServerAsync(context, server_id, resize.FlavorRef, ct);
                return Results.Accepted();
            case "migrate":
                // Before 2.56 there is no schema for migrate and a host is ignored.
                var host = caller.Version.AtLeast(56) ? Validated(migrateValidator, new MigrateRequest(value)).Host : null;
                await compute.MigrateServerAsync(context, server_id, host, ct);
                return Results.Accepted();
            case "confirmResize":
                await compute.ConfirmResizeAsync(context, server_id, ct);
                return Results.NoContent();
            case "revertResize":
                await compute.RevertResizeAsync(context, server_id, ct);
                return Results.Accepted();
            case "reboot":
                var reboot = Validated(rebootValidator, new RebootRequest(value));
                await compute.PowerActionAsync(context, server_id, reboot.Hard ? PowerAction.HardReboot : PowerAction.SoftReboot, ct);
                return Results.Accepted();
            case "lock":
                await compute.LockServerAsync(context, server_id, LockReason(value, caller.Version), ct);
                return Results.Accepted();
            case "unlock":
                await compute.UnlockServerAsync(context, server_id, ct);
                return Results.Accepted();
            case "os-resetState":
                await compute.ResetStateAsync(context, server_id, ResetStateTo(value), ct);
                return Results.Accepted();
            case "restore":
                await compute.RestoreServerAsync(context, server_id, ct);
                return Results.Accepted();
            case "forceDelete":
                await compute.ForceDeleteServerAsync(context, server_id, ct);
                return Results.Accepted();
            case "os-migrateLive":
                var live = LiveMigrateRequest.Parse(value, caller.Version);
                await compute.LiveMigrateServerAsync(context, server_id, live.Host, live.Force, ct);
                return Results.Accepted();
            default:
                if (PowerActionFor(action) is not { } power) return await NotImplementedHereAsync(server_id, action, caller, db, ct);
                await compute.PowerActionAsync(context, server_id, power, ct);
                return Results.Accepted();
        }
    }

    /// <summary>Server actions Nova has that XenMigrate does not (yet): Nova would find the server first.</summary>
    private static readonly HashSet<string> OtherNovaActions = new(StringComparer.Ordinal)
    {
        "rebuild", "createImage", "createBackup", "changePassword", "shelve", "shelveOffload", "unshelve",
        "rescue", "unrescue", "addFloatingIp", "removeFloatingIp", "addSecurityGroup", "removeSecurityGroup", "addFixedIp", "removeFixedIp",
        "os-getConsoleOutput", "os-getVNCConsole", "os-getSPICEConsole", "os-getRDPConsole", "os-getSerialConsole",
        "os-resetNetwork", "injectNetworkInfo", "evacuate", "trigger_crash_dump",
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

    /// <summary>schemas/reset_server_state.py: {"state": "active" | "error"}, nothing else.</summary>
    private static VmState ResetStateTo(JsonNode? value)
    {
        if (value is not JsonObject args)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("os-resetState", value, $"{NovaValues.Repr(value)} is not of type 'object'"));
        if (args.TryGetPropertyValue("state", out var state) && !(NovaParameterTypes.IsString(state) && state!.GetValue<string>() is "active" or "error"))
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("state", state, $"{NovaValues.Repr(state)} is not one of ['active', 'error']"));
        if (state is null && !args.ContainsKey("state"))
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("os-resetState", args, "'state' is a required property"));
        if (args.FirstOrDefault(p => p.Key != "state") is { Key: { } extra })
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("os-resetState", args, $"Additional properties are not allowed ('{extra}' was unexpected)"));
        return state!.GetValue<string>() == "active" ? VmState.Active : VmState.Error;
    }

    /// <summary>schemas/lock_server.py lock_v2_73: null or {"locked_reason": 1–255 characters}; before 2.73 the body is not read.</summary>
    private static string? LockReason(JsonNode? value, Microversions.ApiVersion version)
    {
        if (!version.AtLeast(73) || value is null) return null;
        if (value is not JsonObject lockBody)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("lock", value, $"{NovaValues.Repr(value)} is not of type 'object', 'null'"));
        if (lockBody.FirstOrDefault(p => p.Key != "locked_reason") is { Key: { } extra })
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("lock", lockBody, $"Additional properties are not allowed ('{extra}' was unexpected)"));
        if (!lockBody.TryGetPropertyValue("locked_reason", out var reason)) return null;
        if (!NovaParameterTypes.IsString(reason))
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("locked_reason", reason, $"{NovaValues.Repr(reason)} is not of type 'string'"));
        var text = reason!.GetValue<string>();
        if (text.Length is 0 or > 255)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("locked_reason", reason, $"{NovaValues.Repr(reason)} is too {(text.Length == 0 ? "short" : "long")}"));
        return text;
    }

    private static T Validated<T>(IValidator<T> validator, T request)
    {
        var result = validator.Validate(request);
        return result.IsValid ? request : throw NovaFaultException.BadRequest(result.Errors[0].ErrorMessage);
    }
}
