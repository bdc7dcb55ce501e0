using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Workflow;

/// <summary>
/// The gateway on a pool as real sites run one: xp-1 (master) and xp-2 share an SR (the pool's
/// default) besides their local ones, xp-3 stands alone; the gateway is told about the pool by
/// one member's URL. Each way a server moves, chosen per pair of hosts, end to end.
/// </summary>
[NonParallelizable]
public class PoolWorkflowTests : WorkflowFixture
{
    private SimulatedHost Xp1 => Lab[0];
    private SimulatedHost Xp2 => Lab[1];
    private SimulatedHost Xp3 => Lab[2];

    protected override Task<LabHosts> StartHostsAsync() =>
        LabHosts.StartPoolAsync("lab-pool", ["xp-1", "xp-2"], ["xp-3"], configuredMember: 1);

    [TearDown]
    public void ClearFaults()
    {
        foreach (var host in Lab.Hosts) host.Faults.Clear();
        if (!Xp1.IsMaster) Lab.Pool.DesignateMaster(Xp1);
    }

    [Test]
    public async Task EveryMember_IsAComputeHost_AndThePoolAnAggregate()
    {
        var services = await Eventually.HoldsAsync(async () => (await Gateway.GetAsync("/v2.1/os-services", Admin)).Json!["services"]!.AsArray(),
            s => s.Count == 3);
        Assert.That(services.Select(s => s!["host"]!.GetValue<string>()), Is.EquivalentTo(new[] { "xp-1", "xp-2", "xp-3" }));
        var aggregates = (await Gateway.GetAsync("/v2.1/os-aggregates", Admin, "2.41")).Json!["aggregates"]!.AsArray();
        Assert.That(aggregates, Has.Count.EqualTo(1), "the standalone host is no aggregate");
        Assert.That(aggregates[0]!["name"]!.GetValue<string>(), Is.EqualTo("lab-pool"));
        Assert.That(aggregates[0]!["hosts"]!.AsArray().Select(h => h!.GetValue<string>()), Is.EqualTo(new[] { "xp-1", "xp-2" }));
        Assert.That(aggregates[0]!["uuid"]!.GetValue<string>(), Is.EqualTo(Lab.Pool.Database.GetRecord(Lab.Pool.PoolRef)!["uuid"]!.GetValue<string>()));
        var one = await Gateway.GetAsync($"/v2.1/os-aggregates/{aggregates[0]!["id"]}", Admin);
        AssertStatus(one, HttpStatusCode.OK);
        AssertStatus(await Gateway.GetAsync("/v2.1/os-aggregates", Demo), HttpStatusCode.Forbidden);
    }

    [Test]
    public async Task ServersOfAPool_AreOnTheMemberTheyRunOn()
    {
        var onTwo = await SeedServerAsync(1, "pl-where", memoryMb: 512, diskGb: 1);
        Assert.That((await ServerAsync(onTwo))["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-2"));
    }

