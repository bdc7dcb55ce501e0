using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>
/// Placement the way Nova users express it, end to end (real HTTP, Hangfire, XAPI on three
/// simulated hosts): Nova's os-server-groups in each microversion shape with its refusals, the
/// group's policy — and the same_host / different_host hints — kept when members boot and when
/// they move, several servers from one request, and private flavors only for the projects they
/// are shared with, at boot and at resize.
/// </summary>
[NonParallelizable]
public class PlacementTests : WorkflowFixture
{
    private static readonly string Debian = TemplateImages.IdForName("Debian Bookworm 12").ToString();

    [Test]
    public async Task Groups_AreCreatedShownListedAndDeleted_InEachMicroversionShape()
    {
        var legacy = await PostGroupAsync(Demo, """{"server_group":{"name":"sg-legacy","policies":["anti-affinity"]}}""", "2.1");
        AssertStatus(legacy, HttpStatusCode.OK);
        var view = legacy.Json!["server_group"]!;
        Assert.That(view.AsObject().Select(p => p.Key), Is.EqualTo(new[] { "id", "name", "policies", "metadata", "members" }));
        Assert.That(view["policies"]!.ToJsonString(), Is.EqualTo("""["anti-affinity"]"""));

        var soft = await PostGroupAsync(Demo, """{"server_group":{"name":"sg-soft","policies":["soft-affinity"]}}""", "2.1");
        AssertStatus(soft, HttpStatusCode.BadRequest);
        Assert.That(Message(soft), Is.EqualTo("Invalid input for field/attribute 0. Value: soft-affinity. 'soft-affinity' is not one of ['anti-affinity', 'affinity']"));
        AssertStatus(await PostGroupAsync(Demo, """{"server_group":{"name":"sg-soft","policies":["soft-affinity"]}}""", "2.15"), HttpStatusCode.OK);

        var modern = await PostGroupAsync(Demo, """{"server_group":{"name":"sg-rules","policy":"anti-affinity","rules":{"max_server_per_host":"2"}}}""", "2.64");
        AssertStatus(modern, HttpStatusCode.OK);
        var id = modern.Json!["server_group"]!["id"]!.GetValue<string>();
        Assert.That(modern.Json!["server_group"]!.AsObject().Select(p => p.Key),
            Is.EqualTo(new[] { "id", "name", "policy", "rules", "members", "project_id", "user_id" }));
        Assert.That(modern.Json!["server_group"]!["rules"]!.ToJsonString(), Is.EqualTo("""{"max_server_per_host":2}"""));

        var ruled = await PostGroupAsync(Demo, """{"server_group":{"name":"sg-bad","policy":"affinity","rules":{"max_server_per_host":2}}}""", "2.64");
        AssertStatus(ruled, HttpStatusCode.BadRequest);
        Assert.That(Message(ruled), Is.EqualTo("Only anti-affinity policy supports rules."));
        var old = await PostGroupAsync(Demo, """{"server_group":{"name":"sg-bad","policies":["affinity"]}}""", "2.64");
        AssertStatus(old, HttpStatusCode.BadRequest);
        Assert.That(Message(old), Does.EndWith("'policy' is a required property"));
        var zero = await PostGroupAsync(Demo, """{"server_group":{"name":"sg-bad","policy":"anti-affinity","rules":{"max_server_per_host":0}}}""", "2.64");
        Assert.That(Message(zero), Is.EqualTo("Invalid input for field/attribute max_server_per_host. Value: 0. 0 is less than the minimum of 1"));
        AssertStatus(await PostGroupAsync(Admin, """{"server_group":{"name":" padded","policies":["affinity"]}}"""), HttpStatusCode.BadRequest);
        AssertStatus(await PostGroupAsync(await Gateway.TokenAsync(TestUsers.Reader), """{"server_group":{"name":"sg-reader","policies":["affinity"]}}"""),
            HttpStatusCode.Forbidden);

        var show = await Gateway.GetAsync($"/v2.1/os-server-groups/{id}", Demo, "2.13");
        AssertStatus(show, HttpStatusCode.OK);
        Assert.That(show.Json!["server_group"]!["project_id"]!.GetValue<string>(), Is.EqualTo(await Gateway.ProjectIdAsync(TestUsers.Demo.Project)));
        var other = await Gateway.TokenAsync(TestUsers.Other);
        var hidden = await Gateway.GetAsync($"/v2.1/os-server-groups/{id}", other);
        AssertStatus(hidden, HttpStatusCode.NotFound);
        Assert.That(hidden.Json!["itemNotFound"]!["message"]!.GetValue<string>(), Is.EqualTo($"Instance group {id} could not be found."));
        Assert.That((await Gateway.GetAsync("/v2.1/os-server-groups", other)).Json!["server_groups"]!.AsArray(), Is.Empty, "another project's groups are not listed");

        var mine = (await Gateway.GetAsync("/v2.1/os-server-groups", Demo)).Json!["server_groups"]!.AsArray();
        Assert.That(mine.Select(g => g!["name"]!.GetValue<string>()), Is.SupersetOf(new[] { "sg-legacy", "sg-soft", "sg-rules" }));
        AssertStatus(await Gateway.GetAsync("/v2.1/os-server-groups?all_projects=True", Demo), HttpStatusCode.Forbidden);
        var all = (await Gateway.GetAsync("/v2.1/os-server-groups?all_projects=True", Admin)).Json!["server_groups"]!.AsArray();
        Assert.That(all.Select(g => g!["id"]!.GetValue<string>()), Does.Contain(id));
        var paged = (await Gateway.GetAsync("/v2.1/os-server-groups?limit=1&offset=1", Demo)).Json!["server_groups"]!.AsArray();
        Assert.That(paged.Select(g => g!["id"]!.GetValue<string>()), Is.EqualTo(new[] { mine[1]!["id"]!.GetValue<string>() }));
        AssertStatus(await Gateway.GetAsync("/v2.1/os-server-groups?limit=x", Demo), HttpStatusCode.BadRequest);

        AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/os-server-groups/{id}", other, null), HttpStatusCode.NotFound);
        AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/os-server-groups/{id}", Demo, null), HttpStatusCode.NoContent);
        AssertStatus(await Gateway.GetAsync($"/v2.1/os-server-groups/{id}", Demo), HttpStatusCode.NotFound);

        // The project's server_groups quota: full at what it holds now, then the next is refused.
        var project = await Gateway.ProjectIdAsync(TestUsers.Demo.Project);
        var used = (await Gateway.GetAsync("/v2.1/os-server-groups", Demo)).Json!["server_groups"]!.AsArray().Count;
        AssertStatus(await PutQuotaAsync(project, $$$"""{"quota_set":{"server_groups":{{{used}}}}}"""), HttpStatusCode.OK);
        var over = await PostGroupAsync(Demo, """{"server_group":{"name":"sg-over","policies":["affinity"]}}""");
        AssertStatus(over, HttpStatusCode.Forbidden);
        Assert.That(over.Json!["forbidden"]!["message"]!.GetValue<string>(), Is.EqualTo("Quota exceeded, too many server groups."));
        var limits = (await Gateway.GetAsync("/v2.1/limits", Demo)).Json!["limits"]!["absolute"]!;
        Assert.That(limits["totalServerGroupsUsed"]!.GetValue<int>(), Is.EqualTo(used));
        AssertStatus(await PutQuotaAsync(project, """{"quota_set":{"server_groups":10}}"""), HttpStatusCode.OK);
    }

