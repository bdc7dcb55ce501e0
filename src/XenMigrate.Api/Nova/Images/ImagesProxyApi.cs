using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Images;

namespace XenMigrate.Api.Nova.Images;

/// <summary>
/// Nova's image proxy (compute/images.py, views/images.py), which Nova serves up to 2.35 and
/// answers 404 for from 2.36: the same images as the Glance endpoint (the XenServer templates) in
/// Nova's shape. libcloud's and fog's default drivers list images here. Filters as Nova's
/// SUPPORTED_FILTERS (name, status, changes-since, server, type, minRam, minDisk), paged by
/// limit and marker.
/// </summary>
public static class ImagesProxyApi
{
    private const int MaxProxyMinor = 35;

    /// <summary>XAPI records no creation time for a template: every image shows this one (as the Glance endpoint does).</summary>
    private const string Epoch = "1970-01-01T00:00:00Z";

    public static void MapImagesProxy(this RouteGroupBuilder compute)
    {
        var images = compute.MapGroup("/images").WithTags("Images (Nova proxy, up to 2.35)");
        images.MapGet("", List).WithSummary("List images (id, name, links); up to microversion 2.35");
        images.MapGet("/detail", Detail).WithSummary("List images with details; up to microversion 2.35");
        images.MapGet("/{image_id}", Show).WithSummary("Show an image; up to microversion 2.35");
    }

    private static async Task<IResult> List(NovaCaller caller, TemplateImages images, CancellationToken ct)
    {
        var (page, next) = await QueryAsync(caller, images, "images", ct);
        return Results.Json(Collection(page.Select(i => new JsonObject { ["id"] = i.Id.ToString(), ["name"] = i.Name, ["links"] = Links(caller, i) }), next));
    }

    private static async Task<IResult> Detail(NovaCaller caller, TemplateImages images, CancellationToken ct)
    {
        var (page, next) = await QueryAsync(caller, images, "images/detail", ct);
        return Results.Json(Collection(page.Select(i => Body(caller, i)), next));
    }

    private static async Task<IResult> Show(string image_id, NovaCaller caller, TemplateImages images, CancellationToken ct)
    {
        RequireProxyVersion(caller);
        var image = Guid.TryParseExact(image_id, "D", out var id) ? await images.FindAsync(id, ct) : null;
        if (image is null) throw NovaFaultException.NotFound("Image not found.");
        return Results.Json(new JsonObject { ["image"] = Body(caller, image) });
    }

    private static void RequireProxyVersion(NovaCaller caller)
    {
        if (caller.Version.AtLeast(MaxProxyMinor + 1)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
    }

    private static async Task<(List<TemplateImage> Page, string? Next)> QueryAsync(NovaCaller caller, TemplateImages images, string path, CancellationToken ct)
    {
        RequireProxyVersion(caller);
        var query = caller.Http.Request.Query;
        IEnumerable<TemplateImage> all = (await images.ListAsync(ct)).OrderBy(i => i.Name, StringComparer.Ordinal).ThenBy(i => i.Id);
        if (query["name"].FirstOrDefault() is { } name) all = all.Where(i => i.Name == name);
        // Every template is ACTIVE: any other status, a server's snapshot or a snapshot type matches none.
        if (query["status"].FirstOrDefault() is { } status) all = all.Where(_ => string.Equals(status, "ACTIVE", StringComparison.OrdinalIgnoreCase));
        if (query.ContainsKey("server") || query["type"].FirstOrDefault() is "snapshot") all = [];
        if (NovaQuery.Timestamp(query, "changes-since") is { } since && since > DateTime.UnixEpoch) all = [];
        if (Minimum(query, "minRam") is { } minRam) all = all.Where(i => i.MinRamMb >= minRam);
        if (Minimum(query, "minDisk") is { } minDisk) all = all.Where(_ => minDisk <= 0);

        var ordered = all.ToList();
        var limit = NovaQuery.Limit(query);
        var page = NovaQuery.Page(ordered, i => i.Id.ToString(), NovaQuery.Marker(query), limit);
        var next = page.Count > 0 && page.Count == limit ? caller.NextLink(path, NovaQuery.NextQuery(query, limit, page[^1].Id.ToString())) : null;
        return (page, next);
    }

    /// <summary>minRam / minDisk: Glance's integer filters (an image matches when its minimum is at least the value).</summary>
    private static long? Minimum(IQueryCollection query, string name)
    {
        if (query[name].FirstOrDefault() is not { } text) return null;
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw NovaFaultException.BadRequest($"Invalid {name} filter [{text}]");
    }

    private static JsonObject Body(NovaCaller caller, TemplateImage i) => new()
    {
        ["id"] = i.Id.ToString(),
        ["name"] = i.Name,
        ["minRam"] = i.MinRamMb,
        ["minDisk"] = 0,
        ["metadata"] = new JsonObject { ["xenserver_template"] = i.Name },
        ["created"] = Epoch,
        ["updated"] = Epoch,
        ["status"] = "ACTIVE",
        ["progress"] = 100,
        ["OS-EXT-IMG-SIZE:size"] = null,
        ["links"] = Links(caller, i),
    };

    /// <summary>self and bookmark as every Nova resource, and the Glance URL as the alternate link.</summary>
    private static JsonArray Links(NovaCaller caller, TemplateImage i) =>
    [
        new JsonObject { ["rel"] = "self", ["href"] = caller.SelfLink("images", i.Id.ToString()) },
        new JsonObject { ["rel"] = "bookmark", ["href"] = caller.BookmarkLink("images", i.Id.ToString()) },
        new JsonObject
        {
            ["rel"] = "alternate", ["type"] = "application/vnd.openstack.image",
            ["href"] = $"{PublicUrls.Base(caller.Http)}/image/images/{i.Id}",
        },
    ];

    private static JsonObject Collection(IEnumerable<JsonObject> items, string? next)
    {
        var body = new JsonObject { ["images"] = new JsonArray(items.Select(i => (JsonNode)i).ToArray()) };
        if (next is not null) body["images_links"] = new JsonArray(new JsonObject { ["href"] = next, ["rel"] = "next" });
        return body;
    }
}
