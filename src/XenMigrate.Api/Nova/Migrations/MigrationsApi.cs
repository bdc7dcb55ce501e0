using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Migrations;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Migrations;

/// <summary>
/// <c>GET /os-migrations</c> (every migration, admins) and <c>GET /servers/{id}/migrations</c>
/// (in-progress live migrations of one server), per microversion (nova migrations.py, server_migrations.py).
/// </summary>
public static class MigrationsApi
{
    private static readonly HashSet<string> Filters = ["hidden", "host", "instance_uuid", "source_compute", "status", "migration_type"];

    public static void MapMigrations(this RouteGroupBuilder compute)
    {
        compute.MapGet("/os-migrations", List).WithTags("Migrations").WithSummary("List migrations (admin)");
        compute.MapGet("/servers/{server_id}/migrations", ListForServer).WithTags("Migrations")
            .WithSummary("List a server's in-progress live migrations (2.23)");
        compute.MapGet("/servers/{server_id}/migrations/{migration_id}", ShowForServer).WithTags("Migrations")
            .WithSummary("Show an in-progress live migration (2.23)");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.MigrationsIndex);
        var v = caller.Version;
        var query = caller.Http.Request.Query;
        if (v.AtLeast(59))
        {
            var allowed = new HashSet<string>(Filters) { "limit", "marker", "changes-since" };
            if (v.AtLeast(66)) allowed.Add("changes-before");
            if (v.AtLeast(80)) allowed.UnionWith(["user_id", "project_id"]);
            NovaQuery.RejectUnknown(query, allowed);
        }

        IEnumerable<Migration> rows = await db.Migrations.AsNoTracking().Where(m => !m.Hidden).ToListAsync(ct);
        if (Value(query, "instance_uuid") is { } instance) rows = rows.Where(m => string.Equals(m.InstanceUuid.ToString(), instance, StringComparison.OrdinalIgnoreCase));
        if (Value(query, "source_compute") is { } source) rows = rows.Where(m => m.SourceCompute == source);
        if (Value(query, "host") is { } host) rows = rows.Where(m => m.SourceCompute == host || m.DestCompute == host);
        if (Value(query, "status") is { } status) rows = rows.Where(m => m.Status.ToNovaName() == status);
        if (Value(query, "migration_type") is { } type) rows = rows.Where(m => m.Type.ToNovaName() == type);
        if (v.AtLeast(80) && Value(query, "user_id") is { } user) rows = rows.Where(m => m.UserId == user);
        if (v.AtLeast(80) && Value(query, "project_id") is { } project) rows = rows.Where(m => m.ProjectId == project);
        if (v.AtLeast(59) && NovaQuery.Timestamp(query, "changes-since") is { } since) rows = rows.Where(m => m.UpdatedAt >= since);
        if (v.AtLeast(66) && NovaQuery.Timestamp(query, "changes-before") is { } before) rows = rows.Where(m => m.UpdatedAt <= before);

