using System.Text.Json.Nodes;
using XenMigrate.Api.Nova;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Glance;

/// <summary>
/// The image endpoint the catalog advertises. OSC discovers it before every <c>server list</c> and
/// <c>server show</c> and aborts when it has no versions. The gateway holds no images of its own:
/// servers are XenServer VMs with no Glance image (their <c>image</c> is ""), so the list is empty
/// and any image id is 404 until templates are published as images.
/// </summary>
public static class ImagesApi
{
    public static void MapImages(this IEndpointRouteBuilder app)
    {
        var image = app.MapGroup("/image").WithTags("Images (Glance v2)");
        image.MapGet("", (HttpContext http) => Results.Json(Versions(http), statusCode: StatusCodes.Status300MultipleChoices))
            .AllowAnonymous().WithSummary("Image API versions");
        image.MapGet("/versions", (HttpContext http) => Results.Json(Versions(http))).AllowAnonymous().ExcludeFromDescription();

        var v2 = image.MapGroup("/v2").RequireAuthorization();
        v2.MapGet("/images", () => Results.Json(new JsonObject
        {
            ["images"] = new JsonArray(),
            ["first"] = "/v2/images",
            ["schema"] = "/v2/schemas/images",
        })).WithSummary("List images");
        v2.MapGet("/images/{image_id}", ShowImage).WithSummary("Show an image");
    }

    private static IResult ShowImage(string image_id) =>
        throw NovaFaultException.NotFound($"No image found with ID {image_id}");

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
