using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Simulator;

/// <summary>The simulator's fault injection, in-process and over <c>/sim/</c>.</summary>
public class FaultInjectionTests : SimulatorFixture
{
    [Test]
    public async Task FailNext_FailsExactlyTheNextCall()
    {
        var vm = (await SeedVmAsync(UniqueName("fail-next"), "Halted", dataBytes: 0)).VmRef;
        Host.Faults.FailNext("VM.start", "INTERNAL_ERROR", ["simulated xenopsd crash"]);

        var first = await Xapi.FailureAsync("VM.start", vm, false, false);
        await Xapi.CallAsync("VM.start", vm, false, false);

        Assert.That(first.Code, Is.EqualTo("INTERNAL_ERROR"));
        Assert.That(first.Parameters, Is.EqualTo(new[] { "simulated xenopsd crash" }));
    }

    [Test]
    public async Task FailNext_OverHttp_ReachesAsyncCallsThroughTheirTask()
    {
        var vm = (await SeedVmAsync(UniqueName("fail-async"))).VmRef;
        using var inject = await Xapi.Http.PostAsJsonAsync("/sim/faults/fail", new { method = "VM.clean_shutdown", code = "VM_MISSING_PV_DRIVERS", @params = new[] { vm } });
        Assert.That(inject.IsSuccessStatusCode, Is.True);

        var task = await Xapi.WaitForTaskAsync(await Xapi.CallForStringAsync("Async.VM.clean_shutdown", vm));

        Assert.That((string?)task["status"], Is.EqualTo("failure"));
        Assert.That(task["error_info"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "VM_MISSING_PV_DRIVERS", vm }));
    }

    [Test]
    public async Task CutExport_DropsTheConnection_AndFailsTheTask()
    {
        var source = await SeedVmAsync(UniqueName("cut"), "Halted", diskBytes: 8 * MiB, dataBytes: 4 * MiB);
        Host.Faults.CutNextExportAfter(100_000);

        using var response = await Xapi.Http.GetAsync(Xapi.HandlerUrl("export_raw_vdi", ("vdi", source.VdiRef), ("format", "vhd")), HttpCompletionOption.ResponseHeadersRead);
        var taskRef = response.Headers.GetValues("task-id").Single();
        await using var body = await response.Content.ReadAsStreamAsync();
        var received = 0L;
        var buffer = new byte[65536];
        try
        {
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0) received += n;
        }
        catch (IOException)
        {
            // A reset connection is one way the cut shows.
        }
        catch (HttpRequestException)
        {
            // So is a broken response.
        }

        var task = await Xapi.WaitForTaskAsync(taskRef);
        Assert.That(received, Is.EqualTo(100_000));
        Assert.That((string?)task["status"], Is.EqualTo("failure"));
        Assert.That((string?)task["error_info"]![0], Is.EqualTo("VDI_IO_ERROR"));
    }

    [Test]
    public async Task FailNext_ReachesDiskTransfersThroughTheirTask()
    {
        var vdi = await Xapi.CreateVdiAsync("import target", 4 * MiB);
        var file = Path.GetTempFileName();
        await File.WriteAllBytesAsync(file, new byte[1024]);
        Host.Faults.FailNext("import_raw_vdi", "SR_BACKEND_FAILURE_44", ["", "There is insufficient space", ""]);
        try
        {
            var task = await Xapi.ImportFileAsync(file, ("vdi", vdi), ("format", "raw"));

            Assert.That((string?)task["status"], Is.EqualTo("failure"));
            Assert.That(task["error_info"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "SR_BACKEND_FAILURE_44", "", "There is insufficient space", "" }));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task Throttle_SlowsTransfersDown()
    {
        var source = await SeedVmAsync(UniqueName("slow"), "Halted", diskBytes: 4 * MiB, dataBytes: 0);
        Host.Faults.Throttle(8); // 8 MB/s: a 4 MiB raw export takes about half a second

        var clock = Stopwatch.StartNew();
        var bytes = await Xapi.Http.GetByteArrayAsync(Xapi.HandlerUrl("export_raw_vdi", ("vdi", source.VdiRef), ("format", "raw")));

        Assert.That(bytes, Has.Length.EqualTo(4 * MiB));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromMilliseconds(400)));
    }

    [Test]
    public async Task HostDown_RefusesEveryConnection_UntilRestored()
    {
        Host.Faults.SetHostDown();

        using var fresh = new HttpClient { BaseAddress = new Uri(Host.Url), Timeout = TimeSpan.FromSeconds(5) };
        await AssertUnreachableAsync(() => fresh.PostAsync("/jsonrpc", new StringContent("{}")));
        await AssertUnreachableAsync(() => Xapi.CallAsync("pool.get_all"));

        Host.Faults.SetHostUp();
        Assert.That((await Xapi.CallAsync("pool.get_all"))!.AsArray(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task HostDown_OverHttp_ComesBackByItself()
    {
        using var down = await Xapi.Http.PostAsJsonAsync("/sim/faults/host-down", new { seconds = 1 });
        Assert.That((int)down.StatusCode, Is.EqualTo(202));
        await PollAsync(() => Task.FromResult(Host.Faults.IsHostDown), TimeSpan.FromSeconds(2));
        await AssertUnreachableAsync(() => Xapi.CallAsync("pool.get_all"));

        // Nobody restores it: it answers again once its second is over.
        await PollAsync(async () =>
        {
            try
            {
                return (await Xapi.CallAsync("pool.get_all"))!.AsArray().Count == 1;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or System.Net.Sockets.SocketException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(5));
    }

    private static async Task PollAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("Condition not reached in time.");
            await Task.Delay(50);
        }
    }

    /// <summary>A host that is down drops the connection: the client sees a transport error, not an answer.</summary>
    private static async Task AssertUnreachableAsync(Func<Task> call)
    {
        var error = await Assert.CatchAsync(async () => await call());
        Assert.That(error, Is.InstanceOf<HttpRequestException>().Or.InstanceOf<IOException>().Or.InstanceOf<System.Net.Sockets.SocketException>());
    }

    [Test]
    public async Task SimEndpoints_WriteReadShaSeedAndState()
    {
        using var seed = await Xapi.Http.PostAsJsonAsync("/sim/vms", new { name = "http-seeded", diskBytes = 4 * MiB, dataBytes = 1 * MiB, powerState = "Halted" });
        var seeded = JsonNode.Parse(await seed.Content.ReadAsStringAsync())!;
        var vdi = (string)seeded["vdiRef"]!;

        using var write = await Xapi.Http.PostAsync($"/sim/disks/write?vm=http-seeded&offset={3 * MiB}", new ByteArrayContent("guest data"u8.ToArray()));
        var sha = JsonNode.Parse(await Xapi.Http.GetStringAsync($"/sim/disks/sha256?vdi={vdi}"))!;
        var state = JsonNode.Parse(await Xapi.Http.GetStringAsync("/sim/state"))!;
        using var missing = await Xapi.Http.GetAsync("/sim/disks/sha256?vdi=OpaqueRef:none");

        Assert.That(seed.IsSuccessStatusCode, Is.True);
        Assert.That((long)JsonNode.Parse(await write.Content.ReadAsStringAsync())!["written"]!, Is.EqualTo(10));
        Assert.That((string?)sha["sha256"], Is.EqualTo(Host.Control.GetDiskSha256(vdi)));
        Assert.That(state["vms"]!.AsArray().Select(v => (string?)v!["name_label"]), Does.Contain("http-seeded"));
        Assert.That((int)missing.StatusCode, Is.EqualTo(404));
    }

    [Test]
    public async Task SeededVm_HoldsDeterministicData()
    {
        var a = await SeedVmAsync(UniqueName("same"), "Halted", dataBytes: 2 * MiB);
        var again = await Host.Control.SeedVmAsync(new XenMigrate.XapiSimulator.Control.SeedVmSpec
        {
            Name = "other name", DataBytes = 2 * MiB, DiskBytes = 8 * MiB, PowerState = "Halted", DataSeed = 5,
        });
        var same = await Host.Control.SeedVmAsync(new XenMigrate.XapiSimulator.Control.SeedVmSpec
        {
            Name = "third", DataBytes = 2 * MiB, DiskBytes = 8 * MiB, PowerState = "Halted", DataSeed = 5,
        });

        Assert.That(Host.Control.GetDiskSha256(again.VdiRef), Is.EqualTo(Host.Control.GetDiskSha256(same.VdiRef)));
        Assert.That(Host.Control.GetDiskSha256(a.VdiRef), Is.Not.EqualTo(Host.Control.GetDiskSha256(same.VdiRef)));
        Assert.That((long)(await Xapi.CallAsync("VDI.get_physical_utilisation", a.VdiRef))!, Is.EqualTo(2 * MiB));
    }
}
