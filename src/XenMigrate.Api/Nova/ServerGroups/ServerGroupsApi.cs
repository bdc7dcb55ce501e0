using System.Globalization;
using System.Text.Json.Nodes;
using FluentValidation;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.ServerGroups;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Quotas;

namespace XenMigrate.Api.Nova.ServerGroups;

/// <summary>
/// Nova's os-server-groups (compute/server_groups.py): a project's groups, each with one policy —
/// affinity, anti-affinity, and from 2.15 their soft variants; from 2.64 <c>policy</c> and
/// <c>rules</c> (max_server_per_host) replace the <c>policies</c> list and <c>metadata</c>;
/// project and user ids from 2.13. A server joins a group at boot with the <c>group</c> scheduler
/// hint; the scheduler keeps the policy on every placement (see DestinationScheduler).
/// </summary>
public static class ServerGroupsApi
{
    private static readonly HashSet<string> ListQuery = ["all_projects", "limit", "offset"];

    public static void MapServerGroups(this RouteGroupBuilder compute)
    {
        var groups = compute.MapGroup("/os-server-groups").WithTags("Server groups");
        groups.MapGet("", List).WithSummary("List your project's server groups (every project's as an admin, ?all_projects=1)");
        groups.MapPost("", Create).WithSummary("Create a server group (affinity, anti-affinity, soft-affinity, soft-anti-affinity)")
            .WithDescription("""From 2.64: {"server_group":{"name":"db","policy":"anti-affinity","rules":{"max_server_per_host":1}}}; before: {"server_group":{"name":"db","policies":["anti-affinity"]}}""");
        groups.MapGet("/{server_group_id}", Show).WithSummary("Show a server group and its members");
        groups.MapDelete("/{server_group_id}", Delete).Produces(StatusCodes.Status204NoContent).WithSummary("Delete a server group (its servers stay)");
    }

