using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Migrations;
using XenMigrate.Api.Nova.Servers;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.InstanceActions;

/// <summary>
/// <c>GET /servers/{id}/os-instance-actions[/{request_id}]</c> (nova instance_actions.py), per
/// microversion; from 2.21 a deleted server's actions too (its delete among them).
/// </summary>
public static class InstanceActionsApi
{
    public static void MapInstanceActions(this RouteGroupBuilder compute)
    {
        compute.MapGet("/servers/{server_id}/os-instance-actions", List).WithTags("Instance actions").WithSummary("List a server's actions");
        compute.MapGet("/servers/{server_id}/os-instance-actions/{request_id}", Show).WithTags("Instance actions")
            .WithSummary("Show one action with its events");
    }

    private static Task<Domain.Servers.Server> FindAsync(NovaCaller caller, XenMigrateDbContext db, string serverId, CancellationToken ct) =>
        caller.Version.AtLeast(21)
            ? ServerLookup.FindVisibleIncludingDeletedAsync(db, caller.Context, serverId, ct)
            : ServersApi.FindVisibleAsync(caller, db, serverId, ct);

    private static async Task<IResult> List(string server_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var server = await FindAsync(caller, db, server_id, ct);
        caller.Authorize(NovaPolicy.InstanceActionsList, server.ProjectId);
        var query = caller.Http.Request.Query;
        var actions = (await db.InstanceActions.AsNoTracking().Where(a => a.ServerId == server.Id).ToListAsync(ct))
            .OrderByDescending(a => a.StartTime).ThenByDescending(a => a.Id).ToList();

        var body = new JsonObject();
        if (caller.Version.AtLeast(58))
        {
            var limit = NovaQuery.Limit(query);
            var page = NovaQuery.Page(actions, a => a.RequestId, NovaQuery.Marker(query), limit);
            body["instanceActions"] = new JsonArray(page.Select(a => (JsonNode)Summary(a, caller)).ToArray());
            if (page.Count > 0 && page.Count == limit)
                body["links"] = new JsonArray(new JsonObject
                {
                    ["href"] = caller.NextLink($"servers/{server.Id}/os-instance-actions", NovaQuery.NextQuery(query, limit, page[^1].RequestId)),
                    ["rel"] = "next",
                });
        }
        else
        {
            body["instanceActions"] = new JsonArray(actions.Select(a => (JsonNode)Summary(a, caller)).ToArray());
        }

        return Results.Json(body);
    }

    private static async Task<IResult> Show(string server_id, string request_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var server = await FindAsync(caller, db, server_id, ct);
        caller.Authorize(NovaPolicy.InstanceActionsShow, server.ProjectId);
        var action = await db.InstanceActions.AsNoTracking().FirstOrDefaultAsync(a => a.ServerId == server.Id && a.RequestId == request_id, ct)
                     ?? throw NovaFaultException.NotFound($"Action {request_id} not found");

        var body = Summary(action, caller);
        var v = caller.Version;
        var isAdmin = caller.Can(NovaPolicy.InstanceActionEvents, server.ProjectId);
        if (isAdmin || v.AtLeast(51))
        {
            body["events"] = new JsonArray(action.Events.OrderBy(e => e.StartTime).Select(e =>
            {
                var o = new JsonObject
                {
                    ["event"] = e.EventName,
                    ["start_time"] = MigrationsApi.Time(e.StartTime),
                    ["finish_time"] = e.FinishTime is { } f ? MigrationsApi.Time(f) : null,
                    ["result"] = e.Result,
                };
                if (isAdmin) o["traceback"] = e.Traceback;
                if (v.AtLeast(62))
                {
                    o["hostId"] = HostIds.For(server.ProjectId, e.Host);
                    if (isAdmin) o["host"] = e.Host;
                }

                if (v.AtLeast(84) && isAdmin) o["details"] = e.Details;
                return (JsonNode)o;
            }).ToArray());
        }

        return Results.Json(new JsonObject { ["instanceAction"] = body });
    }

    private static JsonObject Summary(InstanceAction a, NovaCaller caller)
    {
        var o = new JsonObject
        {
            ["action"] = a.Action,
            ["instance_uuid"] = a.ServerId.ToString(),
            ["message"] = a.Message,
            ["project_id"] = a.ProjectId,
            ["request_id"] = a.RequestId,
            ["start_time"] = MigrationsApi.Time(a.StartTime),
            ["user_id"] = a.UserId,
        };
        if (caller.Version.AtLeast(58)) o["updated_at"] = MigrationsApi.Time(a.UpdatedAt);
        return o;
    }
}
