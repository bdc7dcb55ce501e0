using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Servers;
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

    [Test]
    public async Task Document_GivesEachActionItsSchemaAndStatus_TheRealSuccessCodes_AndAMicroversionHeader()
    {
        var doc = (await Gateway.GetAsync("/openapi/v1.json", token: null)).Json!;
        JsonNode Op(string path, string method) => doc["paths"]![path]![method]!;
        IEnumerable<string> Statuses(string path, string method) => Op(path, method)["responses"]!.AsObject().Select(p => p.Key);

        var action = Op("/v2.1/servers/{server_id}/action", "post");
        var oneOf = action["requestBody"]!["content"]!["application/json"]!["schema"]!["oneOf"]!.AsArray();
        Assert.That(oneOf.Select(o => o!["title"]!.GetValue<string>()), Is.EquivalentTo(ServerActionSchemas.All.Select(a => a.Key)));
        Assert.That(oneOf.Select(o => o!["required"]![0]!.GetValue<string>()), Is.EquivalentTo(ServerActionSchemas.All.Select(a => a.Key)), "one key per body");
        Assert.That(Statuses("/v2.1/servers/{server_id}/action", "post"), Is.SupersetOf(new[] { "202", "204", "400", "401", "403", "404", "409" }).And.No.EqualTo("200"));

        Assert.That(Statuses("/v2.1/servers", "post"), Does.Contain("202").And.No.EqualTo("200"));
        Assert.That(Statuses("/v2.1/servers/{server_id}", "delete"), Does.Contain("204").And.No.EqualTo("200"));
        Assert.That(Statuses("/identity/v3/auth/tokens", "post"), Does.Contain("201").And.Contain("401").And.No.EqualTo("200"));
        Assert.That(Statuses("/v2.1/servers/{server_id}", "get"), Is.SupersetOf(new[] { "200", "401", "403", "404", "406" }));
        Assert.That(Statuses("/v2.1", "get"), Is.EqualTo(new[] { "200" }), "the version document needs no token");

        var header = Op("/v2.1/servers/detail", "get")["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "OpenStack-API-Version")!;
        Assert.That(header["in"]!.GetValue<string>(), Is.EqualTo("header"));
        Assert.That(Op("/identity/v3/auth/tokens", "post")["parameters"], Is.Null, "Keystone has no microversions");
    }

    /// <summary>
    /// Every action the document lists is one the dispatcher carries out: on a server that does not
    /// exist each is Nova's 404, not "There is no such action" (at the newest microversion, which
    /// the examples are written for).
    /// </summary>
    [Test]
    public async Task EveryDocumentedAction_IsDispatched()
    {
        foreach (var action in ServerActionSchemas.All)
        {
            var r = await Gateway.ActionAsync(Guid.NewGuid().ToString(), DemoToken, action.Example, "latest");
            Assert.That(r.Status, Is.EqualTo(HttpStatusCode.NotFound), $"{action.Key}: {r.Text}");
        }
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
