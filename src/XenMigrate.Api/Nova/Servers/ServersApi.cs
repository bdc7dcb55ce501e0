using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Persistence.ReadCache;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>Nova's server read API: list, detail and show.</summary>
public static class ServersApi
{
    public static void MapServers(this RouteGroupBuilder compute)
    {
        var servers = compute.MapGroup("/servers").WithTags("Servers");
        servers.MapGet("", List).WithSummary("List servers (id, name, links)");
        servers.MapGet("/detail", Detail).WithSummary("List servers with details");
        servers.MapGet("/{server_id}", Show).WithSummary("Show a server");
        servers.MapGet("/{server_id}/ips", Ips).WithSummary("List a server's addresses by network");
        servers.MapGet("/{server_id}/ips/{network_label}", IpsOfNetwork).WithSummary("Show a server's addresses on one network");
    }

    /// <summary>Nova's ips.py index: {"addresses": {label: [{version, addr}]}}.</summary>
    private static async Task<IResult> Ips(string server_id, NovaCaller caller, XenMigrateDbContext db, ServerReadCache cache, CancellationToken ct)
    {
        var server = ServerLookup.Visible(caller.Context, server_id, await cache.FindAsync(db, ServerLookup.IdOf(server_id), ct));
        caller.Authorize(NovaPolicy.IpsIndex, server.ProjectId);
        return Results.Json(new JsonObject { ["addresses"] = ServerView.Addresses(server.Addresses, extended: false) });
    }

    /// <summary>Nova's ips.py show: {label: [{version, addr}]}, or 404 for a network the server has no interface on.</summary>
    private static async Task<IResult> IpsOfNetwork(string server_id, string network_label, NovaCaller caller, XenMigrateDbContext db,
        ServerReadCache cache, CancellationToken ct)
    {
        var server = ServerLookup.Visible(caller.Context, server_id, await cache.FindAsync(db, ServerLookup.IdOf(server_id), ct));
        caller.Authorize(NovaPolicy.IpsShow, server.ProjectId);
        var networks = ServerView.Addresses(server.Addresses, extended: false);
        if (!networks.TryGetPropertyValue(network_label, out var ips))
            throw new NovaFaultException(StatusCodes.Status404NotFound, "Instance is not a member of specified network");
        return Results.Json(new JsonObject { [network_label] = ips!.DeepClone() });
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.ServersIndex);
        var (page, next) = await Query(caller, db, "servers", NovaPolicy.ServersIndexAllTenants, ct);
        return Results.Json(Collection(page.Select(s => ServerView.Summary(s, caller)), next));
    }

    private static async Task<IResult> Detail(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.ServersDetail);
        var (page, next) = await Query(caller, db, "servers/detail", NovaPolicy.ServersDetailAllTenants, ct);
        var hostStatus = await HostStatusLookupAsync(caller, db, ct);
        return Results.Json(Collection(page.Select(s => ServerView.Detail(s, caller, hostStatus, isShow: false)), next));
    }

    private static async Task<IResult> Show(string server_id, NovaCaller caller, XenMigrateDbContext db, ServerReadCache cache, CancellationToken ct)
    {
        var server = ServerLookup.Visible(caller.Context, server_id, await cache.FindAsync(db, ServerLookup.IdOf(server_id), ct));
        caller.Authorize(NovaPolicy.ServersShow, server.ProjectId);
        var hostStatus = await HostStatusLookupAsync(caller, db, ct);
        var body = ServerView.Detail(server, caller, hostStatus, isShow: true);
        if (caller.Version.AtLeast(71)) body["server_groups"] = await ServerGroups.ServerGroupsApi.OfServerAsync(db, server.Id, ct);
        return Results.Json(new JsonObject { ["server"] = body });
    }

    /// <summary>
    /// The server with this id if the caller may see it; otherwise Nova's 404 (another project's
    /// server is as invisible as one that does not exist). Tracked when the caller will change it.
    /// </summary>
    /// <summary>The server a request may see, or Nova's 404 (<see cref="ServerLookup"/>).</summary>
    public static Task<Server> FindVisibleAsync(NovaCaller caller, XenMigrateDbContext db, string serverId, CancellationToken ct,
        bool tracked = false) =>
        ServerLookup.FindVisibleAsync(db, caller.Context, serverId, ct, tracked);

    private static JsonObject Collection(IEnumerable<JsonObject> items, string? next)
    {
        var body = new JsonObject { ["servers"] = new JsonArray(items.Select(i => (JsonNode)i).ToArray()) };
        if (next is not null) body["servers_links"] = new JsonArray(new JsonObject { ["href"] = next, ["rel"] = "next" });
        return body;
    }

    private static async Task<(List<Server> Page, string? NextLink)> Query(
        NovaCaller caller, XenMigrateDbContext db, string path, NovaPolicy.Rule allTenantsRule, CancellationToken ct)
    {
        var query = new ServerListQuery(caller);
        var servers = db.Servers.AsNoTracking();

        // The filters SQL can take are applied there; the rest in memory.
        if (!query.AllTenants(allTenantsRule))
            servers = servers.Where(s => s.ProjectId == caller.ProjectId);
        else if (query.ProjectFilter is { } project)
            servers = servers.Where(s => s.ProjectId == project);
        if (query.HostFilter is { } host) servers = servers.Where(s => s.Host == host);
        if (query.NodeFilter is { } node) servers = servers.Where(s => s.Node == node);

        var ordered = query.Sort(query.Filter(await servers.ToListAsync(ct)));
        var raw = caller.Http.Request.Query;
        var limit = NovaQuery.Limit(raw);
        var page = NovaQuery.Page(ordered, s => s.Id.ToString(), NovaQuery.Marker(raw), limit);

        string? next = null;
        if (page.Count > 0 && page.Count == limit)
            next = caller.NextLink(path, NovaQuery.NextQuery(raw, limit, page[^1].Id.ToString()));
        return (page, next);
    }

    internal static async Task<ServerView.HostStatusLookup> HostStatusLookupAsync(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        if (!caller.Version.AtLeast(16) || !caller.IsAdmin) return _ => string.Empty;
        var hosts = await db.ComputeHosts.AsNoTracking().ToDictionaryAsync(h => h.Name, ct);
        return host =>
        {
            if (string.IsNullOrEmpty(host)) return string.Empty;
            if (!hosts.TryGetValue(host, out var h)) return "UNKNOWN";
            if (h.ForcedDown || !h.IsUp) return "DOWN";
            return h.Enabled ? "UP" : "MAINTENANCE";
        };
    }
}