    [Test]
    public async Task ColdMigration_OnTheSharedSr_MovesNoDiskByte_ThenRevertStartsTheUntouchedSource()
    {
        var id = await SeedServerAsync(0, "pl-shared", memoryMb: 512, diskGb: 1, dataMib: 16, adjust: s => s with { StorageRepository = Lab.Pool.SharedSrRef });
        var sha = Xp1.Control.GetVmDiskSha256("pl-shared");
        var transfersBefore = Transfers();

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xp-2"}}""", "2.56"), HttpStatusCode.Accepted);
        var moved = await WaitForStatusAsync(id, "VERIFY_RESIZE");

        Assert.That(moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-2"));
        Assert.That(Transfers(), Is.EqualTo(transfersBefore), "no export or import: the disk stayed on the shared SR");
        var copy = (await VmsOfServerAsync(Xp1, id)).Single(v => v.PowerState == "Running");
        Assert.That(copy.ResidentOn, Is.EqualTo(Xp2.HostRef), "the copy runs on xp-2");
        Assert.That(Xp1.Control.GetVmDiskSha256(copy.Ref), Is.EqualTo(sha));
        Assert.That(await BytesMovedAsync(id), Is.EqualTo(0));

        AssertStatus(await ActionAsync(id, Admin, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        var back = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(back["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-1"));
        var source = (await VmsOfServerAsync(Xp1, id)).Single();
        Assert.That((source.PowerState, source.ResidentOn), Is.EqualTo(("Running", Xp1.HostRef)));
        Assert.That(Xp1.Control.GetVmDiskSha256(source.Ref), Is.EqualTo(sha), "the source's disk was never written");
        Assert.That(await OrphanVdisAsync(Xp1), Is.Empty, "the clone went with the copy");
    }

    [Test]
    public async Task Resize_OnTheSharedSr_GrowsAClone_AndConfirmKeepsOnlyTheNewVm()
    {
        var id = await SeedServerAsync(0, "pl-grow", memoryMb: 1024, diskGb: 1, dataMib: 8, adjust: s => s with { StorageRepository = Lab.Pool.SharedSrRef });
        var transfersBefore = Transfers();
        await SetServiceAsync("xp-3", enabled: false); // keep the scheduler inside the pool
        try
        {
            AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
            var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
            Assert.That(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-2"));
        }
        finally
        {
            await SetServiceAsync("xp-3", enabled: true);
        }

        Assert.That(Transfers(), Is.EqualTo(transfersBefore), "no byte moved");
        var copy = (await VmsOfServerAsync(Xp1, id)).Single(v => v.PowerState == "Running");
        Assert.That((copy.MemoryStaticMax, copy.VcpusMax), Is.EqualTo((2048L << 20, 2L)));
        await using (var s = await OpenAsync(Xp1))
        {
            var vbd = (await s.VbdsAsync(CancellationToken.None)).Values.Single(b => b.Vm == copy.Ref && b.IsDisk);
            Assert.That((await s.VdisAsync(CancellationToken.None))[vbd.Vdi].VirtualSize, Is.EqualTo(2L << 30), "the clone grew; the source did not");
        }

        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
        await Eventually.HoldsAsync(() => VmsOfServerAsync(Xp1, id), vms => vms.Count == 1, what: "only the new VM left");
        Assert.That(await OrphanVdisAsync(Xp1), Is.Empty);
    }

    [Test]
    public async Task ColdMigration_OfLocalDisks_InsideThePool_CopiesFromMemberToMember()
    {
        var id = await SeedServerAsync(0, "pl-local", memoryMb: 512, diskGb: 1, dataMib: 16);
        var sha = Xp1.Control.GetVmDiskSha256("pl-local");
        var exportsBefore = Xp1.Control.CallCount("export_raw_vdi");

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xp-2"}}""", "2.56"), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");

        Assert.That(Xp1.Control.CallCount("export_raw_vdi"), Is.GreaterThan(exportsBefore), "exported by xp-1, the member that holds the disk");
        var copy = (await VmsOfServerAsync(Xp1, id)).Single(v => v.PowerState == "Running");
        Assert.That(copy.ResidentOn, Is.EqualTo(Xp2.HostRef));
        Assert.That(Xp1.Control.GetVmDiskSha256(copy.Ref), Is.EqualTo(sha));
        AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(await OrphanVdisAsync(Xp1), Is.Empty);
    }

    [Test]
    public async Task LiveMigration_OnTheSharedSr_IsAPoolMigration()
    {
        var id = await SeedServerAsync(0, "pl-pool-live", memoryMb: 512, diskGb: 1, adjust: s => s with { StorageRepository = Lab.Pool.SharedSrRef });
        var uuid = (await VmsOfServerAsync(Xp1, id)).Single().Uuid;
        var poolMigrates = Xp1.Control.CallCount("VM.pool_migrate") + Xp2.Control.CallCount("VM.pool_migrate");

        AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xp-2","block_migration":"auto"}}""", "2.30"), HttpStatusCode.Accepted);
        var moved = await WaitForStatusAsync(id, "ACTIVE");

        Assert.That(moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-2"));
        Assert.That(Xp1.Control.CallCount("VM.pool_migrate") + Xp2.Control.CallCount("VM.pool_migrate"), Is.EqualTo(poolMigrates + 1));
        var vm = (await VmsOfServerAsync(Xp1, id)).Single();
        Assert.That((vm.Uuid, vm.ResidentOn, vm.PowerState), Is.EqualTo((uuid, Xp2.HostRef, "Running")));
        Assert.That((await MigrationAsync(id))["status"]!.GetValue<string>(), Is.EqualTo("completed"));
    }

    [Test]
    public async Task LiveMigration_OfLocalDisks_InsideThePool_IsStorageMotionWithinIt()
    {
        var id = await SeedServerAsync(0, "pl-sxm", memoryMb: 512, diskGb: 1, dataMib: 8);
        var vm = (await VmsOfServerAsync(Xp1, id)).Single();
        var sha = Xp1.Control.GetVmDiskSha256(vm.Ref);

        AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xp-2","block_migration":true}}""", "2.68"), HttpStatusCode.Accepted);
        var moved = await WaitForStatusAsync(id, "ACTIVE");

        Assert.That(moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-2"));
        var after = (await VmsOfServerAsync(Xp1, id)).Single();
        Assert.That((after.Ref, after.ResidentOn), Is.EqualTo((vm.Ref, Xp2.HostRef)), "the same VM, now on xp-2");
        Assert.That(Xp1.Control.GetVmDiskSha256(after.Ref), Is.EqualTo(sha));
        Assert.That(await OrphanVdisAsync(Xp1), Is.Empty, "the old local disk went");
    }

    [Test]
    public async Task Resize_ToTheStandaloneHost_KeepsTheVmItself_VtpmBiosStringsCdAndNetwork()
    {
        var id = await SeedServerAsync(1, "pl-itself", memoryMb: 1024, diskGb: 1, adjust: s => s with
        {
            CdIso = "guest-tools.iso", VtpmContents = "c3dhbG93LXN0YXRl", BiosStrings = new Dictionary<string, string> { ["system-serial-number"] = "SN-42" },
        });

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xp-3"}}""", "2.56"), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");

        var copy = (await VmsOfServerAsync(Xp3, id)).Single();
        await using var s = await OpenAsync(Xp3);
        var record = await s.CallAsync("VM.get_record", CancellationToken.None, copy.Ref) as JsonObject;
        Assert.That(XapiValues.Map(record!["bios_strings"])["system-serial-number"], Is.EqualTo("SN-42"));
        var vtpm = XapiValues.Strings(record["VTPMs"]).Single();
        Assert.That(await s.CallForStringAsync("VTPM.get_contents", CancellationToken.None, vtpm), Is.EqualTo("c3dhbG93LXN0YXRl"));
        var vbds = (await s.VbdsAsync(CancellationToken.None)).Values.Where(b => b.Vm == copy.Ref).ToList();
        var cdDrive = vbds.Single(b => b.Type == "CD");
        var disc = (await s.VdisAsync(CancellationToken.None))[cdDrive.Vdi];
        Assert.That(disc.NameLabel, Is.EqualTo("guest-tools.iso"), "the same ISO, from xp-3's own tools SR");
        var vif = await s.CallAsync("VIF.get_record", CancellationToken.None, XapiValues.Strings(record["VIFs"]).Single()) as JsonObject;
        var network = await s.CallAsync("network.get_record", CancellationToken.None, XapiValues.String(vif!["network"])) as JsonObject;
        Assert.That(XapiValues.String(network!["bridge"]), Is.EqualTo("xenbr0"), "the guest's network by name, never the host-internal one listed first");
        AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
    }

    [Test]
    public async Task AMoveWhoseNetworkCannotBeMapped_FailsInItsFirstStep_WithNothingMoved()
    {
        // A VIF on the PIF-less host-internal network has no counterpart on another pool.
        var id = await SeedServerAsync(1, "pl-himn", memoryMb: 512, diskGb: 1, adjust: s => s with { Network = "Host internal management network" });
        var vdisOnXp3 = Xp3.Database.GetAll("VDI").Count;

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xp-3"}}""", "2.56"), HttpStatusCode.Accepted);
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(30));

        var server = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-2"));
        Assert.That(Xp3.Database.GetAll("VDI"), Has.Count.EqualTo(vdisOnXp3), "no disk was made on the destination");
        Assert.That((await VmsOfServerAsync(Xp1, id)).Single().PowerState, Is.EqualTo("Running"), "never stopped");
        var events = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Admin)).Json!["instanceActions"]!.AsArray();
        Assert.That(events.Count, Is.GreaterThan(0));
    }

    [Test]
    public async Task MasterFailsOver_MidMigration_TheMigrationCarriesOn()
    {
        var id = await SeedServerAsync(1, "pl-failover", memoryMb: 512, diskGb: 1, dataMib: 32);
        var sha = Xp1.Control.GetVmDiskSha256("pl-failover");
        Xp2.Faults.Throttle(8); // the base copy from xp-2 takes a few seconds
        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xp-3"}}""", "2.56"), HttpStatusCode.Accepted);
        await Eventually.HoldsAsync(() => ServerAsync(id), s => s["OS-EXT-STS:task_state"]?.GetValue<string>() == "resize_migrating");

        // The master hands over to xp-2, then goes off the network: the gateway must find xp-2.
        Lab.Pool.DesignateMaster(Xp2);
        Xp1.Faults.SetHostDown();
        try
        {
            Xp2.Faults.Throttle(null);
            var moved = await WaitForStatusAsync(id, "VERIFY_RESIZE", seconds: 90);
            Assert.That(moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-3"));
            Assert.That(Xp3.Control.GetVmDiskSha256((await VmsOfServerAsync(Xp3, id)).Single().Ref), Is.EqualTo(sha));
            AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
            await WaitForStatusAsync(id, "ACTIVE", seconds: 60);
            Assert.That(await VmsOfServerAsync(Xp2, id), Is.Empty, "the source went, through the new master");
        }
        finally
        {
            Xp1.Faults.SetHostUp();
        }
    }

    [Test]
    public async Task BusyDisks_AreRetried_UntilXenServerLetsGo()
    {
        var id = await SeedServerAsync(0, "pl-busy", memoryMb: 1024, diskGb: 1, dataMib: 4);
        // The resize of the copied disk meets its import's lingering dom0 attachment (as real hosts do), and twice more.
        Xp3.Faults.FailNext("VDI.resize", "VDI_IN_USE", ["OpaqueRef:injected", "resize"], times: 2);
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        Assert.That(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xp-3"));
        AssertStatus(await ActionAsync(id, Demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(await OrphanVdisAsync(Xp3), Is.Empty, "the destination disk went, once its dom0 VBD let go");
    }

    [Test]
    public async Task ThePool_IsDrivenThroughOneSession_NotALoginPerStep()
    {
        var loginsBefore = Lab.Hosts.Sum(h => h.Control.CallCount("session.login_with_password"));
        var id = await SeedServerAsync(0, "pl-session", memoryMb: 512, diskGb: 1);
        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xp-2"}}""", "2.56"), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(Lab.Hosts.Sum(h => h.Control.CallCount("session.login_with_password")) - loginsBefore, Is.LessThanOrEqualTo(1),
            "a whole migration and confirm on the session the gateway already held");
    }

    [Test]
    public async Task EventsLost_ResyncsTheInventory_WithoutMarkingTheHostsDown()
    {
        Xp1.Faults.FailNext("event.from", "EVENTS_LOST");
        var id = await SeedServerAsync(1, "pl-resync", memoryMb: 512, diskGb: 1);
        Assert.That(id, Is.Not.Empty);
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        Assert.That(await db.ComputeHosts.AsNoTracking().Where(h => h.Name == "xp-1" || h.Name == "xp-2").AllAsync(h => h.IsUp), Is.True);
    }

    [Test]
    public async Task CreateFromACustomTemplate_GrowsItsOwnDisk0ToTheFlavor_KeepingItsData()
    {
        var template = await Xp1.Control.SeedVmAsync(new SeedVmSpec
        {
            Name = "debian-12-cloud", Template = true, DiskBytes = 512L << 20, DataBytes = 8L << 20, StorageRepository = Lab.Pool.SharedSrRef,
        });
        var templateSha = Xp1.Control.GetDiskSha256(template.VdiRef);
        var image = XenMigrate.Infrastructure.Images.TemplateImages.IdForName("debian-12-cloud").ToString();

        var created = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo,
            new JsonObject { ["server"] = new JsonObject { ["name"] = "pl-cloud", ["imageRef"] = image, ["flavorRef"] = "w1" } }.ToJsonString());
        AssertStatus(created, HttpStatusCode.Accepted);
        var id = created.Json!["server"]!["id"]!.GetValue<string>();
        var active = await WaitForStatusAsync(id, "ACTIVE");

        var vm = (await VmsOfServerAsync(Xp1, id)).Single();
        await using var s = await OpenAsync(Xp1);
        var vbd = (await s.VbdsAsync(CancellationToken.None)).Values.Single(b => b.Vm == vm.Ref && b.IsDisk);
        var vdi = (await s.VdisAsync(CancellationToken.None))[vbd.Vdi];
        Assert.That(vdi.VirtualSize, Is.EqualTo(1L << 30), "disk 0 grown to the flavor's 1 GB");
        Assert.That(active["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.AnyOf("xp-1", "xp-2"));
        Assert.That(await DiskPrefixShaAsync(Xp1, vdi.Uuid, 512L << 20), Is.EqualTo(templateSha), "the image's bytes, then zeros");
    }

    private static async Task<string> DiskPrefixShaAsync(SimulatedHost host, string vdiUuid, long bytes)
    {
        await using var s = await OpenAsync(host);
        var vdiRef = await s.CallForStringAsync("VDI.get_by_uuid", CancellationToken.None, vdiUuid);
        using var http = new HttpClient();
        using var response = await http.GetAsync($"{host.Url}/export_raw_vdi?session_id={Uri.EscapeDataString(s.SessionRef)}&vdi={vdiRef}&format=raw",
            HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[bytes];
        await body.ReadExactlyAsync(buffer);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(buffer));
    }

    private (int Exports, int Imports) Transfers() =>
        (Lab.Hosts.Sum(h => h.Control.CallCount("export_raw_vdi")), Lab.Hosts.Sum(h => h.Control.CallCount("import_raw_vdi")));

    private async Task<long> BytesMovedAsync(string serverId)
    {
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        return await db.Migrations.AsNoTracking().Where(m => m.InstanceUuid == Guid.Parse(serverId))
            .OrderByDescending(m => m.Id).Select(m => m.DiskProcessedBytes).FirstAsync();
    }

    private async Task SetServiceAsync(string host, bool enabled)
    {
        var services = (await Gateway.GetAsync("/v2.1/os-services", Admin, "2.53")).Json!["services"]!.AsArray();
        var uuid = services.Single(s => s!["host"]!.GetValue<string>() == host)!["id"]!.GetValue<string>();
        var body = new JsonObject { ["status"] = enabled ? "enabled" : "disabled" };
        AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/os-services/{uuid}", Admin, body.ToJsonString(), "2.53"), HttpStatusCode.OK);
    }
}
