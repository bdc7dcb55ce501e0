using System.Net;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>
/// The smaller compute routes Tempest and the clients call, over real HTTP: server tags, the
/// admin's os-resetState, restore and forceDelete, the (always empty) server password, the
/// extensions list, os-hosts, and the list filters image and changes-since as strict as Nova's.
/// </summary>
public class ServerExtrasTests : GatewayFixture
{
    [Test]
    public async Task Tags_AreListedReplacedAddedCheckedAndRemoved_AndFilterTheList()
    {
        var server = await Gateway.AddServerAsync("extras-tags", TestUsers.Demo, host: null);
        var path = $"/v2.1/servers/{server.Id}/tags";
        Assert.That((await Gateway.GetAsync(path, DemoToken, "2.25")).Status, Is.EqualTo(HttpStatusCode.NotFound), "no tags before 2.26");

        var replaced = await Gateway.SendJsonAsync(HttpMethod.Put, path, DemoToken, """{"tags":["web","prod","web"]}""", "2.26");
        Assert.That((replaced.Status, replaced.Json!["tags"]!.ToJsonString()), Is.EqualTo((HttpStatusCode.OK, """["web","prod"]""")));
        var added = await Gateway.SendJsonAsync(HttpMethod.Put, path + "/blue", DemoToken, null, "2.26");
        Assert.That((added.Status, added.Header("Location")), Is.EqualTo((HttpStatusCode.Created, $"{Gateway.BaseUrl}/v2.1/servers/{server.Id}/tags/blue")));
        Assert.That((await Gateway.SendJsonAsync(HttpMethod.Put, path + "/blue", DemoToken, null, "2.26")).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Gateway.GetAsync(path + "/blue", DemoToken, "2.26")).Status, Is.EqualTo(HttpStatusCode.NoContent));
        var missing = await Gateway.GetAsync(path + "/green", DemoToken, "2.26");
        Assert.That(missing.Json!["itemNotFound"]!["message"]!.GetValue<string>(), Is.EqualTo($"Instance {server.Id} has no tag 'green'"));
        var bad = await Gateway.SendJsonAsync(HttpMethod.Put, path, DemoToken, """{"tags":["a,b"]}""", "2.26");
        Assert.That(bad.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Invalid input for field/attribute 0. Value: a,b. 'a,b' does not match '^[^,/]*$'"));

        var shown = (await Gateway.GetAsync($"/v2.1/servers/{server.Id}", DemoToken, "2.26")).Json!["server"]!;
        Assert.That(shown["tags"]!.AsArray().Select(t => t!.GetValue<string>()), Is.EquivalentTo(new[] { "web", "prod", "blue" }));
        await Gateway.AddServerAsync("extras-untagged", TestUsers.Demo, host: null);
        var names = async (string query) => (await Gateway.GetAsync("/v2.1/servers?" + query, DemoToken, "2.26")).Json!["servers"]!.AsArray()
            .Select(s => s!["name"]!.GetValue<string>()).Where(n => n.StartsWith("extras-", StringComparison.Ordinal)).ToList();
        Assert.That(await names("tags=web,blue"), Is.EqualTo(new[] { "extras-tags" }));
        Assert.That(await names("tags-any=green,prod"), Is.EqualTo(new[] { "extras-tags" }));
        Assert.That(await names("not-tags-any=web"), Does.Contain("extras-untagged").And.Not.Contain("extras-tags"));

        Assert.That((await Gateway.SendJsonAsync(HttpMethod.Delete, path + "/blue", DemoToken, null, "2.26")).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Gateway.SendJsonAsync(HttpMethod.Delete, path, DemoToken, null, "2.26")).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Gateway.GetAsync(path, DemoToken, "2.26")).Json!["tags"]!.AsArray(), Is.Empty);
        Assert.That((await Gateway.SendJsonAsync(HttpMethod.Put, path + "/x", await Gateway.TokenAsync(TestUsers.Reader), null, "2.26")).Status,
            Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task ResetState_SetsErrorOrActive_RestoreIsAlways409_ForceDeleteDeletes()
    {
        var server = await Gateway.AddServerAsync("extras-reset", TestUsers.Demo, host: null);
        Assert.That((await Gateway.ActionAsync(server.Id.ToString(), DemoToken, """{"os-resetState":{"state":"error"}}""")).Status, Is.EqualTo(HttpStatusCode.Forbidden));
        var bad = await Gateway.ActionAsync(server.Id.ToString(), AdminToken, """{"os-resetState":{"state":"deleted"}}""");
        Assert.That(bad.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Invalid input for field/attribute state. Value: deleted. 'deleted' is not one of ['active', 'error']"));
        Assert.That((await Gateway.ActionAsync(server.Id.ToString(), AdminToken, """{"os-resetState":{"state":"error"}}""")).Status, Is.EqualTo(HttpStatusCode.Accepted));
        var shown = (await Gateway.GetAsync($"/v2.1/servers/{server.Id}", DemoToken)).Json!["server"]!;
        Assert.That(shown["status"]!.GetValue<string>(), Is.EqualTo("ERROR"));
        var errored = (await Gateway.GetAsync("/v2.1/servers?status=ERROR", DemoToken)).Json!["servers"]!.AsArray();
        Assert.That(errored.Select(s => s!["id"]!.GetValue<string>()), Does.Contain(server.Id.ToString()));
        Assert.That((await Gateway.ActionAsync(server.Id.ToString(), AdminToken, """{"os-resetState":{"state":"active"}}""")).Status, Is.EqualTo(HttpStatusCode.Accepted));

        var restore = await Gateway.ActionAsync(server.Id.ToString(), DemoToken, """{"restore":null}""");
        Assert.That(restore.Json!["conflictingRequest"]!["message"]!.GetValue<string>(), Is.EqualTo($"Cannot 'restore' instance {server.Id} while it is in vm_state active"));

        Assert.That((await Gateway.ActionAsync(server.Id.ToString(), DemoToken, """{"forceDelete":null}""")).Status, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That((await Gateway.GetAsync($"/v2.1/servers/{server.Id}", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound), "a server on no host goes at once");
    }

    [Test]
    public async Task PasswordExtensionsAndHosts_AnswerAsNova()
    {
        var server = await Gateway.AddServerAsync("extras-password", TestUsers.Demo, host: null);
        var password = await Gateway.GetAsync($"/v2.1/servers/{server.Id}/os-server-password", DemoToken);
        Assert.That(password.Json!.ToJsonString(), Is.EqualTo("""{"password":""}"""));
        Assert.That((await Gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/servers/{server.Id}/os-server-password", DemoToken, null)).Status,
            Is.EqualTo(HttpStatusCode.NoContent));

        var extensions = (await Gateway.GetAsync("/v2.1/extensions", DemoToken)).Json!["extensions"]!.AsArray();
        Assert.That(extensions.Select(e => e!["name"]!.GetValue<string>()), Does.Contain("Hosts").And.Contain("ServerGroups").And.Not.Contain("Consoles"));
        Assert.That((await Gateway.GetAsync("/v2.1/extensions/os-server-groups", DemoToken)).Json!["extension"]!["name"]!.GetValue<string>(), Is.EqualTo("ServerGroups"));
        Assert.That((await Gateway.GetAsync("/v2.1/extensions/os-consoles", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound));

        Assert.That((await Gateway.GetAsync("/v2.1/os-hosts", AdminToken, "2.43")).Status, Is.EqualTo(HttpStatusCode.NotFound), "gone from 2.43");
        Assert.That((await Gateway.GetAsync("/v2.1/os-hosts", DemoToken, "2.42")).Status, Is.EqualTo(HttpStatusCode.Forbidden));
        var missing = await Gateway.GetAsync("/v2.1/os-hosts/nowhere", AdminToken, "2.42");
        Assert.That(missing.Json!["itemNotFound"]!["message"]!.GetValue<string>(), Is.EqualTo("Compute host nowhere could not be found."));
        var invalid = await Gateway.SendJsonAsync(HttpMethod.Put, "/v2.1/os-hosts/nowhere", AdminToken, """{"status":"sideways"}""", "2.42");
        Assert.That(invalid.Status, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task ListFilters_ImageAndChangesSince_AreAsStrictAsNovas()
    {
        await Gateway.AddServerAsync("extras-filter", TestUsers.Demo, host: null);
        var none = (await Gateway.GetAsync("/v2.1/servers?image=non_existing_image", DemoToken)).Json!["servers"]!.AsArray();
        Assert.That(none, Is.Empty);
        var slashes = await Gateway.GetAsync("/v2.1/servers?changes-since=2011/01/01", DemoToken);
        Assert.That(slashes.Status, Is.EqualTo(HttpStatusCode.BadRequest), slashes.Text);
        Assert.That((await Gateway.GetAsync("/v2.1/servers?changes-since=2011-01-01T00:00:00Z", DemoToken)).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task QuotaClassDefault_IsEveryProjectsDefaults_AndTheAuditLogSaysNoHostRan()
    {
        var shown = (await Gateway.GetAsync("/v2.1/os-quota-class-sets/default", AdminToken, "2.50")).Json!["quota_class_set"]!;
        Assert.That((shown["id"]!.GetValue<string>(), shown["instances"]!.GetValue<int>()), Is.EqualTo(("default", 10)));
        Assert.That(shown["fixed_ips"], Is.Null, "the network proxies leave at 2.50");
        var legacy = (await Gateway.GetAsync("/v2.1/os-quota-class-sets/default", AdminToken, "2.49")).Json!["quota_class_set"]!;
        Assert.That(legacy["server_groups"], Is.Null, "no server group quotas before 2.50");
        Assert.That(legacy["fixed_ips"]!.GetValue<int>(), Is.EqualTo(-1));
        Assert.That((await Gateway.GetAsync("/v2.1/os-quota-class-sets/default", DemoToken)).Status, Is.EqualTo(HttpStatusCode.Forbidden));

        var updated = await Gateway.SendJsonAsync(HttpMethod.Put, "/v2.1/os-quota-class-sets/default", AdminToken, """{"quota_class_set":{"key_pairs":150,"fixed_ips":7}}""", "2.49");
        Assert.That((updated.Json!["quota_class_set"]!["key_pairs"]!.GetValue<int>(), updated.Json!["quota_class_set"]!["fixed_ips"]!.GetValue<int>()), Is.EqualTo((150, 7)));
        var project = await Gateway.ProjectIdAsync(TestUsers.Other.Project);
        var defaults = (await Gateway.GetAsync($"/v2.1/os-quota-sets/{project}", AdminToken)).Json!["quota_set"]!;
        Assert.That(defaults["key_pairs"]!.GetValue<int>(), Is.EqualTo(150), "a project without its own limit takes the class default");
        await Gateway.SendJsonAsync(HttpMethod.Put, "/v2.1/os-quota-class-sets/default", AdminToken, """{"quota_class_set":{"key_pairs":100}}""");

        var audit = (await Gateway.GetAsync("/v2.1/os-instance_usage_audit_log", AdminToken)).Json!["instance_usage_audit_logs"]!;
        Assert.That((audit["num_hosts_done"]!.GetValue<int>(), audit["total_instances"]!.GetValue<int>()), Is.EqualTo((0, 0)));
        var before = await Gateway.GetAsync("/v2.1/os-instance_usage_audit_log/" + Uri.EscapeDataString("2026-03-15 10:00:00"), AdminToken);
        Assert.That(before.Json!["instance_usage_audit_log"]!["period_beginning"]!.GetValue<string>(), Is.EqualTo("2026-02-01 00:00:00"));
        var invalid = await Gateway.GetAsync("/v2.1/os-instance_usage_audit_log/yesterday", AdminToken);
        Assert.That(invalid.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Invalid timestamp for date yesterday"));
    }

    [Test]
    public async Task ExternalEvents_AnswerEachEventsCode()
    {
        var unplaced = await Gateway.AddServerAsync("extras-events", TestUsers.Demo, host: null);
        var missing = Guid.NewGuid();
        var mixed = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/os-server-external-events", AdminToken,
            $$$"""{"events":[{"name":"network-changed","server_uuid":"{{{unplaced.Id}}}"},{"name":"network-vif-plugged","server_uuid":"{{{missing}}}","tag":"port"}]}""");
        Assert.That(mixed.Status, Is.EqualTo(HttpStatusCode.NotFound), "none delivered: one server on no host, one unknown");
        var codes = mixed.Json!["events"]!.AsArray().Select(e => (e!["code"]!.GetValue<int>(), e["status"]!.GetValue<string>()));
        Assert.That(codes, Is.EqualTo(new[] { (422, "failed"), (404, "failed") }));
        var bad = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/os-server-external-events", AdminToken, """{"events":[{"name":"reboot","server_uuid":"x"}]}""");
        Assert.That(bad.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/os-server-external-events", DemoToken,
            $$$"""{"events":[{"name":"network-changed","server_uuid":"{{{unplaced.Id}}}"}]}""")).Status, Is.EqualTo(HttpStatusCode.Forbidden));
    }
}
