using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// Nova's os-server-external-events (server_external_events.py, admin): other services tell Nova
/// something happened to a server's ports or volumes. <c>network-changed</c> refreshes the
/// server's addresses from its VM's VIFs and guest metrics, as Nova refreshes its network info
/// cache; the VIF plug events need nothing on XenServer (its VIFs are plugged by xapi itself). Each
/// event answers its own code: 200, 404 for no such server, 422 for a server on no host yet; the
/// whole answer is 200, 207 when some failed, 404 when none was found.
/// </summary>
public static class ServerExternalEventsApi
{
    private static readonly (string Name, int Since)[] Names =
    [
        ("network-changed", 1), ("network-vif-plugged", 1), ("network-vif-unplugged", 1), ("network-vif-deleted", 1),
        ("volume-extended", 51), ("power-update", 76), ("accelerator-request-bound", 82), ("volume-reimaged", 93),
    ];

    private static readonly string[] Statuses = ["failed", "completed", "in-progress"];

    public static void MapServerExternalEvents(this RouteGroupBuilder compute) =>
        compute.MapPost("/os-server-external-events", Create).WithTags("Servers").Produces(StatusCodes.Status207MultiStatus)
            .WithSummary("Tell the gateway a server's ports changed (admin; network-changed refreshes its addresses)")
            .WithDescription("""{"events":[{"name":"network-changed","server_uuid":"<server id>"}]}""");

    private static async Task<IResult> Create(NovaCaller caller, XenMigrateDbContext db, ComputeApi compute, CancellationToken ct)
    {
        var events = Schema(await NovaRequestBody.ReadAsync(caller.Http.Request, ct), caller.Version);
        caller.Authorize(NovaPolicy.ServerExternalEventsCreate);

        var answered = new JsonArray();
        var found = 0;
        foreach (var e in events)
        {
            var result = e.DeepClone().AsObject();
            result["status"] ??= "completed";
            var id = Guid.TryParse(e["server_uuid"]!.GetValue<string>(), out var uuid) ? uuid : Guid.Empty;
            var server = await db.Servers.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, ct);
            if (server is null)
            {
                (result["code"], result["status"]) = (404, "failed");
            }
            else if (server.Host is null)
            {
                (result["code"], result["status"]) = (422, "failed");
            }
            else
            {
                found++;
                result["code"] = 200;
                if (e["name"]!.GetValue<string>() == "network-changed") await compute.RefreshAddressesAsync(server.Id, ct);
            }

            answered.Add(result);
        }

        var status = found == events.Count ? StatusCodes.Status200OK : found == 0 ? StatusCodes.Status404NotFound : StatusCodes.Status207MultiStatus;
        return Results.Json(new JsonObject { ["events"] = answered }, statusCode: status);
    }

    /// <summary>schemas/server_external_events.py create (and its 2.51, 2.76, 2.82, 2.93 names): a non-empty list of events.</summary>
    private static List<JsonObject> Schema(JsonNode? json, Microversions.ApiVersion version)
    {
        if (json is not JsonObject body || !body.TryGetPropertyValue("events", out var node))
            throw NovaFaultException.BadRequest("'events' is a required property");
        if (body.FirstOrDefault(p => p.Key != "events") is { Key: { } extra })
            throw NovaFaultException.BadRequest($"Additional properties are not allowed ('{extra}' was unexpected)");
        if (node is not JsonArray list) throw Invalid("events", node, $"{NovaValues.Repr(node)} is not of type 'array'");
        if (list.Count == 0) throw Invalid("events", list, "[] is too short");
        var names = Names.Where(n => version.AtLeast(n.Since)).Select(n => n.Name).ToList();
        var events = new List<JsonObject>();
        foreach (var item in list)
        {
            if (item is not JsonObject e) throw Invalid("events", item, $"{NovaValues.Repr(item)} is not of type 'object'");
            foreach (var required in new[] { "name", "server_uuid" })
                if (!e.ContainsKey(required)) throw Invalid("events", e, $"'{required}' is a required property");
            if (!(NovaParameterTypes.IsString(e["name"]) && names.Contains(e["name"]!.GetValue<string>())))
                throw Invalid("name", e["name"], $"{NovaValues.Repr(e["name"])} is not one of [{string.Join(", ", names.Select(n => $"'{n}'"))}]");
            if (!NovaParameterTypes.IsString(e["server_uuid"])) throw Invalid("server_uuid", e["server_uuid"], $"{NovaValues.Repr(e["server_uuid"])} is not of type 'string'");
            if (e.TryGetPropertyValue("status", out var status) && !(NovaParameterTypes.IsString(status) && Statuses.Contains(status!.GetValue<string>())))
                throw Invalid("status", status, $"{NovaValues.Repr(status)} is not one of ['failed', 'completed', 'in-progress']");
            if (e.TryGetPropertyValue("tag", out var tag) && !(NovaParameterTypes.IsString(tag) && tag!.GetValue<string>().Length <= 255))
                throw Invalid("tag", tag, $"{NovaValues.Repr(tag)} is not of type 'string'");
            if (e.FirstOrDefault(p => p.Key is not ("name" or "server_uuid" or "status" or "tag")) is { Key: { } unexpected })
                throw Invalid("events", e, $"Additional properties are not allowed ('{unexpected}' was unexpected)");
            events.Add(e);
        }

        return events;
    }

    private static NovaFaultException Invalid(string field, JsonNode? value, string detail) =>
        NovaFaultException.BadRequest(NovaMessages.InvalidInput(field, value, detail));
}
