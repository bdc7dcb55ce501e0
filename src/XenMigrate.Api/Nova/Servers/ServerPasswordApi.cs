using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// Nova's os-server-password: the encrypted password a guest agent posted to the metadata service.
/// XenServer guests have no Nova metadata service to post one to, so every server's is empty, as
/// Nova answers for a guest that never posted one; clearing it is a no-op that answers 204.
/// </summary>
public static class ServerPasswordApi
{
    public static void MapServerPassword(this RouteGroupBuilder compute)
    {
        var password = compute.MapGroup("/servers/{server_id}/os-server-password").WithTags("Servers");
        password.MapGet("", Show).WithSummary("Show the password a guest agent posted (always empty: no metadata service)");
        password.MapDelete("", Clear).Produces(StatusCodes.Status204NoContent).WithSummary("Clear the posted password");
    }

    private static async Task<IResult> Show(string server_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var server = await ServersApi.FindVisibleAsync(caller, db, server_id, ct);
        caller.Authorize(NovaPolicy.ServerPasswordShow, server.ProjectId);
        return Results.Json(new JsonObject { ["password"] = string.Empty });
    }

    private static async Task<IResult> Clear(string server_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var server = await ServersApi.FindVisibleAsync(caller, db, server_id, ct);
        caller.Authorize(NovaPolicy.ServerPasswordClear, server.ProjectId);
        return Results.NoContent();
    }
}