        // From 2.59 newest first, paged by uuid.
        var ordered = rows.OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id).ToList();
        var body = new JsonObject();
        if (v.AtLeast(59))
        {
            var limit = NovaQuery.Limit(query);
            var page = NovaQuery.Page(ordered, m => m.Uuid.ToString(), NovaQuery.Marker(query), limit);
            body["migrations"] = new JsonArray(page.Select(m => (JsonNode)View(m, caller, detail: false)).ToArray());
            if (page.Count > 0 && page.Count == limit)
                body["migrations_links"] = new JsonArray(new JsonObject
                {
                    ["href"] = caller.NextLink("os-migrations", NovaQuery.NextQuery(query, limit, page[^1].Uuid.ToString())), ["rel"] = "next",
                });
        }
        else
        {
            body["migrations"] = new JsonArray(ordered.Select(m => (JsonNode)View(m, caller, detail: false)).ToArray());
        }

        return Results.Json(body);
    }

    private static async Task<IResult> ListForServer(string server_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        EnsureVersion(caller, 23);
        var server = await Servers.ServersApi.FindVisibleAsync(caller, db, server_id, ct);
        caller.Authorize(NovaPolicy.ServerMigrationsIndex, server.ProjectId);
        var live = await LiveInProgressAsync(db, server.Id, ct);
        return Results.Json(new JsonObject { ["migrations"] = new JsonArray(live.Select(m => (JsonNode)View(m, caller, detail: true)).ToArray()) });
    }

    private static async Task<IResult> ShowForServer(string server_id, string migration_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        EnsureVersion(caller, 23);
        var server = await Servers.ServersApi.FindVisibleAsync(caller, db, server_id, ct);
        caller.Authorize(NovaPolicy.ServerMigrationsShow, server.ProjectId);
        var migration = (await LiveInProgressAsync(db, server.Id, ct)).FirstOrDefault(m => m.Id.ToString(CultureInfo.InvariantCulture) == migration_id)
                        ?? throw NovaFaultException.NotFound($"In-progress live migration {migration_id} is not found for server {server_id}.");
        return Results.Json(new JsonObject { ["migration"] = View(migration, caller, detail: true) });
    }

    private static async Task<List<Migration>> LiveInProgressAsync(XenMigrateDbContext db, Guid serverId, CancellationToken ct) =>
        (await db.Migrations.AsNoTracking().Where(m => m.InstanceUuid == serverId && m.Type == MigrationType.LiveMigration).ToListAsync(ct))
        .Where(m => MigrationLifecycle.IsLiveInProgress(m.Status)).OrderByDescending(m => m.Id).ToList();

    private static JsonObject View(Migration m, NovaCaller caller, bool detail)
    {
        var v = caller.Version;
        var o = new JsonObject
        {
            ["created_at"] = Time(m.CreatedAt),
            ["dest_compute"] = m.DestCompute,
            ["dest_host"] = m.DestHost,
            ["dest_node"] = m.DestNode,
            ["id"] = m.Id,
            ["source_compute"] = m.SourceCompute,
            ["source_node"] = m.SourceNode,
            ["status"] = m.Status.ToNovaName(),
            ["updated_at"] = Time(m.UpdatedAt),
        };
        if (detail)
        {
            o["server_uuid"] = m.InstanceUuid.ToString();
            o["disk_processed_bytes"] = m.DiskProcessedBytes;
            o["disk_remaining_bytes"] = m.DiskRemainingBytes;
            o["disk_total_bytes"] = m.DiskTotalBytes;
            o["memory_processed_bytes"] = m.MemoryProcessedBytes;
            o["memory_remaining_bytes"] = m.MemoryRemainingBytes;
            o["memory_total_bytes"] = m.MemoryTotalBytes;
        }
        else
        {
            o["instance_uuid"] = m.InstanceUuid.ToString();
            o["new_instance_type_id"] = m.NewInstanceTypeId;
            o["old_instance_type_id"] = m.OldInstanceTypeId;
            if (v.AtLeast(23))
            {
                o["migration_type"] = m.Type.ToNovaName();
                if (m.Type == MigrationType.LiveMigration && MigrationLifecycle.IsLiveInProgress(m.Status))
                {
                    var id = m.Id.ToString(CultureInfo.InvariantCulture);
                    o["links"] = new JsonArray(
                        new JsonObject { ["href"] = caller.SelfLink($"servers/{m.InstanceUuid}/migrations", id), ["rel"] = "self" },
                        new JsonObject { ["href"] = caller.BookmarkLink($"servers/{m.InstanceUuid}/migrations", id), ["rel"] = "bookmark" });
                }
            }
        }

        if (v.AtLeast(59)) o["uuid"] = m.Uuid.ToString();
        if (v.AtLeast(80))
        {
            o["user_id"] = m.UserId;
            o["project_id"] = m.ProjectId;
        }

        return o;
    }

    private static void EnsureVersion(NovaCaller caller, int minor)
    {
        if (!caller.Version.AtLeast(minor)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
    }

    /// <summary><c>2016-06-23T14:42:02.000000</c>, as Nova writes migration times.</summary>
    public static string Time(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    private static string? Value(IQueryCollection q, string name) => q.TryGetValue(name, out var v) && v.ToString().Length > 0 ? v.ToString() : null;
}
