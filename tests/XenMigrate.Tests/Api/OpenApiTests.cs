using System.Net;
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
        Assert.That(paths, Has.None.Contains("{project_id}"), "the project-prefixed twins are left out");
        var scheme = r.Json!["components"]!["securitySchemes"]!["KeystoneToken"]!;
        Assert.That((scheme["type"]!.GetValue<string>(), scheme["in"]!.GetValue<string>(), scheme["name"]!.GetValue<string>()),
            Is.EqualTo(("apiKey", "header", "X-Auth-Token")));
    }

    [Test]
    public async Task SwaggerUi_IsServed()
    {
        using var response = await Gateway.Http.GetAsync("/swagger/index.html");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("swagger-ui"));
    }
}
