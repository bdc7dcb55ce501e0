using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Inventory;

/// <summary>Configured XenServer hosts (simulated) become compute hosts and servers in the Nova API.</summary>
[TestFixture(DatabaseKind.Sqlite)]
[TestFixture(DatabaseKind.PostgreSql, Category = TestCategories.External)]
public class InventoryTests(DatabaseKind kind)
{
    private LabHosts _lab = null!;
    private TestDatabase _db = null!;
    private GatewayInstance _gateway = null!;
    private string _admin = null!;
    private string _demo = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = TestDatabase.Create(kind);
        _lab = await LabHosts.StartAsync("xs-a", "xs-b");
        await _lab[0].Control.SeedVmAsync(new SeedVmSpec
        {
            Name = "app1", MemoryBytes = 2048L << 20, Vcpus = 1, DiskBytes = 20L << 30, DataBytes = 1L << 20,
            OtherConfig = new Dictionary<string, string> { [InventoryKeys.Project] = "demo" },
        });
        await _lab[1].Control.SeedVmAsync(new SeedVmSpec
        {
            Name = "odd1", MemoryBytes = 3000L << 20, Vcpus = 3, DiskBytes = 7L << 30, DataBytes = 1L << 20, PowerState = "Halted",
        });
        _gateway = await GatewayInstance.StartAsync(_db, _lab.GatewayArgs());
        _admin = await _gateway.TokenAsync(TestUsers.Admin);
        _demo = await _gateway.TokenAsync(TestUsers.Demo);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        if (_lab is not null) await _lab.DisposeAsync();
        if (_db is not null) await _db.DisposeAsync();
    }

    private async Task<JsonArray> AllServers() =>
        (await _gateway.GetAsync("/v2.1/servers/detail?all_tenants=1", _admin, "2.47")).Json!["servers"]!.AsArray();

    private static JsonNode? Named(JsonArray servers, string name) =>
        servers.FirstOrDefault(s => s!["name"]!.GetValue<string>() == name);

    [Test]
    public async Task GuestVms_BecomeServers_WithHostFlavorOwnerAndState()
    {
        var servers = await Eventually.HoldsAsync(AllServers, s => Named(s, "app1") is not null && Named(s, "odd1") is not null);
        var app1 = Named(servers, "app1")!;
        Assert.Multiple(() =>
        {
            Assert.That(app1["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-a"));
            Assert.That(app1["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
            Assert.That(app1["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("m1.small"));
        });
        Assert.That(Named((await _gateway.GetAsync("/v2.1/servers/detail", _demo)).Json!["servers"]!.AsArray(), "app1"), Is.Not.Null,
            "owned by the project named in its other_config");

        var odd1 = Named(servers, "odd1")!;
        Assert.That(odd1["status"]!.GetValue<string>(), Is.EqualTo("SHUTOFF"));
        Assert.That(odd1["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("custom.3000m.3c.7g"), "no flavor has this size");
        Assert.That(odd1["tenant_id"]!.GetValue<string>(), Is.EqualTo(await _gateway.ProjectIdAsync("admin")), "the default project");
        Assert.That(servers.Select(s => s!["name"]!.GetValue<string>()), Does.Not.Contain("Control domain on host: xs-a"));
    }

    [Test]
    public async Task ServerId_IsWrittenToTheVm_SoItTravelsWithIt()
    {
        var servers = await Eventually.HoldsAsync(AllServers, s => Named(s, "app1") is not null);
        var id = Named(servers, "app1")!["id"]!.GetValue<string>();
        await using var session = await XapiSession.OpenAsync(
            new XapiHostOptions { Name = "xs-a", Url = _lab[0].Url, Username = _lab[0].Username, Password = _lab[0].Password },
            TimeSpan.FromSeconds(10), CancellationToken.None);
        var vm = (await session.VmsAsync(CancellationToken.None)).Values.Single(v => v.NameLabel == "app1");
        Assert.That(vm.OtherConfig[InventoryKeys.ServerId], Is.EqualTo(id));
    }

    [Test]
    public async Task PowerChanges_ShowWithinSeconds()
    {
        await using var session = await XapiSession.OpenAsync(
            new XapiHostOptions { Name = "xs-b", Url = _lab[1].Url, Username = _lab[1].Username, Password = _lab[1].Password },
            TimeSpan.FromSeconds(10), CancellationToken.None);
        await Eventually.HoldsAsync(AllServers, s => Named(s, "odd1") is not null);
        var vm = (await session.VmsAsync(CancellationToken.None)).Values.Single(v => v.NameLabel == "odd1");
        await session.CallAsync("VM.start", CancellationToken.None, vm.Ref, false, false);
        var servers = await Eventually.HoldsAsync(AllServers, s => Named(s, "odd1")?["status"]?.GetValue<string>() == "ACTIVE",
            TimeSpan.FromSeconds(10), "odd1 ACTIVE after VM.start");
        Assert.That(Named(servers, "odd1")!["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(1));
        await session.CallAsync("VM.hard_shutdown", CancellationToken.None, vm.Ref);
        await Eventually.HoldsAsync(AllServers, s => Named(s, "odd1")?["status"]?.GetValue<string>() == "SHUTOFF",
            TimeSpan.FromSeconds(10), "odd1 SHUTOFF after VM.hard_shutdown");
    }

    [Test]
    public async Task HostThatStopsAnswering_IsMarkedDown_AndUpAgainLater()
    {
        var app1 = Named(await Eventually.HoldsAsync(AllServers, s => Named(s, "app1") is not null), "app1")!["id"]!.GetValue<string>();
        async Task<string> HostStatus() =>
            (await _gateway.GetAsync($"/v2.1/servers/{app1}", _admin, "2.16")).Json!["server"]!["host_status"]!.GetValue<string>();

        await Eventually.HoldsAsync(HostStatus, s => s == "UP");
        _lab[0].Faults.SetHostDown();
        try
        {
            await Eventually.HoldsAsync(HostStatus, s => s == "DOWN", TimeSpan.FromSeconds(20), "xs-a DOWN");
        }
        finally
        {
            _lab[0].Faults.SetHostUp();
        }

        await Eventually.HoldsAsync(HostStatus, s => s == "UP", TimeSpan.FromSeconds(20), "xs-a UP again");
        Assert.That((await _gateway.GetAsync($"/v2.1/servers/{app1}", _admin)).Status, Is.EqualTo(HttpStatusCode.OK), "its servers are kept while it is down");
    }

    [Test]
    public async Task DestroyedVm_IsForgottenAfterTheGracePeriod()
    {
        var seeded = await _lab[1].Control.SeedVmAsync(new SeedVmSpec { Name = "short-lived", PowerState = "Halted" });
        await Eventually.HoldsAsync(AllServers, s => Named(s, "short-lived") is not null);
        await using var session = await XapiSession.OpenAsync(
            new XapiHostOptions { Name = "xs-b", Url = _lab[1].Url, Username = _lab[1].Username, Password = _lab[1].Password },
            TimeSpan.FromSeconds(10), CancellationToken.None);
        await session.CallAsync("VM.destroy", CancellationToken.None, seeded.VmRef);
        await Eventually.HoldsAsync(AllServers, s => Named(s, "short-lived") is null, TimeSpan.FromSeconds(20), "short-lived forgotten");
    }

    [Test]
    public async Task ComputeHosts_AreRecorded()
    {
        await using var scope = _gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var hosts = await Eventually.HoldsAsync(() => db.ComputeHosts.AsNoTracking().ToListAsync(), h => h.Count == 2);
        Assert.That(hosts.Select(h => (h.Name, h.Enabled)), Is.EquivalentTo(new[] { ("xs-a", true), ("xs-b", true) }));
        Assert.That(hosts.Single(h => h.Name == "xs-b").XapiUrl, Is.EqualTo(_lab[1].Url));
    }
}
