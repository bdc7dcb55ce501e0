using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Inventory;

/// <summary>
/// XenServer:AdoptVms=Tagged, as on a pool other tools also manage: a VM carrying the adoption tag
/// is adopted (its server id written to it); any other is shown to admins, locked, with its
/// other_config untouched, and every action on it is refused with a reason.
/// </summary>
public class AdoptionTests
{
    private LabHosts _lab = null!;
    private TestDatabase _db = null!;
    private GatewayInstance _gateway = null!;
    private string _admin = null!;
    private string _demo = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = TestDatabase.Create(DatabaseKind.Sqlite);
        _lab = await LabHosts.StartAsync("xs-tagged");
        await _lab[0].Control.SeedVmAsync(new SeedVmSpec
        {
            Name = "foreign1", MemoryBytes = 1024L << 20, DiskBytes = 1L << 30, DataBytes = 1L << 20,
            OtherConfig = new Dictionary<string, string> { ["xo:owner"] = "another-tool" },
        });
        await _lab[0].Control.SeedVmAsync(new SeedVmSpec
        {
            Name = "adopt1", MemoryBytes = 1024L << 20, DiskBytes = 1L << 30, DataBytes = 1L << 20, Tags = ["xenmigrate"],
        });
        // The lab's own arguments say All; the last value given wins.
        _gateway = await GatewayInstance.StartAsync(_db, _lab.GatewayArgs().Append("--XenServer:AdoptVms=Tagged"));
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

    private async Task<JsonNode> ServerNamedAsync(string name)
    {
        var servers = await Eventually.HoldsAsync(
            async () => (await _gateway.GetAsync("/v2.1/servers/detail?all_tenants=1", _admin, "2.73")).Json!["servers"]!.AsArray(),
            s => s.Any(x => x!["name"]!.GetValue<string>() == name), TimeSpan.FromSeconds(20), $"{name} listed");
        return servers.Single(x => x!["name"]!.GetValue<string>() == name)!;
    }

    [Test]
    public async Task AnUntaggedVm_IsShownLocked_LeftUntouched_AndEveryActionIsRefused()
    {
        var foreign = await ServerNamedAsync("foreign1");
        var id = foreign["id"]!.GetValue<string>();
        Assert.That(foreign["locked"]!.GetValue<bool>(), Is.True);
        Assert.That(foreign["locked_reason"]!.GetValue<string>(), Does.Contain("Not managed by XenMigrate"));
        Assert.That(foreign["tenant_id"]!.GetValue<string>(), Is.EqualTo(await _gateway.ProjectIdAsync("admin")));

        foreach (var action in new[] { """{"os-stop":null}""", """{"migrate":null}""", """{"resize":{"flavorRef":"2"}}""", """{"os-start":null}""", """{"os-migrateLive":{"host":null,"block_migration":false,"disk_over_commit":false}}""" })
        {
            var refused = await _gateway.ActionAsync(id, _admin, action);
            Assert.That(refused.Status, Is.EqualTo(HttpStatusCode.Conflict), action + ": " + refused.Text);
            Assert.That(refused.Json!["conflictingRequest"]!["message"]!.GetValue<string>(), Does.Contain("not managed by XenMigrate"), action);
        }

        var delete = await _gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/servers/{id}", _admin, null);
        Assert.That(delete.Status, Is.EqualTo(HttpStatusCode.Conflict), delete.Text);

        var vm = (await LabInspectorVmsNamedAsync("foreign1")).Single();
        Assert.That(vm.OtherConfig.Keys.Where(k => k.StartsWith("xenmigrate", StringComparison.Ordinal)), Is.Empty, "nothing written to a VM not handed over");
        Assert.That(vm.OtherConfig["xo:owner"], Is.EqualTo("another-tool"));
        Assert.That(vm.PowerState, Is.EqualTo("Running"));

        var demoList = (await _gateway.GetAsync("/v2.1/servers", _demo)).Json!["servers"]!.AsArray();
        Assert.That(demoList.Select(s => s!["name"]!.GetValue<string>()), Does.Not.Contain("foreign1"), "users outside the admin project do not see it");
    }

    [Test]
    public async Task ATaggedVm_IsAdopted_AndCanBeActedOn()
    {
        var adopted = await ServerNamedAsync("adopt1");
        var id = adopted["id"]!.GetValue<string>();
        Assert.That(adopted["locked"]!.GetValue<bool>(), Is.False);
        var vm = (await LabInspectorVmsNamedAsync("adopt1")).Single();
        Assert.That(vm.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId), Is.EqualTo(id), "its server id travels with it");

        var stop = await _gateway.ActionAsync(id, _admin, """{"os-stop":null}""");
        Assert.That(stop.Status, Is.EqualTo(HttpStatusCode.Accepted), stop.Text);
        await Eventually.HoldsAsync(async () => (await _gateway.GetAsync($"/v2.1/servers/{id}", _admin)).Json!["server"]!,
            s => s["status"]!.GetValue<string>() == "SHUTOFF" && s["OS-EXT-STS:task_state"] is null, TimeSpan.FromSeconds(30), "adopt1 SHUTOFF");
    }

    private async Task<List<XenMigrate.Infrastructure.Xapi.XapiVm>> LabInspectorVmsNamedAsync(string name)
    {
        await using var session = await LabInspector.OpenAsync(_lab[0]);
        return (await session.VmsAsync(CancellationToken.None)).Values.Where(v => v.IsGuest && v.NameLabel == name).ToList();
    }
}
