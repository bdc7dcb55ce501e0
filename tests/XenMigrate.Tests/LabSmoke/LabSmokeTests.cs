using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.LabSmoke;

/// <summary>
/// The lab smoke suite: <c>dotnet test --filter Category=LabSmoke</c>. A gateway (SQLite, its
/// in-process worker) is pointed at the lab of <see cref="SmokeLab"/> with
/// <c>XenServer:AdoptVms=None</c>, so it acts only on the one server this suite creates, and
/// takes it through create, resize → confirm, resize → revert, cold migration, live migration and
/// delete over the Nova API. After every step the lab itself is asked where the server's VMs are:
/// one runs, nowhere twice, and nothing is left at the end.
/// </summary>
[Category("LabSmoke")]
[NonParallelizable]
public class LabSmokeTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(15);

    private SmokeLab _lab = null!;
    private TestDatabase _db = null!;
    private GatewayInstance _gateway = null!;
    private string _admin = null!;
    private string _demo = null!;
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private string? _serverId;

    private string SmallFlavor => $"smoke-s-{_suffix}";
    private string LargeFlavor => $"smoke-l-{_suffix}";
    private string LargestFlavor => $"smoke-xl-{_suffix}";

    private (string Id, long MemoryMb, int Vcpus, int DiskGb)[] Flavors =>
    [
        (SmallFlavor, _lab.MemoryMb, 1, _lab.DiskGb),
        (LargeFlavor, _lab.MemoryMb * 2, 2, _lab.DiskGb + 1),
        (LargestFlavor, _lab.MemoryMb * 3, 2, _lab.DiskGb + 2),
    ];

    [OneTimeSetUp]
    public async Task StartGatewayOnTheLab()
    {
        _lab = await SmokeLab.StartAsync();
        _db = TestDatabase.Create(DatabaseKind.Sqlite);
        var args = _lab.Endpoints.SelectMany((e, i) => new[]
        {
            $"--XenServer:Hosts:{i}:Name={e.Name}", $"--XenServer:Hosts:{i}:Url={e.Url}",
            $"--XenServer:Hosts:{i}:Username={e.Username}", $"--XenServer:Hosts:{i}:Password={e.Password}",
            $"--XenServer:Hosts:{i}:Thumbprint={e.Thumbprint}",
        }).Append("--XenServer:AdoptVms=None");
        _gateway = await GatewayInstance.StartAsync(_db, args);
        _admin = await _gateway.TokenAsync(TestUsers.Admin);
        _demo = await _gateway.TokenAsync(TestUsers.Demo);

        foreach (var (id, memory, vcpus, disk) in Flavors)
        {
            var flavor = new JsonObject { ["flavor"] = new JsonObject { ["id"] = id, ["name"] = id, ["ram"] = memory, ["vcpus"] = vcpus, ["disk"] = disk } };
            AssertStatus(await _gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/flavors", _admin, flavor.ToJsonString()), HttpStatusCode.OK);
        }
    }

    [OneTimeTearDown]
    public async Task LeaveTheLabAsItWas()
    {
        try
        {
            if (_gateway is not null && _serverId is not null && (await _gateway.GetAsync($"/v2.1/servers/{_serverId}", _admin)).Status == HttpStatusCode.OK)
            {
                await _gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/servers/{_serverId}", _admin, null);
                await Eventually.HoldsAsync(() => _gateway.GetAsync($"/v2.1/servers/{_serverId}", _admin), r => r.Status == HttpStatusCode.NotFound, StepTimeout);
            }

            if (_gateway is not null)
                foreach (var flavor in Flavors)
                    await _gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/flavors/{flavor.Id}", _admin, null);
        }
        finally
        {
            if (_gateway is not null) await _gateway.DisposeAsync();
            if (_db is not null) await _db.DisposeAsync();
            if (_lab is not null) await _lab.DisposeAsync();
        }
    }

    /// <summary>One test, because each step needs the one before it; a failing step names itself in the stack trace.</summary>
    [Test]
    public async Task TheServersWholeLife_OnTheLab()
    {
        await Create_BootsTheTemplate_WithTheFlavorsSize();
        await ResizeThenConfirm_RunsTheLargerFlavor();
        await ResizeThenRevert_RunsTheOldFlavorAgain();
        await ColdMigration_ThenConfirm_RunsOnAnotherHost();
        await LiveMigration_KeepsTheServerActive_OnAnotherHost();
        await Delete_LeavesNothingOfTheServer();
    }

    private async Task Create_BootsTheTemplate_WithTheFlavorsSize()
    {
        var images = (await _gateway.GetAsync("/image/v2/images", _demo)).Json!["images"]!.AsArray();
        var image = images.FirstOrDefault(i => i!["name"]!.GetValue<string>() == _lab.Template)
                    ?? throw new AssertionException($"No image named '{_lab.Template}' among: {string.Join(", ", images.Select(i => i!["name"]))}");
        var body = new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = $"xenmigrate-smoke-{_suffix}", ["imageRef"] = image["id"]!.GetValue<string>(), ["flavorRef"] = SmallFlavor },
        };
        var created = await _gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", _demo, body.ToJsonString());
        AssertStatus(created, HttpStatusCode.Accepted);
        _serverId = created.Json!["server"]!["id"]!.GetValue<string>();

        var active = await WaitForAsync("ACTIVE");
        var vm = await TheOneRunningVmAsync();
        Assert.That(vm.MemoryStaticMax, Is.EqualTo(_lab.MemoryMb << 20));
        Assert.That(active["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.Not.Empty);
    }

    private async Task ResizeThenConfirm_RunsTheLargerFlavor()
    {
        AssertStatus(await _gateway.ActionAsync(ServerId, _demo, $"{{\"resize\":{{\"flavorRef\":\"{LargeFlavor}\"}}}}"), HttpStatusCode.Accepted);
        await WaitForAsync("VERIFY_RESIZE");
        Assert.That((await TheOneRunningVmAsync()).VcpusMax, Is.EqualTo(2));

        AssertStatus(await _gateway.ActionAsync(ServerId, _demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForAsync("ACTIVE");
        Assert.That(await _lab.VmsOfServerAsync(ServerId), Has.Count.EqualTo(1), "confirm leaves one VM");
        Assert.That((await TheOneRunningVmAsync()).MemoryStaticMax, Is.EqualTo((_lab.MemoryMb * 2) << 20));
    }

    private async Task ResizeThenRevert_RunsTheOldFlavorAgain()
    {
        // Disks only grow, so the revert is tried on a resize up to a third, larger flavor.
        AssertStatus(await _gateway.ActionAsync(ServerId, _demo, $"{{\"resize\":{{\"flavorRef\":\"{LargestFlavor}\"}}}}"), HttpStatusCode.Accepted);
        await WaitForAsync("VERIFY_RESIZE");

        AssertStatus(await _gateway.ActionAsync(ServerId, _demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        var reverted = await WaitForAsync("ACTIVE");
        Assert.That(reverted["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo(LargeFlavor));
        Assert.That(await _lab.VmsOfServerAsync(ServerId), Has.Count.EqualTo(1), "revert leaves one VM");
        Assert.That((await TheOneRunningVmAsync()).MemoryStaticMax, Is.EqualTo((_lab.MemoryMb * 2) << 20));
    }

    private async Task ColdMigration_ThenConfirm_RunsOnAnotherHost()
    {
        var before = await HostAsync();
        AssertStatus(await _gateway.ActionAsync(ServerId, _admin, """{"migrate":null}"""), HttpStatusCode.Accepted);
        await WaitForAsync("VERIFY_RESIZE");
        AssertStatus(await _gateway.ActionAsync(ServerId, _admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForAsync("ACTIVE");

        Assert.That(await HostAsync(), Is.Not.EqualTo(before));
        Assert.That(await _lab.VmsOfServerAsync(ServerId), Has.Count.EqualTo(1));
        await TheOneRunningVmAsync();
    }

    private async Task LiveMigration_KeepsTheServerActive_OnAnotherHost()
    {
        var before = await HostAsync();
        AssertStatus(await _gateway.ActionAsync(ServerId, _admin, """{"os-migrateLive":{"host":null,"block_migration":"auto"}}""", "2.30"), HttpStatusCode.Accepted);
        await Eventually.HoldsAsync(() => _gateway.GetAsync($"/v2.1/os-migrations?instance_uuid={ServerId}&migration_type=live-migration", _admin, "2.80"),
            r => r.Json!["migrations"]!.AsArray().Any(m => m!["status"]!.GetValue<string>() is "completed" or "error" or "failed"), StepTimeout, "the live migration ends");
        var migration = (await _gateway.GetAsync($"/v2.1/os-migrations?instance_uuid={ServerId}&migration_type=live-migration", _admin, "2.80")).Json!["migrations"]![0]!;
        Assert.That(migration["status"]!.GetValue<string>(), Is.EqualTo("completed"), migration.ToJsonString());

        await WaitForAsync("ACTIVE");
        Assert.That(await HostAsync(), Is.Not.EqualTo(before));
        Assert.That(await _lab.VmsOfServerAsync(ServerId), Has.Count.EqualTo(1));
        await TheOneRunningVmAsync();
    }

    private async Task Delete_LeavesNothingOfTheServer()
    {
        AssertStatus(await _gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/servers/{ServerId}", _demo, null), HttpStatusCode.NoContent);
        await Eventually.HoldsAsync(() => _gateway.GetAsync($"/v2.1/servers/{ServerId}", _admin), r => r.Status == HttpStatusCode.NotFound, StepTimeout, "the server gone");
        Assert.That(await _lab.VmsOfServerAsync(ServerId), Is.Empty);
        _serverId = null;
    }

    private string ServerId => _serverId ?? throw new AssertionException("The server was not created (see the first test).");

    /// <summary>Waits until the server settles (task_state null) in this status; ERROR ends the wait with the server's fault.</summary>
    private async Task<JsonNode> WaitForAsync(string status)
    {
        var server = await Eventually.HoldsAsync(async () => (await _gateway.GetAsync($"/v2.1/servers/{ServerId}", _admin, "2.47")).Json!["server"]!,
            s => s["status"]!.GetValue<string>() is var now && (now == status || now == "ERROR") && s["OS-EXT-STS:task_state"] is null,
            StepTimeout, $"server {status}");
        if (server["status"]!.GetValue<string>() != status)
            throw new AssertionException($"The server went to ERROR instead of {status}: {server["fault"]?.ToJsonString()}");
        return server;
    }

    private async Task<string> HostAsync() =>
        (await _gateway.GetAsync($"/v2.1/servers/{ServerId}", _admin, "2.47")).Json!["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();

    /// <summary>Exactly one of the server's VMs runs in the whole lab.</summary>
    private async Task<XenMigrate.Infrastructure.Xapi.XapiVm> TheOneRunningVmAsync()
    {
        var running = (await _lab.VmsOfServerAsync(ServerId)).Where(v => v.PowerState == "Running").ToList();
        Assert.That(running, Has.Count.EqualTo(1), "one running VM of the server in the lab");
        return running[0];
    }

    private static void AssertStatus(ApiResponse r, HttpStatusCode expected) => Assert.That(r.Status, Is.EqualTo(expected), r.Text);
}