    /// <summary>The uuid of the server's group, for the server's <c>server_groups</c> (2.71); empty when it is in none.</summary>
    public static async Task<JsonArray> OfServerAsync(XenMigrateDbContext db, Guid serverId, CancellationToken ct) =>
        new((await db.ServerGroupMembers.AsNoTracking().Where(m => m.ServerId == serverId).Select(m => m.GroupId).ToListAsync(ct))
            .Select(id => (JsonNode)id.ToString()).ToArray());

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var query = caller.Http.Request.Query;
        if (caller.Version.AtLeast(75)) NovaQuery.RejectUnknown(query, ListQuery);
        var offset = NonNegative(query, "offset") ?? 0;
        var limit = NonNegative(query, "limit") is { } l and > 0 ? Math.Min(l, NovaQuery.MaxLimit) : NovaQuery.MaxLimit; // Nova's common.limited: 0 is no limit
        caller.Authorize(NovaPolicy.ServerGroupsIndex);
        var groups = db.ServerGroups.AsNoTracking().Include(g => g.Members).AsQueryable();
        if (query.ContainsKey("all_projects"))
            caller.Authorize(NovaPolicy.ServerGroupsIndexAllProjects);
        else
            groups = groups.Where(g => g.ProjectId == caller.ProjectId);
        var page = (await groups.ToListAsync(ct)).OrderBy(g => g.CreatedAt).ThenBy(g => g.Id).Skip(offset).Take(limit).ToList();
        var alive = await AliveAsync(db, page.SelectMany(g => g.Members), ct);
        return Results.Json(new JsonObject { ["server_groups"] = new JsonArray(page.Select(g => (JsonNode)View(g, alive, caller)).ToArray()) });
    }

    private static async Task<IResult> Show(string server_group_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var group = await FindAsync(db, server_group_id, caller, ct);
        caller.Authorize(NovaPolicy.ServerGroupsShow, group.ProjectId);
        return Results.Json(new JsonObject { ["server_group"] = View(group, await AliveAsync(db, group.Members, ct), caller) });
    }

    private static async Task<IResult> Delete(string server_group_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var group = await FindAsync(db, server_group_id, caller, ct, tracked: true);
        caller.Authorize(NovaPolicy.ServerGroupsDelete, group.ProjectId);
        db.ServerGroups.Remove(group); // its members' rows go with it; the servers stay, in no group
        await db.SaveChangesAsync(ct);
        return Results.NoContent();
    }

    private static async Task<IResult> Create(NovaCaller caller, XenMigrateDbContext db, QuotaService quotas, TimeProvider time,
        IValidator<ServerGroupCreateRequest> validator, CancellationToken ct)
    {
        var request = new ServerGroupCreateRequest(await NovaRequestBody.ReadAsync(caller.Http.Request, ct), caller.Version);
        var result = await validator.ValidateAsync(request, ct);
        if (!result.IsValid) throw NovaFaultException.BadRequest(result.Errors[0].ErrorMessage);
        caller.Authorize(NovaPolicy.ServerGroupsCreate);
        // Nova refuses rules on any policy but anti-affinity, even an empty max (ServerGroup says so).
        if (request.HasRules && request.Policy != ServerGroup.AntiAffinity) throw NovaFaultException.BadRequest("Only anti-affinity policy supports rules.");

        var group = new ServerGroup(Guid.NewGuid(), request.Name, request.Policy, request.MaxServerPerHost, caller.ProjectId, caller.UserId,
            time.GetUtcNow().UtcDateTime);
        await using (var hold = await quotas.HoldProjectAsync(caller.ProjectId, ct))
        {
            await quotas.EnsureRoomForServerGroupAsync(caller.ProjectId, ct);
            db.ServerGroups.Add(group);
            await db.SaveChangesAsync(ct);
            await hold.CommitAsync(ct);
        }

        return Results.Json(new JsonObject { ["server_group"] = View(group, new HashSet<Guid>(), caller) });
    }

    /// <summary>The group by its uuid: any project's for an admin, otherwise the caller's project's (Nova's project-scoped query).</summary>
    private static async Task<ServerGroup> FindAsync(XenMigrateDbContext db, string id, NovaCaller caller, CancellationToken ct, bool tracked = false)
    {
        var groups = (tracked ? db.ServerGroups : db.ServerGroups.AsNoTracking()).Include(g => g.Members);
        var found = Guid.TryParse(id, out var uuid)
            ? await groups.FirstOrDefaultAsync(g => g.Id == uuid && (caller.IsAdmin || g.ProjectId == caller.ProjectId), ct)
            : null;
        return found ?? throw NovaFaultException.NotFound($"Instance group {id} could not be found.");
    }

    /// <summary>Which of these members still exist (Nova shows only servers not deleted).</summary>
    private static async Task<HashSet<Guid>> AliveAsync(XenMigrateDbContext db, IEnumerable<ServerGroupMember> members, CancellationToken ct)
    {
        var ids = members.Select(m => m.ServerId).Distinct().ToList();
        return ids.Count == 0 ? [] : (await db.Servers.AsNoTracking().Where(s => ids.Contains(s.Id)).Select(s => s.Id).ToListAsync(ct)).ToHashSet();
    }

    /// <summary>_format_server_group: policies and metadata before 2.64, policy and rules from it, project and user from 2.13.</summary>
    private static JsonObject View(ServerGroup group, IReadOnlySet<Guid> alive, NovaCaller caller)
    {
        var view = new JsonObject { ["id"] = group.Id.ToString(), ["name"] = group.Name };
        if (caller.Version.AtLeast(64))
        {
            view["policy"] = group.Policy;
            view["rules"] = group.MaxServerPerHost is { } max ? new JsonObject { ["max_server_per_host"] = max } : new JsonObject();
        }
        else
        {
            view["policies"] = new JsonArray(group.Policy);
            view["metadata"] = new JsonObject();
        }

        view["members"] = new JsonArray(group.Members.Where(m => alive.Contains(m.ServerId)).Select(m => (JsonNode)m.ServerId.ToString()).ToArray());
        if (caller.Version.AtLeast(13))
        {
            view["project_id"] = group.ProjectId;
            view["user_id"] = group.UserId;
        }

        return view;
    }

    /// <summary>Nova's non_negative_integer query parameter (a string of digits), or 400 in its words.</summary>
    private static int? NonNegative(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var raw)) return null;
        var text = raw[^1] ?? string.Empty;
        if (!text.All(char.IsAsciiDigit)) throw NovaFaultException.BadRequest(NovaMessages.InvalidQuery(name, text, $"'{text}' does not match '^[0-9]*$'"));
        if (text.Length == 0) throw NovaFaultException.BadRequest(NovaMessages.InvalidQuery(name, text, "'' is too short"));
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : int.MaxValue;
    }
}
