using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

public class ServersApiTests : GatewayFixture
{
    private Server _web1 = null!;
    private Server _web2 = null!;
    private Server _db1 = null!;
    private Server _adminVm = null!;
    private Server _othersVm = null!;

    protected override async Task SeedAsync()
    {
        var t = DateTime.UtcNow.AddHours(-1);
        _web1 = await Gateway.AddServerAsync("web1", TestUsers.Demo, "1", createdAt: t);
        _web2 = await Gateway.AddServerAsync("web2", TestUsers.Demo, "2", host: "xs-sim-2", createdAt: t.AddMinutes(1));
        _db1 = await Gateway.AddServerAsync("db1", TestUsers.Demo, "3", vmState: VmState.Stopped, powerState: PowerState.Shutdown, createdAt: t.AddMinutes(2));
        _adminVm = await Gateway.AddServerAsync("infra1", TestUsers.Admin, "1", createdAt: t.AddMinutes(3));
        _othersVm = await Gateway.AddServerAsync("secret1", TestUsers.Other, "1", createdAt: t.AddMinutes(4));
    }

    private static List<string> Names(ApiResponse r) =>
        r.Json!["servers"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToList();

    [Test]
    public async Task Member_SeesOnlyTheirProjectsServers_NewestFirst()
    {
        var r = await Gateway.GetAsync("/v2.1/servers", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(Names(r), Is.EqualTo(new[] { "db1", "web2", "web1" }));
        var first = r.Json!["servers"]![0]!;
        Assert.That(first.AsObject().Select(p => p.Key), Is.EquivalentTo(new[] { "id", "name", "links" }));
        Assert.That(first["links"]![0]!["href"]!.GetValue<string>(), Is.EqualTo($"{Gateway.BaseUrl}/v2.1/servers/{_db1.Id}"));
        Assert.That(first["links"]![1]!["href"]!.GetValue<string>(), Is.EqualTo($"{Gateway.BaseUrl}/servers/{_db1.Id}"));
    }

    [Test]
    public async Task Reader_MayListAndShow()
    {
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers/detail", Tokens[TestUsers.Reader])), Has.Count.EqualTo(3));
        Assert.That((await Gateway.GetAsync($"/v2.1/servers/{_web1.Id}", Tokens[TestUsers.Reader])).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Admin_SeesOwnProjectByDefault_AndEveryoneWithAllTenants()
    {
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers", AdminToken)), Is.EqualTo(new[] { "infra1" }));
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?all_tenants=True", AdminToken)),
            Is.EqualTo(new[] { "secret1", "infra1", "db1", "web2", "web1" }));
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers/detail?all_tenants", AdminToken)), Has.Count.EqualTo(5));
        var demoProject = await Gateway.ProjectIdAsync("demo");
        Assert.That(Names(await Gateway.GetAsync($"/v2.1/servers?all_tenants=1&project_id={demoProject}", AdminToken)), Has.Count.EqualTo(3));
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?all_tenants=false", AdminToken)), Is.EqualTo(new[] { "infra1" }));
    }

    [Test]
    public async Task Member_AskingForAllTenants_Is403()
    {
        var r = await Gateway.GetAsync("/v2.1/servers?all_tenants=1", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(r.Json!["forbidden"]!["message"]!.GetValue<string>(),
            Is.EqualTo("Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed."));
    }

    [Test]
    public async Task BadAllTenantsValue_Is400()
    {
        var r = await Gateway.GetAsync("/v2.1/servers?all_tenants=maybe", AdminToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(r.Json!["badRequest"], Is.Not.Null);
    }

    [Test]
    public async Task Show_OwnServer_ById()
    {
        var r = await Gateway.GetAsync($"/v2.1/servers/{_web2.Id}", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK));
        var s = r.Json!["server"]!;
        Assert.Multiple(() =>
        {
            Assert.That(s["id"]!.GetValue<string>(), Is.EqualTo(_web2.Id.ToString()));
            Assert.That(s["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
            Assert.That(s["OS-EXT-STS:vm_state"]!.GetValue<string>(), Is.EqualTo("active"));
            Assert.That(s["OS-EXT-STS:task_state"], Is.Null);
            Assert.That(s["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(1));
            Assert.That(s["flavor"]!["id"]!.GetValue<string>(), Is.EqualTo("2"));
            Assert.That(s["hostId"]!.GetValue<string>(), Has.Length.EqualTo(56));
            Assert.That(s["progress"]!.GetValue<int>(), Is.EqualTo(0));
            Assert.That(s["image"]!.GetValue<string>(), Is.Empty);
            Assert.That(s["created"]!.GetValue<string>(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"));
            Assert.That(s["OS-SRV-USG:launched_at"]!.GetValue<string>(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$"));
            Assert.That(s.AsObject().ContainsKey("OS-EXT-SRV-ATTR:host"), Is.False, "admin-only");
            Assert.That(s.AsObject().ContainsKey("fault"), Is.False);
        });
    }

    [Test]
    public async Task HostId_IsTheSameForServersOnOneHost_AndDiffersAcrossHosts()
    {
        var a = await Gateway.GetAsync($"/v2.1/servers/{_web1.Id}", DemoToken);
        var b = await Gateway.GetAsync($"/v2.1/servers/{_db1.Id}", DemoToken);
        var c = await Gateway.GetAsync($"/v2.1/servers/{_web2.Id}", DemoToken);
        Assert.That(a.Json!["server"]!["hostId"]!.GetValue<string>(), Is.EqualTo(b.Json!["server"]!["hostId"]!.GetValue<string>()));
        Assert.That(a.Json!["server"]!["hostId"]!.GetValue<string>(), Is.Not.EqualTo(c.Json!["server"]!["hostId"]!.GetValue<string>()));
    }

    [Test]
    public async Task StoppedServer_IsShutoffWithoutProgress()
    {
        var s = (await Gateway.GetAsync($"/v2.1/servers/{_db1.Id}", DemoToken)).Json!["server"]!;
        Assert.That((s["status"]!.GetValue<string>(), s["OS-EXT-STS:power_state"]!.GetValue<int>()), Is.EqualTo(("SHUTOFF", 4)));
        Assert.That(s.AsObject().ContainsKey("progress"), Is.False);
    }

    [Test]
    public async Task Admin_SeesExtendedAttributes_AndHostStatus()
    {
        var s = (await Gateway.GetAsync($"/v2.1/servers/{_web1.Id}", AdminToken, "2.16")).Json!["server"]!;
        Assert.That(s["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-sim-1"));
        Assert.That(s["OS-EXT-SRV-ATTR:hypervisor_hostname"]!.GetValue<string>(), Is.EqualTo("xs-sim-1"));
        Assert.That(s["OS-EXT-SRV-ATTR:instance_name"]!.GetValue<string>(), Does.StartWith("instance-"));
        Assert.That(s["host_status"]!.GetValue<string>(), Is.EqualTo("UNKNOWN"), "no such compute host registered yet");
    }

    [TestCase("not-a-uuid")]
    [TestCase("web1")]
    [TestCase("00000000-0000-0000-0000-000000000000")]
    [TestCase("..%2F..%2Fetc%2Fpasswd")]
    public async Task UnknownOrNonUuidId_Is404(string id)
    {
        var r = await Gateway.GetAsync($"/v2.1/servers/{id}", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(r.Json!["itemNotFound"]!["code"]!.GetValue<int>(), Is.EqualTo(404));
    }

    [Test]
    public async Task AnotherProjectsServer_Is404_NotForbidden()
    {
        var r = await Gateway.GetAsync($"/v2.1/servers/{_othersVm.Id}", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(r.Json!["itemNotFound"]!["message"]!.GetValue<string>(), Is.EqualTo($"Instance {_othersVm.Id} could not be found."));
        Assert.That((await Gateway.GetAsync($"/v2.1/servers/{_othersVm.Id}", AdminToken)).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Paging_WithLimitAndMarker_WalksToAnEmptyPage()
    {
        var page1 = await Gateway.GetAsync("/v2.1/servers/detail?limit=2", DemoToken);
        Assert.That(Names(page1), Is.EqualTo(new[] { "db1", "web2" }));
        var next = page1.Json!["servers_links"]![0]!;
        Assert.That(next["rel"]!.GetValue<string>(), Is.EqualTo("next"));
        Assert.That(next["href"]!.GetValue<string>(), Is.EqualTo($"{Gateway.BaseUrl}/v2.1/servers/detail?limit=2&marker={_web2.Id}"));

        var page2 = await Gateway.GetAsync($"/v2.1/servers/detail?limit=2&marker={_web2.Id}", DemoToken);
        Assert.That(Names(page2), Is.EqualTo(new[] { "web1" }));
        Assert.That(page2.Json!.AsObject().ContainsKey("servers_links"), Is.False);

        var page3 = await Gateway.GetAsync($"/v2.1/servers?marker={_web1.Id}", DemoToken);
        Assert.That(Names(page3), Is.Empty, "the client's --limit -1 loop ends on an empty page");
    }

    [Test]
    public async Task UnknownMarker_Is400()
    {
        var r = await Gateway.GetAsync($"/v2.1/servers?marker={_othersVm.Id}", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(r.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo($"marker [{_othersVm.Id}] not found"));
    }

    [TestCase("abc", "limit param must be an integer")]
    [TestCase("-1", "limit param must be positive")]
    [TestCase("99999999999999", "limit param must be an integer")]
    public async Task BadLimit_Is400(string limit, string message)
    {
        var r = await Gateway.GetAsync($"/v2.1/servers?limit={limit}", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(r.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo(message));
    }

    [TestCase("web", new[] { "web2", "web1" })]
    [TestCase("^web1$", new[] { "web1" })]
    [TestCase("1$", new[] { "db1", "web1" })]
    [TestCase("nothing", new string[0])]
    public async Task NameFilter_IsARegularExpression(string pattern, string[] expected)
    {
        var r = await Gateway.GetAsync($"/v2.1/servers?name={Uri.EscapeDataString(pattern)}", DemoToken);
        Assert.That(Names(r), Is.EqualTo(expected));
    }

    [Test]
    public async Task InvalidNameRegex_Is400()
    {
        var r = await Gateway.GetAsync("/v2.1/servers?name=%28unclosed", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task StatusFilter_MatchesNovaStatus()
    {
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?status=SHUTOFF", DemoToken)), Is.EqualTo(new[] { "db1" }));
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?status=active", DemoToken)), Is.EqualTo(new[] { "web2", "web1" }));
    }

    [Test]
    public async Task HostFilter_IsForAdminsOnly()
    {
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?all_tenants=1&host=xs-sim-2", AdminToken)), Is.EqualTo(new[] { "web2" }));
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?host=xs-sim-2", DemoToken)), Has.Count.EqualTo(3), "ignored for members");
    }

    [Test]
    public async Task ProjectPrefixedRoutes_Work_AndLinksKeepThePrefix()
    {
        var demoProject = await Gateway.ProjectIdAsync("demo");
        var r = await Gateway.GetAsync($"/v2.1/{demoProject}/servers/{_web1.Id}", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(r.Json!["server"]!["links"]![0]!["href"]!.GetValue<string>(),
            Is.EqualTo($"{Gateway.BaseUrl}/v2.1/{demoProject}/servers/{_web1.Id}"));
        Assert.That((await Gateway.GetAsync($"/v2.1/{demoProject}/flavors/detail", DemoToken)).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task ProjectPrefix_OfAnotherProject_Is400()
    {
        var adminProject = await Gateway.ProjectIdAsync("admin");
        var demoProject = await Gateway.ProjectIdAsync("demo");
        var r = await Gateway.GetAsync($"/v2.1/{adminProject}/servers", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(r.Json!["badRequest"]!["message"]!.GetValue<string>(),
            Is.EqualTo($"Malformed request URL: URL's project_id '{adminProject}' doesn't match Context's project_id '{demoProject}'"));
    }

    [Test]
    public async Task Flavor_IsEmbeddedFrom247_AndSurvivesTheFlavorsDeletion()
    {
        var server = await Gateway.AddServerAsync("temp", TestUsers.Demo, "4");
        await using (var scope = Gateway.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            var flavor = await db.Flavors.SingleAsync(f => f.FlavorId == "4");
            flavor.SetExtraSpec("hw:cpu_policy", "dedicated");
            await db.SaveChangesAsync();
            var stored = await db.Servers.SingleAsync(s => s.Id == server.Id);
            db.Servers.Remove(stored);
            await db.SaveChangesAsync();
        }

        var custom = await Gateway.AddServerAsync("custom", TestUsers.Demo, "4");
        await using (var scope = Gateway.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            db.Flavors.Remove(await db.Flavors.SingleAsync(f => f.FlavorId == "4"));
            await db.SaveChangesAsync();
        }

        try
        {
            var old = (await Gateway.GetAsync($"/v2.1/servers/{custom.Id}", DemoToken)).Json!["server"]!["flavor"]!;
            Assert.That(old["id"]!.GetValue<string>(), Is.EqualTo("4"));

            var embedded = (await Gateway.GetAsync($"/v2.1/servers/{custom.Id}", DemoToken, "2.47")).Json!["server"]!["flavor"]!;
            Assert.That(embedded["original_name"]!.GetValue<string>(), Is.EqualTo("m1.large"));
            Assert.That((embedded["ram"]!.GetValue<int>(), embedded["vcpus"]!.GetValue<int>(), embedded["disk"]!.GetValue<int>()), Is.EqualTo((8192, 4, 80)));
            Assert.That(embedded["extra_specs"]!["hw:cpu_policy"]!.GetValue<string>(), Is.EqualTo("dedicated"));
        }
        finally
        {
            await using var scope = Gateway.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            db.Servers.Remove(await db.Servers.SingleAsync(s => s.Id == custom.Id));
            db.Flavors.Add(new XenMigrate.Domain.Flavors.Flavor("4", "m1.large", 8192, 4, 80));
            await db.SaveChangesAsync();
        }
    }

    [Test]
    public async Task ErrorServer_ShowsItsFault()
    {
        var broken = await Gateway.AddServerAsync("broken", TestUsers.Demo, "1", vmState: VmState.Error);
        await using (var scope = Gateway.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            var s = await db.Servers.SingleAsync(x => x.Id == broken.Id);
            s.RecordFault(500, "Disk copy failed", "export cut after 4096 bytes", DateTime.UtcNow);
            await db.SaveChangesAsync();
        }

        try
        {
            var member = (await Gateway.GetAsync($"/v2.1/servers/{broken.Id}", DemoToken)).Json!["server"]!;
            Assert.That(member["status"]!.GetValue<string>(), Is.EqualTo("ERROR"));
            Assert.That(member["fault"]!["message"]!.GetValue<string>(), Is.EqualTo("Disk copy failed"));
            Assert.That(member["fault"]!.AsObject().ContainsKey("details"), Is.False, "details are for admins");
            var admin = (await Gateway.GetAsync($"/v2.1/servers/{broken.Id}", AdminToken)).Json!["server"]!;
            Assert.That(admin["fault"]!["details"]!.GetValue<string>(), Is.EqualTo("export cut after 4096 bytes"));
        }
        finally
        {
            await using var scope = Gateway.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            db.Servers.Remove(await db.Servers.SingleAsync(x => x.Id == broken.Id));
            await db.SaveChangesAsync();
        }
    }

    [Test]
    public async Task UnknownQueryParameters_AreIgnoredBefore275_AndRefusedFrom275()
    {
        Assert.That((await Gateway.GetAsync("/v2.1/servers?colour=blue", DemoToken)).Status, Is.EqualTo(HttpStatusCode.OK));
        var strict = await Gateway.GetAsync("/v2.1/servers?colour=blue", DemoToken, "2.75");
        Assert.That(strict.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(strict.Json!["badRequest"]!["message"]!.GetValue<string>(), Does.Contain("'colour' was unexpected"));
        Assert.That((await Gateway.GetAsync("/v2.1/servers?flavor=1&sort_key=display_name", DemoToken, "2.75")).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task FlavorAndUuidFilters_Match()
    {
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?flavor=2", DemoToken)), Is.EqualTo(new[] { "web2" }));
        Assert.That(Names(await Gateway.GetAsync($"/v2.1/servers?uuid={_web1.Id}", DemoToken)), Is.EqualTo(new[] { "web1" }));
    }

    [Test]
    public async Task StateFilters_AreAdminOnlyBefore283()
    {
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?vm_state=stopped", DemoToken)), Has.Count.EqualTo(3), "dropped for members at 2.1");
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?vm_state=stopped", DemoToken, "2.83")), Is.EqualTo(new[] { "db1" }));
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?all_tenants=1&power_state=4", AdminToken)), Is.EqualTo(new[] { "db1" }));
        Assert.That((await Gateway.GetAsync("/v2.1/servers?all_tenants=1&power_state=on", AdminToken)).Status, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task SortKeyAndDirection_AreHonoured()
    {
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?sort_key=display_name&sort_dir=asc", DemoToken)), Is.EqualTo(new[] { "db1", "web1", "web2" }));
        Assert.That(Names(await Gateway.GetAsync("/v2.1/servers?sort_key=memory_mb", DemoToken)), Is.EqualTo(new[] { "db1", "web2", "web1" }));
        Assert.That((await Gateway.GetAsync("/v2.1/servers?sort_key=colour", DemoToken)).Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Gateway.GetAsync("/v2.1/servers?sort_dir=sideways", DemoToken)).Status, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task ChangesSinceAndBefore_FilterOnUpdateTime()
    {
        var future = Uri.EscapeDataString(DateTime.UtcNow.AddDays(1).ToString("o"));
        var past = Uri.EscapeDataString(DateTime.UtcNow.AddDays(-1).ToString("o"));
        Assert.That(Names(await Gateway.GetAsync($"/v2.1/servers?changes-since={future}", DemoToken)), Is.Empty);
        Assert.That(Names(await Gateway.GetAsync($"/v2.1/servers?changes-since={past}", DemoToken)), Has.Count.EqualTo(3));
        Assert.That(Names(await Gateway.GetAsync($"/v2.1/servers?changes-before={past}", DemoToken, "2.66")), Is.Empty);
        Assert.That((await Gateway.GetAsync("/v2.1/servers?changes-since=yesterday", DemoToken)).Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Gateway.GetAsync($"/v2.1/servers?changes-since={future}&changes-before={past}", DemoToken, "2.66")).Status,
            Is.EqualTo(HttpStatusCode.BadRequest));
    }
}