    [Test]
    public async Task AntiAffinity_BootsMembersApart_AndAMigrationKeepsThemApart()
    {
        var group = await GroupAsync("anti-affinity");
        var a = await BootAsync("sg-anti-a", Hints(group));
        var b = await BootAsync("sg-anti-b", Hints(group));
        Assert.That(HostOf(b), Is.Not.EqualTo(HostOf(a)), "anti-affinity members boot on different hosts");

        var shown = (await Gateway.GetAsync($"/v2.1/servers/{Id(a)}", Demo, "2.100")).Json!["server"]!;
        Assert.That(shown["server_groups"]!.ToJsonString(), Is.EqualTo($"""["{group}"]"""), "2.71 server_groups");
        Assert.That(shown["scheduler_hints"]!.ToJsonString(), Is.EqualTo($$"""{"group":["{{group}}"]}"""), "2.100 scheduler_hints");
        var members = (await Gateway.GetAsync($"/v2.1/os-server-groups/{group}", Demo)).Json!["server_group"]!["members"]!.AsArray();
        Assert.That(members.Select(m => m!.GetValue<string>()), Is.EquivalentTo(new[] { Id(a), Id(b) }));

        // Three hosts: a may go only where neither it nor b is.
        var third = Lab.Hosts.Select(h => h.Name).Single(h => h != HostOf(a) && h != HostOf(b));
        AssertStatus(await ActionAsync(Id(a), Admin, """{"migrate":null}"""), HttpStatusCode.Accepted);
        var moved = await WaitForStatusAsync(Id(a), "VERIFY_RESIZE");
        Assert.That(moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo(third), "the migration keeps the group apart");
        AssertStatus(await ActionAsync(Id(a), Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(Id(a), "ACTIVE");

        // The host a left is the only one free of members; a fourth member finds none.
        var c = await BootAsync("sg-anti-c", Hints(group));
        Assert.That(HostOf(c), Is.Not.EqualTo(third).And.Not.EqualTo(HostOf(b)));
        var d = await CreateAsync("sg-anti-d", Hints(group));
        var failed = await WaitForStatusAsync(Id(d), "ERROR");
        Assert.That(failed["fault"]!["message"]!.GetValue<string>(), Does.StartWith("No valid host was found.").And.Contain("anti-affinity"));

        await DeleteAllAsync(a, b, c, d);
        var emptied = (await Gateway.GetAsync($"/v2.1/os-server-groups/{group}", Demo)).Json!["server_group"]!["members"]!.AsArray();
        Assert.That(emptied, Is.Empty, "deleted servers are no longer members");
    }

    [Test]
    public async Task Affinity_BootsMembersTogether_AndRefusesAMoveThatWouldSplitThem()
    {
        var group = await GroupAsync("affinity");
        var a = await BootAsync("sg-aff-a", Hints(group));
        var b = await BootAsync("sg-aff-b", Hints(group));
        Assert.That(HostOf(b), Is.EqualTo(HostOf(a)), "affinity members boot on one host");

        AssertStatus(await ActionAsync(Id(b), Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
        await Eventually.HoldsAsync(() => MigrationAsync(Id(b)), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(60), "the resize gives up");
        var stayed = await WaitForStatusAsync(Id(b), "ACTIVE");
        Assert.That((stayed["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), stayed["flavor"]!["original_name"]?.GetValue<string>() ?? "w1.small"),
            Is.EqualTo((HostOf(a), "w1.small")), "nothing moved: the server runs where it ran, with its flavor");

        await DeleteAllAsync(a, b);
    }

    [Test]
    public async Task SameAndDifferentHostHints_PlaceNextToOrAwayFromTheNamedServers_AndGroupMembersAreCounted()
    {
        var x = await BootAsync("sg-hint-x", null);
        var near = await BootAsync("sg-hint-near", new JsonObject { ["same_host"] = Id(x) });
        var away = await BootAsync("sg-hint-away", new JsonObject { ["different_host"] = new JsonArray(Id(x), Id(near)) });
        Assert.That((HostOf(near) == HostOf(x), HostOf(away) == HostOf(x)), Is.EqualTo((true, false)));

        var badUuid = await CreateAsync("sg-hint-bad", new JsonObject { ["group"] = "not-a-uuid" });
        AssertStatus(badUuid, HttpStatusCode.BadRequest);
        Assert.That(Message(badUuid), Is.EqualTo("Invalid input for field/attribute group. Value: not-a-uuid. 'not-a-uuid' is not a 'uuid'"));
        var missing = Guid.NewGuid();
        var unknown = await CreateAsync("sg-hint-bad", new JsonObject { ["group"] = missing.ToString() });
        AssertStatus(unknown, HttpStatusCode.BadRequest);
        Assert.That(Message(unknown), Is.EqualTo($"Instance group {missing} could not be found."));

        // server_group_members: one member allowed, the second refused before anything is recorded.
        var group = await GroupAsync("soft-anti-affinity");
        var project = await Gateway.ProjectIdAsync(TestUsers.Demo.Project);
        AssertStatus(await PutQuotaAsync(project, """{"quota_set":{"server_group_members":1}}"""), HttpStatusCode.OK);
        var member = await BootAsync("sg-hint-member", Hints(group));
        var second = await CreateAsync("sg-hint-second", Hints(group));
        AssertStatus(second, HttpStatusCode.Forbidden);
        Assert.That(second.Json!["forbidden"]!["message"]!.GetValue<string>(), Is.EqualTo("Quota exceeded, too many servers in group"));
        Assert.That(await FindAsync("sg-hint-second"), Is.Null);
        AssertStatus(await PutQuotaAsync(project, """{"quota_set":{"server_group_members":10}}"""), HttpStatusCode.OK);

        await DeleteAllAsync(x, near, away, member);
    }

    [Test]
    public async Task MultipleCreate_BootsAsManyAsTheQuotaAllows_UnderOneReservationId_AndEachKeepsTheGroup()
    {
        var group = await GroupAsync("anti-affinity");
        var body = new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "sg-multi", ["imageRef"] = Debian, ["flavorRef"] = "w1", ["networks"] = "none",
                ["min_count"] = 2, ["max_count"] = "3", ["return_reservation_id"] = true,
            },
            ["os:scheduler_hints"] = Hints(group),
        };
        var created = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo, body.ToJsonString(), "2.37");
        AssertStatus(created, HttpStatusCode.Accepted);
        var reservation = created.Json!["reservation_id"]!.GetValue<string>();
        Assert.That(reservation, Does.Match("^r-[0-9a-z]{8}$"));

        var listed = (await Gateway.GetAsync($"/v2.1/servers/detail?reservation_id={reservation}", Demo)).Json!["servers"]!.AsArray();
        Assert.That(listed.Select(s => s!["name"]!.GetValue<string>()).Order(), Is.EqualTo(new[] { "sg-multi-1", "sg-multi-2", "sg-multi-3" }));
        var active = new List<JsonNode>();
        foreach (var server in listed) active.Add(await WaitForStatusAsync(Id(server!), "ACTIVE"));
        Assert.That(active.Select(HostOf).Distinct().Count(), Is.EqualTo(3), "three anti-affinity members on three hosts");
        var launch = (await Gateway.GetAsync($"/v2.1/servers/detail?all_tenants=1&reservation_id={reservation}", Admin, "2.3")).Json!["servers"]!.AsArray()
            .Select(s => s!["OS-EXT-SRV-ATTR:launch_index"]!.GetValue<int>()).Order().ToList();
        Assert.That(launch, Is.EqualTo(new[] { 0, 1, 2 }));

        // The quota leaves room for two: min 1, max 5 makes two; min 3 is refused with Nova's message.
        var project = await Gateway.ProjectIdAsync(TestUsers.Demo.Project);
        AssertStatus(await PutQuotaAsync(project, """{"quota_set":{"instances":5}}"""), HttpStatusCode.OK);
        body["server"]!["name"] = "sg-fit";
        body["server"]!["min_count"] = 1;
        body["server"]!["max_count"] = 5;
        body.Remove("os:scheduler_hints");
        var fitted = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo, body.ToJsonString(), "2.37");
        AssertStatus(fitted, HttpStatusCode.Accepted);
        var fit = (await Gateway.GetAsync($"/v2.1/servers/detail?reservation_id={fitted.Json!["reservation_id"]!.GetValue<string>()}", Demo)).Json!["servers"]!.AsArray();
        Assert.That(fit, Has.Count.EqualTo(2));
        body["server"]!["name"] = "sg-over";
        body["server"]!["min_count"] = 3;
        var over = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo, body.ToJsonString(), "2.37");
        AssertStatus(over, HttpStatusCode.Forbidden);
        Assert.That(over.Json!["forbidden"]!["message"]!.GetValue<string>(), Does.StartWith("Quota exceeded for instances: Requested 3, but already used 5 of 5 instances"));
        body["server"]!["min_count"] = 4;
        body["server"]!["max_count"] = 2;
        var inverted = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo, body.ToJsonString(), "2.37");
        Assert.That(Message(inverted), Is.EqualTo("min_count must be <= max_count"));
        AssertStatus(await PutQuotaAsync(project, """{"quota_set":{"instances":10}}"""), HttpStatusCode.OK);

        await DeleteAllAsync(active.Concat(fit.Select(s => s!)).ToArray());
    }

