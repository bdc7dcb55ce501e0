using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>Flavor create, delete, description update and extra specs over real HTTP, with Nova's answers.</summary>
public class FlavorManageTests : GatewayFixture
{
    private async Task<ApiResponse> SendAsync(string method, string path, string? token, string? body = null, string? microversion = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (token is not null) request.Headers.Add("X-Auth-Token", token);
        if (microversion is not null) request.Headers.Add("OpenStack-API-Version", "compute " + microversion);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        return await Gateway.SendAsync(request);
    }

    private static string Message(ApiResponse r, string fault) => r.Json![fault]!["message"]!.GetValue<string>();

    [Test]
    public async Task Create_WithoutId_Answers200WithAUuid_AndTheFlavorIsListed()
    {
        var r = await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"fm.noid","ram":1024,"vcpus":2,"disk":10}}""");
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), r.Text);
        var flavor = r.Json!["flavor"]!;
        var id = flavor["id"]!.GetValue<string>();
        Assert.That(Guid.TryParseExact(id, "D", out _), Is.True, id);
        Assert.That((flavor["name"]!.GetValue<string>(), flavor["ram"]!.GetValue<int>(), flavor["vcpus"]!.GetValue<int>(), flavor["disk"]!.GetValue<int>()),
            Is.EqualTo(("fm.noid", 1024, 2, 10)));
        Assert.That((flavor["swap"]!.GetValue<string>(), flavor["OS-FLV-EXT-DATA:ephemeral"]!.GetValue<int>(), flavor["os-flavor-access:is_public"]!.GetValue<bool>(), flavor["rxtx_factor"]!.GetValue<double>()),
            Is.EqualTo(("", 0, true, 1.0)));

        var shown = await Gateway.GetAsync($"/v2.1/flavors/{id}", DemoToken);
        Assert.That(shown.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(shown.Json!["flavor"]!.ToJsonString(), Is.EqualTo(flavor.ToJsonString()));
        var detail = (await Gateway.GetAsync("/v2.1/flavors/detail", DemoToken)).Json!["flavors"]!.AsArray();
        Assert.That(detail.Select(f => f!["id"]!.GetValue<string>()), Does.Contain(id));
    }

    [Test]
    public async Task FlavorAccess_SharesAPrivateFlavorWithAProject_AsNovasOsFlavorAccess()
    {
        AssertOk(await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"fa.private","id":"fa-private","ram":512,"vcpus":1,"disk":1,"os-flavor-access:is_public":false}}"""));
        var demo = await Gateway.ProjectIdAsync(TestUsers.Demo.Project);
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/fa-private", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound));

        var added = await SendAsync("POST", "/v2.1/flavors/fa-private/action", AdminToken, $$$"""{"addTenantAccess":{"tenant":"{{{demo}}}"}}""");
        AssertOk(added);
        Assert.That(added.Json!.ToJsonString(), Is.EqualTo($$$"""{"flavor_access":[{"flavor_id":"fa-private","tenant_id":"{{{demo}}}"}]}"""));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/fa-private", DemoToken)).Status, Is.EqualTo(HttpStatusCode.OK), "shared: the member finds it");
        var listed = (await Gateway.GetAsync("/v2.1/flavors", DemoToken)).Json!["flavors"]!.AsArray();
        Assert.That(listed.Select(f => f!["id"]!.GetValue<string>()), Does.Contain("fa-private"));
        var other = await Gateway.TokenAsync(TestUsers.Other);
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/fa-private", other)).Status, Is.EqualTo(HttpStatusCode.NotFound), "not shared with the other project");
        var list = await Gateway.GetAsync("/v2.1/flavors/fa-private/os-flavor-access", AdminToken);
        Assert.That(list.Json!["flavor_access"]!.AsArray(), Has.Count.EqualTo(1));

        var again = await SendAsync("POST", "/v2.1/flavors/fa-private/action", AdminToken, $$$"""{"addTenantAccess":{"tenant":"{{{demo}}}"}}""");
        Assert.That((again.Status, Message(again, "conflictingRequest")),
            Is.EqualTo((HttpStatusCode.Conflict, $"Flavor access already exists for flavor fa-private and project {demo} combination.")));
        var unknown = await SendAsync("POST", "/v2.1/flavors/fa-private/action", AdminToken, """{"addTenantAccess":{"tenant":"nobody"}}""");
        Assert.That(Message(unknown, "badRequest"), Is.EqualTo("Project ID nobody is not a valid project."));
        var publicOne = await SendAsync("POST", "/v2.1/flavors/1/action", AdminToken, $$$"""{"addTenantAccess":{"tenant":"{{{demo}}}"}}""", "2.7");
        Assert.That((publicOne.Status, Message(publicOne, "conflictingRequest")), Is.EqualTo((HttpStatusCode.Conflict, "Can not add access to a public flavor.")));
        Assert.That(Message(await Gateway.GetAsync("/v2.1/flavors/1/os-flavor-access", AdminToken), "itemNotFound"), Is.EqualTo("Access list not available for public flavors."));
        var extra = await SendAsync("POST", "/v2.1/flavors/fa-private/action", AdminToken, """{"addTenantAccess":{"tenant":"x","role":"y"}}""");
        Assert.That(Message(extra, "badRequest"), Does.EndWith("Additional properties are not allowed ('role' was unexpected)"));
        Assert.That((await SendAsync("POST", "/v2.1/flavors/fa-private/action", DemoToken, $$$"""{"addTenantAccess":{"tenant":"{{{demo}}}"}}""")).Status,
            Is.EqualTo(HttpStatusCode.Forbidden));

        AssertOk(await SendAsync("POST", "/v2.1/flavors/fa-private/action", AdminToken, $$$"""{"removeTenantAccess":{"tenant":"{{{demo}}}"}}"""));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/fa-private", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound), "unshared: gone again");
        var gone = await SendAsync("POST", "/v2.1/flavors/fa-private/action", AdminToken, $$$"""{"removeTenantAccess":{"tenant":"{{{demo}}}"}}""");
        Assert.That(Message(gone, "itemNotFound"), Is.EqualTo($"Flavor access not found for fa-private / {demo} combination."));
    }

    private static void AssertOk(ApiResponse r) => Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), r.Text);

    [Test]
    public async Task Create_WithEveryField_AtLatest_KeepsThemAll()
    {
        var r = await SendAsync("POST", "/v2.1/flavors", AdminToken,
            """{"flavor":{"name":"fm.full","id":"fm-full","ram":"2048","vcpus":1,"disk":0,"swap":512,"OS-FLV-EXT-DATA:ephemeral":5,"rxtx_factor":2.5,"os-flavor-access:is_public":"false","description":"made by a test"}}""",
            "2.61");
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), r.Text);
        var f = r.Json!["flavor"]!;
        Assert.That((f["id"]!.GetValue<string>(), f["ram"]!.GetValue<int>(), f["swap"]!.GetValue<int>(), f["OS-FLV-EXT-DATA:ephemeral"]!.GetValue<int>()),
            Is.EqualTo(("fm-full", 2048, 512, 5)));
        Assert.That((f["rxtx_factor"]!.GetValue<double>(), f["os-flavor-access:is_public"]!.GetValue<bool>(), f["description"]!.GetValue<string>()),
            Is.EqualTo((2.5, false, "made by a test")));
        Assert.That(f["extra_specs"]!.AsObject(), Is.Empty);

        // Private: the member does not see it, the admin does with is_public=None.
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/fm-full", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound));
        var all = (await Gateway.GetAsync("/v2.1/flavors?is_public=None", AdminToken)).Json!["flavors"]!.AsArray();
        Assert.That(all.Select(x => x!["id"]!.GetValue<string>()), Does.Contain("fm-full"));
    }

    [Test]
    public async Task Create_WithAnIntegerId_StoresItAsText()
    {
        var r = await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"fm.int","ram":512,"vcpus":1,"disk":1,"id":4242}}""");
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), r.Text);
        Assert.That(r.Json!["flavor"]!["id"]!.GetValue<string>(), Is.EqualTo("4242"));
    }

    [Test]
    public async Task Create_Duplicates_Answer409WithNovasMessages()
    {
        var id = await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"fm.dupe-id","ram":512,"vcpus":1,"disk":1,"id":"1"}}""");
        Assert.That(id.Status, Is.EqualTo(HttpStatusCode.Conflict), id.Text);
        Assert.That(Message(id, "conflictingRequest"), Is.EqualTo("Flavor with ID 1 already exists."));
        var name = await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"m1.tiny","ram":512,"vcpus":1,"disk":1}}""");
        Assert.That(name.Status, Is.EqualTo(HttpStatusCode.Conflict), name.Text);
        Assert.That(Message(name, "conflictingRequest"), Is.EqualTo("Flavor with name m1.tiny already exists."));
    }

    [TestCase("""{"flavor":{"ram":512,"vcpus":1,"disk":1}}""", "Invalid input for field/attribute flavor. Value: {'ram': 512, 'vcpus': 1, 'disk': 1}. 'name' is a required property")]
    [TestCase("""{"flavor":{"name":"x","ram":0,"vcpus":1,"disk":1}}""", "Invalid input for field/attribute ram. Value: 0. 0 is less than the minimum of 1")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":"two","disk":1}}""", "Invalid input for field/attribute vcpus. Value: two. 'two' does not match '^[0-9]*$'")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":1,"disk":-1}}""", "Invalid input for field/attribute disk. Value: -1. -1 is less than the minimum of 0")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":1,"disk":1,"id":"bad id!"}}""", "Invalid input for field/attribute id. Value: bad id!. 'bad id!' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'")]
    [TestCase("""{"flavor":{"name":" x","ram":512,"vcpus":1,"disk":1}}""", "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":1,"disk":1,"color":"red"}}""", "Invalid input for field/attribute flavor. Value: {'name': 'x', 'ram': 512, 'vcpus': 1, 'disk': 1, 'color': 'red'}. Additional properties are not allowed ('color' was unexpected)")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":1,"disk":1,"description":"too early"}}""", "Invalid input for field/attribute flavor. Value: {'name': 'x', 'ram': 512, 'vcpus': 1, 'disk': 1, 'description': 'too early'}. Additional properties are not allowed ('description' was unexpected)")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":1,"disk":1,"os-flavor-access:is_public":"maybe"}}""", "Invalid input for field/attribute os-flavor-access:is_public. Value: maybe. 'maybe' is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']")]
    [TestCase("""{"flavor":{"name":"x","ram":"","vcpus":1,"disk":1}}""", "Invalid input received: ram must be an integer")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":1,"disk":1,"rxtx_factor":0}}""", "Invalid input for field/attribute rxtx_factor. Value: 0. 0 is less than or equal to the minimum of 0")]
    [TestCase("""{"flavor":{"name":"x","ram":512,"vcpus":1,"disk":1},"flavors":{}}""", "Additional properties are not allowed ('flavors' was unexpected)")]
    [TestCase("""{"flavors":{}}""", "'flavor' is a required property")]
    [TestCase("""{}""", "'flavor' is a required property")]
    public async Task Create_BadBodies_Answer400WithNovasSchemaMessages(string body, string message)
    {
        var r = await SendAsync("POST", "/v2.1/flavors", AdminToken, body);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest), r.Text);
        Assert.That(Message(r, "badRequest"), Is.EqualTo(message));
    }

    [Test]
    public async Task Create_And_Delete_AreAdminOnly()
    {
        var r = await SendAsync("POST", "/v2.1/flavors", DemoToken, """{"flavor":{"name":"fm.member","ram":512,"vcpus":1,"disk":1}}""");
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(Message(r, "forbidden"), Is.EqualTo("Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed."));
        var d = await SendAsync("DELETE", "/v2.1/flavors/1", DemoToken);
        Assert.That(d.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(Message(d, "forbidden"), Is.EqualTo("Policy doesn't allow os_compute_api:os-flavor-manage:delete to be performed."));
    }

    [Test]
    public async Task Delete_Answers202_TheFlavorLeavesTheLists_AndItsNameAndIdMayBeReused()
    {
        var created = await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"fm.gone","ram":512,"vcpus":1,"disk":1,"id":"fm-gone"}}""");
        Assert.That(created.Status, Is.EqualTo(HttpStatusCode.OK), created.Text);
        var deleted = await SendAsync("DELETE", "/v2.1/flavors/fm-gone", AdminToken);
        Assert.That(deleted.Status, Is.EqualTo(HttpStatusCode.Accepted), deleted.Text);
        Assert.That(deleted.Text, Is.Empty);
        var detail = (await Gateway.GetAsync("/v2.1/flavors/detail?is_public=None", AdminToken)).Json!["flavors"]!.AsArray();
        Assert.That(detail.Select(f => f!["id"]!.GetValue<string>()), Does.Not.Contain("fm-gone"));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/fm-gone", AdminToken)).Status, Is.EqualTo(HttpStatusCode.NotFound));

        var again = await SendAsync("DELETE", "/v2.1/flavors/fm-gone", AdminToken);
        Assert.That(again.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(Message(again, "itemNotFound"), Is.EqualTo("Flavor fm-gone could not be found."));
        var reused = await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"fm.gone","ram":1024,"vcpus":1,"disk":1,"id":"fm-gone"}}""");
        Assert.That(reused.Status, Is.EqualTo(HttpStatusCode.OK), reused.Text);
    }

    [Test]
    public async Task Update_SetsTheDescriptionFrom255_AndIsNotThereBefore()
    {
        var before = await SendAsync("PUT", "/v2.1/flavors/3", AdminToken, """{"flavor":{"description":"medium"}}""", "2.54");
        Assert.That(before.Status, Is.EqualTo(HttpStatusCode.NotFound), before.Text);
        var r = await SendAsync("PUT", "/v2.1/flavors/3", AdminToken, """{"flavor":{"description":"medium"}}""", "2.55");
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), r.Text);
        Assert.That(r.Json!["flavor"]!["description"]!.GetValue<string>(), Is.EqualTo("medium"));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/3", DemoToken, "2.55")).Json!["flavor"]!["description"]!.GetValue<string>(), Is.EqualTo("medium"));
        var bad = await SendAsync("PUT", "/v2.1/flavors/3", AdminToken, """{"flavor":{"name":"x"}}""", "2.55");
        Assert.That(bad.Status, Is.EqualTo(HttpStatusCode.BadRequest), bad.Text);
        Assert.That(Message(bad, "badRequest"), Does.EndWith("'description' is a required property"));
        var member = await SendAsync("PUT", "/v2.1/flavors/3", DemoToken, """{"flavor":{"description":null}}""", "2.55");
        Assert.That(member.Status, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task ExtraSpecs_SetUpdateDelete_WithNovasAnswers()
    {
        Assert.That((await SendAsync("POST", "/v2.1/flavors", AdminToken, """{"flavor":{"name":"fm.specs","ram":512,"vcpus":1,"disk":1,"id":"fm-specs"}}""")).Status,
            Is.EqualTo(HttpStatusCode.OK));
        var set = await SendAsync("POST", "/v2.1/flavors/fm-specs/os-extra_specs", AdminToken, """{"extra_specs":{"hw:cpu_policy":"dedicated","quota:cpu_shares":1024}}""");
        Assert.That(set.Status, Is.EqualTo(HttpStatusCode.OK), set.Text);
        Assert.That(set.Json!.ToJsonString(), Is.EqualTo("""{"extra_specs":{"hw:cpu_policy":"dedicated","quota:cpu_shares":1024}}"""));
        var listed = (await Gateway.GetAsync("/v2.1/flavors/fm-specs/os-extra_specs", DemoToken)).Json!;
        Assert.That(listed.ToJsonString(), Is.EqualTo("""{"extra_specs":{"hw:cpu_policy":"dedicated","quota:cpu_shares":"1024"}}"""));

        var put = await SendAsync("PUT", "/v2.1/flavors/fm-specs/os-extra_specs/hw:cpu_policy", AdminToken, """{"hw:cpu_policy":"shared"}""");
        Assert.That(put.Status, Is.EqualTo(HttpStatusCode.OK), put.Text);
        Assert.That(put.Json!.ToJsonString(), Is.EqualTo("""{"hw:cpu_policy":"shared"}"""));
        var mismatch = await SendAsync("PUT", "/v2.1/flavors/fm-specs/os-extra_specs/hw:cpu_policy", AdminToken, """{"hw:mem_page_size":"large"}""");
        Assert.That(Message(mismatch, "badRequest"), Is.EqualTo("Request body and URI mismatch"));
        var two = await SendAsync("PUT", "/v2.1/flavors/fm-specs/os-extra_specs/a", AdminToken, """{"a":"1","b":"2"}""");
        Assert.That(Message(two, "badRequest"), Is.EqualTo("{'a': '1', 'b': '2'} has too many properties"));
        var badKey = await SendAsync("POST", "/v2.1/flavors/fm-specs/os-extra_specs", AdminToken, """{"extra_specs":{"bad/key":"x"}}""");
        Assert.That(Message(badKey, "badRequest"), Is.EqualTo("Invalid input for field/attribute extra_specs. Value: {'bad/key': 'x'}. Additional properties are not allowed ('bad/key' was unexpected)"));

        var member = await SendAsync("POST", "/v2.1/flavors/fm-specs/os-extra_specs", DemoToken, """{"extra_specs":{"a":"b"}}""");
        Assert.That(member.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(Message(member, "forbidden"), Is.EqualTo("Policy doesn't allow os_compute_api:os-flavor-extra-specs:create to be performed."));

        var removed = await SendAsync("DELETE", "/v2.1/flavors/fm-specs/os-extra_specs/hw:cpu_policy", AdminToken);
        Assert.That(removed.Status, Is.EqualTo(HttpStatusCode.OK), removed.Text); // Nova answers 200 (flavors_extraspecs.py delete has no other response code)
        var missing = await SendAsync("DELETE", "/v2.1/flavors/fm-specs/os-extra_specs/hw:cpu_policy", AdminToken);
        Assert.That(missing.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(Message(missing, "itemNotFound"), Is.EqualTo("Flavor fm-specs has no extra specs with key hw:cpu_policy."));
        var noFlavor = await SendAsync("POST", "/v2.1/flavors/nope/os-extra_specs", AdminToken, """{"extra_specs":{"a":"b"}}""");
        Assert.That(Message(noFlavor, "itemNotFound"), Is.EqualTo("Flavor nope could not be found."));
        var after = (await Gateway.GetAsync("/v2.1/flavors/fm-specs", AdminToken, "2.61")).Json!["flavor"]!["extra_specs"]!;
        Assert.That(after.ToJsonString(), Is.EqualTo("""{"quota:cpu_shares":"1024"}"""));
    }
}
