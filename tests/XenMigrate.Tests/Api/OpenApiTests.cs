using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

public class OpenApiTests : GatewayFixture
{
    [Test]
    public async Task Document_ListsTheRoutes_AndTheTokenScheme()
    {
        var r = await Gateway.GetAsync("/openapi/v1.json", token: null);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK));
        var paths = r.Json!["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.That(paths, Is.SupersetOf(new[] { "/v2.1/servers", "/v2.1/servers/detail", "/v2.1/servers/{server_id}", "/v2.1/flavors", "/identity/v3/auth/tokens" }));
        Assert.That(paths, Has.None.StartsWith("/v2.1/{project_id}"), "the project-prefixed twins are left out");
        var scheme = r.Json!["components"]!["securitySchemes"]!["KeystoneToken"]!;
        Assert.That((scheme["type"]!.GetValue<string>(), scheme["in"]!.GetValue<string>(), scheme["name"]!.GetValue<string>()),
            Is.EqualTo(("apiKey", "header", "X-Auth-Token")));
    }

    /// <summary>
    /// The committed document (src/XenMigrate.Api/XenMigrate.Api.json) is what the gateway serves, so a
    /// change to the API shows in review; XENMIGRATE_UPDATE_OPENAPI=1 rewrites it from the running gateway.
    /// </summary>
    [Test]
    public async Task Document_IsTheCommittedOne()
    {
        var served = JsonNode.Parse(await Gateway.Http.GetStringAsync("/openapi/v1.json"))!.AsObject();
        served.Remove("servers"); // the test gateway's own address
        var text = served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        var committed = RepositoryPaths.Of("src", "XenMigrate.Api", "XenMigrate.Api.json");
        if (Environment.GetEnvironmentVariable("XENMIGRATE_UPDATE_OPENAPI") == "1") await File.WriteAllTextAsync(committed, text);
        Assert.That(text, Is.EqualTo(File.Exists(committed) ? await File.ReadAllTextAsync(committed) : ""),
            "The API changed: review it, then refresh the committed document with XENMIGRATE_UPDATE_OPENAPI=1 dotnet test --filter Document_IsTheCommittedOne");
    }

    [Test]
    public async Task SwaggerUi_IsServed()
    {
        using var response = await Gateway.Http.GetAsync("/swagger/index.html");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("swagger-ui"));
    }
}
