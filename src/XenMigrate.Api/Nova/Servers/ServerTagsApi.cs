using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// Nova's server tags (compute/server_tags.py, 2.26): list, replace and clear a server's tags, or
/// check, add and remove one. Readers see them; members change them, while the server rests
/// (ACTIVE, PAUSED, SUSPENDED, SHUTOFF; otherwise 409). A tag is 1–60 characters without '/' or
/// ','; a server holds at most 50.
/// </summary>
public static class ServerTagsApi
{
    public static void MapServerTags(this RouteGroupBuilder compute)
    {
        var tags = compute.MapGroup("/servers/{server_id}/tags").WithTags("Servers");
        tags.MapGet("", List).WithSummary("List a server's tags (2.26)");
        tags.MapPut("", ReplaceAll).WithSummary("Replace a server's tags (2.26)").WithDescription("""{"tags":["web","prod"]}""");
        tags.MapDelete("", ClearAll).Produces(StatusCodes.Status204NoContent).WithSummary("Remove every tag (2.26)");
        tags.MapGet("/{tag}", Check).Produces(StatusCodes.Status204NoContent).WithSummary("204 when the server has the tag, else 404 (2.26)");
        tags.MapPut("/{tag}", Add).Produces(StatusCodes.Status201Created).Produces(StatusCodes.Status204NoContent).WithSummary("Add a tag (2.26)");
        tags.MapDelete("/{tag}", Remove).Produces(StatusCodes.Status204NoContent).WithSummary("Remove a tag (2.26)");
    }

    private static async Task<IResult> List(string server_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var server = await ServerAsync(server_id, caller, db, NovaPolicy.ServerTagsIndex, ct);
        return Results.Json(View(server));
    }

    private static async Task<IResult> Check(string server_id, string tag, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var server = await ServerAsync(server_id, caller, db, NovaPolicy.ServerTagsShow, ct);
        return server.Tags.Contains(tag, StringComparer.Ordinal) ? Results.NoContent() : throw NotFound(server, tag);
    }

    private static async Task<IResult> ReplaceAll(string server_id, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var tags = Schema(await NovaRequestBody.ReadAsync(caller.Http.Request, ct));
        var server = await ServerAsync(server_id, caller, db, NovaPolicy.ServerTagsUpdateAll, ct, tracked: true);
        server.EnsureTagsCanChange("update tags");
        server.SetTags(tags, time.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        return Results.Json(View(server));
    }

    private static async Task<IResult> ClearAll(string server_id, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var server = await ServerAsync(server_id, caller, db, NovaPolicy.ServerTagsDeleteAll, ct, tracked: true);
        server.EnsureTagsCanChange("delete tags");
        server.SetTags([], time.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        return Results.NoContent();
    }

    private static async Task<IResult> Add(string server_id, string tag, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var server = await ServerAsync(server_id, caller, db, NovaPolicy.ServerTagsUpdate, ct, tracked: true);
        if (TagError(tag) is { } error)
            throw NovaFaultException.BadRequest($"Tag '{tag}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: {error}");
        server.EnsureTagsCanChange("update tag");
        if (!server.AddTag(tag, time.GetUtcNow().UtcDateTime)) return Results.NoContent();
        await db.SaveChangesAsync(ct);
        caller.Http.Response.Headers.Location = caller.SelfLink("servers", server.Id.ToString()) + "/tags/" + Uri.EscapeDataString(tag);
        return Results.StatusCode(StatusCodes.Status201Created);
    }

    private static async Task<IResult> Remove(string server_id, string tag, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var server = await ServerAsync(server_id, caller, db, NovaPolicy.ServerTagsDelete, ct, tracked: true);
        server.EnsureTagsCanChange("delete tag");
        if (!server.RemoveTag(tag, time.GetUtcNow().UtcDateTime)) throw NotFound(server, tag);
        await db.SaveChangesAsync(ct);
        return Results.NoContent();
    }

    /// <summary>Nova answers 404 below 2.26 (the routes do not exist there), then looks the server up and checks policy.</summary>
    private static async Task<Server> ServerAsync(string serverId, NovaCaller caller, XenMigrateDbContext db, NovaPolicy.Rule rule, CancellationToken ct,
        bool tracked = false)
    {
        if (!caller.Version.AtLeast(26)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
        var server = await ServersApi.FindVisibleAsync(caller, db, serverId, ct, tracked);
        caller.Authorize(rule, server.ProjectId);
        return server;
    }

    /// <summary>schemas/server_tags.py update_all: {"tags": [tag, … at most 50]}, nothing else.</summary>
    private static List<string> Schema(JsonNode? json)
    {
        if (json is not JsonObject body) throw NovaFaultException.BadRequest($"{NovaValues.Repr(json)} is not of type 'object'");
        if (body.FirstOrDefault(p => p.Key != "tags") is { Key: { } extra })
            throw NovaFaultException.BadRequest($"Additional properties are not allowed ('{extra}' was unexpected)");
        if (!body.TryGetPropertyValue("tags", out var node)) throw NovaFaultException.BadRequest("'tags' is a required property");
        if (node is not JsonArray list)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("tags", node, $"{NovaValues.Repr(node)} is not of type 'array'"));
        if (list.Count > Server.MaxTags)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("tags", list, $"{NovaValues.Repr(list)} is too long"));
        var tags = new List<string>();
        for (var i = 0; i < list.Count; i++)
        {
            if (!NovaParameterTypes.IsString(list[i]))
                throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(i.ToString(System.Globalization.CultureInfo.InvariantCulture), list[i], $"{NovaValues.Repr(list[i])} is not of type 'string'"));
            var tag = list[i]!.GetValue<string>();
            if (TagError(tag) is { } error)
                throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(i.ToString(System.Globalization.CultureInfo.InvariantCulture), list[i], error));
            tags.Add(tag);
        }

        return tags;
    }

    /// <summary>parameter_types.tag: 1–60 characters matching ^[^,/]*$, as jsonschema words its reason.</summary>
    private static string? TagError(string tag) =>
        tag.Length == 0 ? "'' is too short"
        : tag.Length > 60 ? $"{NovaValues.Repr(JsonValue.Create(tag))} is too long"
        : tag.Contains(',', StringComparison.Ordinal) || tag.Contains('/', StringComparison.Ordinal) ? $"{NovaValues.Repr(JsonValue.Create(tag))} does not match '^[^,/]*$'"
        : null;

    private static NovaFaultException NotFound(Server server, string tag) => NovaFaultException.NotFound($"Instance {server.Id} has no tag '{tag}'");

    private static JsonObject View(Server server) => new() { ["tags"] = new JsonArray(server.Tags.Select(t => (JsonNode)t).ToArray()) };
}