    [Test]
    public async Task PrivateFlavor_BootsAndResizesOnlyForProjectsItIsSharedWith()
    {
        var created = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/flavors", Admin,
            """{"flavor":{"name":"pl.private","id":"pl-private","ram":2048,"vcpus":1,"disk":1,"os-flavor-access:is_public":false}}""");
        AssertStatus(created, HttpStatusCode.OK);
        var server = await BootAsync("pl-private-resize", null);

        var hidden = await ActionAsync(Id(server), Demo, """{"resize":{"flavorRef":"pl-private"}}""");
        AssertStatus(hidden, HttpStatusCode.BadRequest);
        var boot = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo,
            $$$"""{"server":{"name":"pl-private-boot","imageRef":"{{{Debian}}}","flavorRef":"pl-private","networks":"none"}}""", "2.37");
        AssertStatus(boot, HttpStatusCode.BadRequest);
        Assert.That(Message(boot), Is.EqualTo("Invalid flavorRef provided."));
        Assert.That(Status(await Gateway.GetAsync("/v2.1/servers/" + Id(server), Demo)), Is.EqualTo("ACTIVE"), "the refused resize changed nothing");

        var project = await Gateway.ProjectIdAsync(TestUsers.Demo.Project);
        AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/flavors/pl-private/action", Admin,
            $$$"""{"addTenantAccess":{"tenant":"{{{project}}}"}}"""), HttpStatusCode.OK);
        AssertStatus(await ActionAsync(Id(server), Demo, """{"resize":{"flavorRef":"pl-private"}}"""), HttpStatusCode.Accepted);
        var resized = await WaitForStatusAsync(Id(server), "VERIFY_RESIZE");
        Assert.That(resized["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("pl.private"));
        AssertStatus(await ActionAsync(Id(server), Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(Id(server), "ACTIVE");

        await DeleteAllAsync(server);
        AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Delete, "/v2.1/flavors/pl-private", Admin, null), HttpStatusCode.Accepted);
    }

    private static string Status(ApiResponse r) => r.Json!["server"]!["status"]!.GetValue<string>();

    private async Task<string> GroupAsync(string policy)
    {
        var created = await PostGroupAsync(Demo, $$$"""{"server_group":{"name":"sg-{{{policy}}}","policy":"{{{policy}}}"}}""", "2.64");
        AssertStatus(created, HttpStatusCode.OK);
        return created.Json!["server_group"]!["id"]!.GetValue<string>();
    }

    private static JsonObject Hints(string group) => new() { ["group"] = group };

    private async Task<JsonNode> BootAsync(string name, JsonObject? hints)
    {
        var created = await CreateAsync(name, hints);
        AssertStatus(created, HttpStatusCode.Accepted);
        return await WaitForStatusAsync(Id(created), "ACTIVE");
    }

    private Task<ApiResponse> CreateAsync(string name, JsonObject? hints)
    {
        var body = new JsonObject { ["server"] = new JsonObject { ["name"] = name, ["imageRef"] = Debian, ["flavorRef"] = "w1", ["networks"] = "none" } };
        if (hints is not null) body["os:scheduler_hints"] = hints;
        return Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo, body.ToJsonString(), "2.37");
    }

    private Task<ApiResponse> PostGroupAsync(string token, string body, string? microversion = null) =>
        Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/os-server-groups", token, body, microversion);

    private Task<ApiResponse> PutQuotaAsync(string project, string body) =>
        Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/os-quota-sets/{project}", Admin, body);

    private async Task DeleteAllAsync(params object[] servers)
    {
        var ids = servers.Select(s => s is ApiResponse r ? Id(r) : Id((JsonNode)s)).ToList();
        foreach (var id in ids) AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/servers/{id}", Admin, null), HttpStatusCode.NoContent);
        foreach (var id in ids)
            await Eventually.HoldsAsync(() => Gateway.GetAsync($"/v2.1/servers/{id}", Admin), r => r.Status == HttpStatusCode.NotFound,
                TimeSpan.FromSeconds(60), $"server {id} gone");
    }

    private static string Id(JsonNode server) => server["id"]!.GetValue<string>();
    private static string Id(ApiResponse created) => created.Json!["server"]!["id"]!.GetValue<string>();
    private static string HostOf(JsonNode server) => server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
    private static string Message(ApiResponse r) => r.Json!["badRequest"]!["message"]!.GetValue<string>();
}
