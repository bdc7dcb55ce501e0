using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Microversions;

namespace XenMigrate.Api.Nova.Versions;

/// <summary>
/// Nova's version documents: <c>GET /</c> (all versions) and <c>GET /v2.1[/]</c>, served without a
/// token. Clients take the <c>self</c> link as their base URL and <c>version</c> as the maximum
/// microversion they may ask for.
/// </summary>
public static class VersionsApi
{
    private const string Updated = "2013-07-23T11:33:21Z";

    public static void MapVersions(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HttpContext http) => Results.Json(new JsonObject { ["versions"] = new JsonArray(Entry(http, full: false)) }))
            .WithTags("Versions").WithSummary("List the compute API versions").AllowAnonymous();

        // Routing matches "/v2.1/" here too: clients ask for both.
        app.MapGet("/v2.1", (HttpContext http) => Results.Json(new JsonObject { ["version"] = Entry(http, full: true) }))
            .WithTags("Versions").WithSummary("Show the v2.1 API version and its microversion range").AllowAnonymous();
    }

    private static JsonObject Entry(HttpContext http, bool full)
    {
        var links = new JsonArray(new JsonObject { ["href"] = PublicUrls.Compute(http) + "/", ["rel"] = "self" });
        var entry = new JsonObject
        {
            ["id"] = "v2.1",
            ["links"] = links,
            ["status"] = "CURRENT",
            ["version"] = ApiVersion.Max.ToString(),
            ["min_version"] = ApiVersion.Min.ToString(),
            ["updated"] = Updated,
        };
        if (full)
        {
            links.Add(new JsonObject { ["href"] = "http://docs.openstack.org/", ["rel"] = "describedby", ["type"] = "text/html" });
            entry["media-types"] = new JsonArray(new JsonObject
            {
                ["base"] = "application/json",
                ["type"] = "application/vnd.openstack.compute+json;version=2.1",
            });
        }

        return entry;
    }
}
