using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Flavors;

/// <summary>Nova's flavor read API: list, detail, show, and extra specs (the writes are in <see cref="FlavorManageApi"/>).</summary>
public static class FlavorsApi
{
    private static readonly HashSet<string> QueryParams275 =
        ["is_public", "minRam", "minDisk", "sort_key", "sort_dir", "limit", "marker"];

    private static readonly HashSet<string> SortKeys =
        ["created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id", "is_public", "memory_mb", "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpu_weight", "vcpus"];

    public static void MapFlavors(this RouteGroupBuilder compute)
    {
        var flavors = compute.MapGroup("/flavors").WithTags("Flavors");
        flavors.MapGet("", List).WithSummary("List flavors (id, name, links)");
        flavors.MapGet("/detail", Detail).WithSummary("List flavors with details");
        flavors.MapGet("/{flavor_id}", Show).WithSummary("Show a flavor");
        flavors.MapGet("/{flavor_id}/os-extra_specs", ListExtraSpecs).WithSummary("List a flavor's extra specs");
        flavors.MapGet("/{flavor_id}/os-extra_specs/{key}", ShowExtraSpec).WithSummary("Show one extra spec");
        flavors.MapFlavorManage();
        flavors.MapFlavorAccess();
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct) =>
        await Page(caller, db, "flavors", FlavorView.Summary, ct);

    private static async Task<IResult> Detail(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct) =>
        await Page(caller, db, "flavors/detail", FlavorView.Detail, ct);

    private static async Task<IResult> Show(string flavor_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var flavor = await Find(caller, db, flavor_id, ct);
        return Results.Json(new JsonObject { ["flavor"] = FlavorView.Detail(flavor, caller) });
    }

    private static async Task<IResult> ListExtraSpecs(string flavor_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.FlavorExtraSpecsIndex);
        var flavor = await Find(caller, db, flavor_id, ct);
        return Results.Json(new JsonObject { ["extra_specs"] = FlavorView.ExtraSpecs(flavor.ExtraSpecs) });
    }

    private static async Task<IResult> ShowExtraSpec(string flavor_id, string key, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.FlavorExtraSpecsIndex);
        var flavor = await Find(caller, db, flavor_id, ct);
        if (!flavor.ExtraSpecs.TryGetValue(key, out var value))
            throw NovaFaultException.NotFound($"Flavor {flavor_id} has no extra specs with key {key}.");
        return Results.Json(new JsonObject { [key] = value });
    }

    /// <summary>
    /// Nova looks a flavor up as the caller: a non-admin finds public flavors (disabled ones too) and
    /// private ones shared with their project (os-flavor-access); any other is as missing as an unknown id.
    /// </summary>
    internal static async Task<Flavor> Find(NovaCaller caller, XenMigrateDbContext db, string flavorId, CancellationToken ct, bool tracked = false)
    {
        var flavors = tracked ? db.Flavors : db.Flavors.AsNoTracking();
        return await flavors.VisibleTo(caller.Context).FirstOrDefaultAsync(f => f.FlavorId == flavorId, ct)
               ?? throw NovaFaultException.NotFound(NovaMessages.FlavorNotFound(flavorId));
    }

    private static async Task<IResult> Page(NovaCaller caller, XenMigrateDbContext db, string path,
        Func<Flavor, NovaCaller, JsonObject> view, CancellationToken ct)
    {
        var query = caller.Http.Request.Query;
        if (caller.Version.AtLeast(75)) NovaQuery.RejectUnknown(query, QueryParams275);

        var all = await db.Flavors.AsNoTracking().VisibleTo(caller.Context).ToListAsync(ct);
        IEnumerable<Flavor> matching = all;

        // Only admins may look past public, enabled flavors (nova flavors.py _get_flavors).
        if (caller.IsAdmin)
        {
            var isPublic = IsPublicFilter(query);
            if (isPublic is { } p) matching = matching.Where(f => f.IsPublic == p);
        }
        else
        {
            matching = matching.Where(f => !f.Disabled); // public, or shared with the caller's project
        }

        if (IntFilter(query, "minRam") is { } minRam) matching = matching.Where(f => f.MemoryMb >= minRam);
        if (IntFilter(query, "minDisk") is { } minDisk) matching = matching.Where(f => f.RootGb >= minDisk);

        var ordered = Sort(matching, query).ToList();
        var limit = NovaQuery.Limit(query);
        var page = NovaQuery.Page(ordered, f => f.FlavorId, NovaQuery.Marker(query), limit);

        var body = new JsonObject { ["flavors"] = new JsonArray(page.Select(f => (JsonNode)view(f, caller)).ToArray()) };
        if (page.Count > 0 && page.Count == limit && query.ContainsKey("limit"))
        {
            body["flavors_links"] = new JsonArray(new JsonObject
            {
                ["href"] = caller.NextLink(path, NovaQuery.NextQuery(query, limit, page[^1].FlavorId)),
                ["rel"] = "next",
            });
        }

        return Results.Json(body);
    }

    /// <summary>Admins: "None" means all flavors; absent means public only; else a strict boolean.</summary>
    private static bool? IsPublicFilter(IQueryCollection query)
    {
        if (!query.TryGetValue("is_public", out var raw)) return true;
        var text = raw.ToString();
        if (string.Equals(text, "none", StringComparison.OrdinalIgnoreCase)) return null;
        return NovaQuery.Bool(text) is { } b && text.Length > 0
            ? b
            : throw NovaFaultException.BadRequest($"Invalid is_public filter [{text}]");
    }

    private static int? IntFilter(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var raw)) return null;
        return int.TryParse(raw.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw NovaFaultException.BadRequest($"Invalid {name} filter [{raw}]");
    }

    private static IEnumerable<Flavor> Sort(IEnumerable<Flavor> flavors, IQueryCollection query)
    {
        var key = query.TryGetValue("sort_key", out var k) ? k.ToString() : "flavorid";
        var dir = query.TryGetValue("sort_dir", out var d) ? d.ToString() : "asc";
        if (!SortKeys.Contains(key)) throw NovaFaultException.BadRequest($"Invalid sort_key [{key}]");
        if (dir is not ("asc" or "desc")) throw NovaFaultException.BadRequest($"Invalid sort_dir [{dir}]");

        Func<Flavor, IComparable> selector = key switch
        {
            "name" => f => f.Name,
            "memory_mb" => f => f.MemoryMb,
            "vcpus" => f => f.Vcpus,
            "root_gb" => f => f.RootGb,
            "ephemeral_gb" => f => f.EphemeralGb,
            "swap" => f => f.SwapMb,
            "id" => f => f.InternalId,
            "is_public" => f => f.IsPublic,
            "disabled" => f => f.Disabled,
            "rxtx_factor" => f => f.RxtxFactor,
            "description" => f => f.Description ?? string.Empty,
            _ => f => f.FlavorId,
        };
        var sorted = dir == "asc"
            ? flavors.OrderBy(selector).ThenBy(f => f.FlavorId, StringComparer.Ordinal)
            : flavors.OrderByDescending(selector).ThenByDescending(f => f.FlavorId, StringComparer.Ordinal);
        return sorted;
    }
}
