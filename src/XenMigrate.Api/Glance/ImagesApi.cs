using System.Text.Json.Nodes;
using XenMigrate.Api.Nova;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Images;

namespace XenMigrate.Api.Glance;

/// <summary>
/// The image endpoint the catalog advertises (OSC discovers it before every <c>server list</c> and
/// <c>server show</c>). Images are the XenServer templates on the hosts (<see cref="TemplateImages"/>),
/// in Glance v2's shape; an image's id is the same on every host and across restarts, and
/// <c>POST /servers</c> takes it as <c>imageRef</c>.
/// </summary>
public static class ImagesApi
{
    /// <summary>XAPI records no creation time for a template: every image shows this one.</summary>
    private const string Epoch = "1970-01-01T00:00:00Z";

    public static void MapImages(this IEndpointRouteBuilder app)
    {
        var image = app.MapGroup("/image").WithTags("Images (Glance v2)");
        image.MapGet("", (HttpContext http) => Results.Json(Versions(http), statusCode: StatusCodes.Status300MultipleChoices))
            .AllowAnonymous().WithSummary("Image API versions");
        image.MapGet("/versions", (HttpContext http) => Results.Json(Versions(http))).AllowAnonymous().ExcludeFromDescription();

        var v2 = image.MapGroup("/v2").RequireAuthorization();
        v2.MapGet("/images", ListImages).WithSummary("List images (the XenServer templates on the hosts)");
        v2.MapGet("/images/{image_id}", ShowImage).WithSummary("Show an image");
    }

    private static async Task<IResult> ListImages(HttpContext http, TemplateImages images, CancellationToken ct)
    {
        var query = http.Request.Query;
        IEnumerable<TemplateImage> all = await images.ListAsync(ct);
        if (query["name"].FirstOrDefault() is { } name) all = all.Where(i => i.Name == name);
        if (query["id"].FirstOrDefault() is { } id) all = all.Where(i => i.Id.ToString() == id);
        return Results.Json(new JsonObject
        {
            ["images"] = new JsonArray(all.Select(i => (JsonNode)Body(i)).ToArray()),
            ["first"] = "/v2/images",
            ["schema"] = "/v2/schemas/images",
        });
    }

    private static async Task<IResult> ShowImage(string image_id, TemplateImages images, CancellationToken ct)
    {
        var image = Guid.TryParseExact(image_id, "D", out var id) ? await images.FindAsync(id, ct) : null;
        return image is null ? throw NovaFaultException.NotFound($"No image found with ID {image_id}") : Results.Json(Body(image));
    }

    private static JsonObject Body(TemplateImage i) => new()
    {
        ["id"] = i.Id.ToString(),
        ["name"] = i.Name,
        ["status"] = "active",
        ["visibility"] = "public",
        ["protected"] = true,
        ["os_hidden"] = false,
        ["checksum"] = null,
        ["os_hash_algo"] = null,
        ["os_hash_value"] = null,
        ["owner"] = null,
        ["size"] = null,
        ["virtual_size"] = null,
        ["min_ram"] = i.MinRamMb,
        ["min_disk"] = 0,
        ["disk_format"] = "vhd",
        ["container_format"] = "bare",
        ["created_at"] = Epoch,
        ["updated_at"] = Epoch,
        ["tags"] = new JsonArray(),
        ["description"] = i.Description,
        ["xenserver_template"] = i.Name,
        ["xenserver_hosts"] = string.Join(",", i.Hosts),
        ["self"] = $"/v2/images/{i.Id}",
        ["file"] = $"/v2/images/{i.Id}/file",
        ["schema"] = "/v2/schemas/image",
    };

    private static JsonObject Versions(HttpContext http) => new()
    {
        ["versions"] = new JsonArray(new JsonObject
        {
            ["id"] = "v2.16",
            ["status"] = "CURRENT",
            ["links"] = new JsonArray(new JsonObject { ["rel"] = "self", ["href"] = PublicUrls.Base(http) + "/image/v2/" }),
        }),
    };
}
