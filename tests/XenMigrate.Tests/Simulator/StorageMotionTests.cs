using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// Storage XenMotion between two simulated standalone hosts over real HTTP: host.migrate_receive
/// on the destination, VM.assert_can_migrate / Async.VM.migrate_send on the source.
/// </summary>
public class StorageMotionTests
{
    private const long MiB = 1024L * 1024;
    private const long GiB = 1024 * MiB;

    private SimulatedHost _source = null!;
    private SimulatedHost _dest = null!;
    private SimulatedHost _older = null!;
    private SimulatedHost _small = null!;
    private XapiTestClient _a = null!;
    private XapiTestClient _b = null!;

    [OneTimeSetUp]
    public async Task StartHosts()
    {
        _source = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "sxm-a", StorageBytes = 4 * GiB });
        _dest = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "sxm-b", StorageBytes = 4 * GiB });
        _older = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "sxm-old", StorageBytes = 4 * GiB, PlatformVersion = "3.3.0" });
        _small = await SimulatedHost.StartAsync(new SimulatedHostOptions
        {
            Name = "sxm-small", StorageBytes = 4 * GiB, MemoryBytes = 1536 * MiB, ControlDomainMemoryBytes = 1 * GiB,
        });
        _a = await XapiTestClient.LoginAsync(_source);
        _b = await XapiTestClient.LoginAsync(_dest);
    }

    [OneTimeTearDown]
    public async Task StopHosts()
    {
        _a?.Dispose();
        _b?.Dispose();
        foreach (var host in new[] { _source, _dest, _older, _small })
            if (host is not null) await host.DisposeAsync();
    }

    [TearDown]
    public void ClearFaults()
    {
        _source.Faults.Clear();
        _dest.Faults.Clear();
    }

    [TestCase("Running")]
    [TestCase("Halted")]
    [TestCase("Suspended")]
    public async Task MigrateSend_MovesTheVm_KeepingUuidPowerStateAndData(string powerState)
    {
        var seeded = await SeedAsync($"sxm-{powerState}", powerState);
        var hash = _source.Control.GetVmDiskSha256(seeded.VmRef);

        var task = await MigrateAsync(_source, _dest, seeded, _b);

        Assert.That((string?)task["status"], Is.EqualTo("success"), task.ToJsonString());
        var destVm = _dest.Database.FindRefByUuid(seeded.VmUuid);
        Assert.That(destVm, Is.Not.Null, "the VM keeps its uuid on the destination");
        var record = _dest.Database.GetRecord(destVm!)!;
        Assert.That((string?)record["power_state"], Is.EqualTo(powerState));
        Assert.That((string?)record["resident_on"], Is.EqualTo(powerState == "Running" ? _dest.HostRef : "OpaqueRef:NULL"));
        Assert.That(_dest.Control.GetVmDiskSha256(destVm!), Is.EqualTo(hash), "the destination holds the same bytes");
        Assert.That(record["other_config"]!.AsObject().ContainsKey("last_migration_downtime_ms"), Is.False, "xapi records no downtime");
        if (powerState == "Suspended")
            Assert.That(_dest.Database.GetRecord((string)record["suspend_VDI"]!), Is.Not.Null, "the suspend image moved with it");
        Assert.That(_source.Database.FindRefByUuid(seeded.VmUuid), Is.Null, "the source copy is gone");
        Assert.That(_source.Database.FindRefByUuid(seeded.VdiUuid), Is.Null, "with its disk");
        Assert.That(_dest.Database.GetRecord(destVm!)!["VIFs"]!.AsArray(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task MigrateSend_CarriesWhatTheGuestWroteDuringTheCopy()
    {
        var seeded = await SeedAsync("sxm-dirty", "Running", diskBytes: 32 * MiB, dataBytes: 16 * MiB, dataSeed: 7);
        var twin = await SeedAsync("sxm-twin", "Halted", diskBytes: 32 * MiB, dataBytes: 16 * MiB, dataSeed: 7);
        var dirty = new byte[1 * MiB];
        Random.Shared.NextBytes(dirty);
        _source.Control.WriteVmDisk(twin.VmRef, 20 * MiB, dirty);
        // Mid-way through the bulk copy the guest writes: only the stop-and-copy pass can carry it.
        _source.Faults.OnNext("VM.migrate_send", CallHookTiming.DuringTransfer, _ => _source.Control.WriteVmDisk(seeded.VmRef, 20 * MiB, dirty), afterBytes: 4 * MiB);

        var task = await MigrateAsync(_source, _dest, seeded, _b);

        Assert.That((string?)task["status"], Is.EqualTo("success"), task.ToJsonString());
        var destVm = _dest.Database.FindRefByUuid(seeded.VmUuid)!;
        Assert.That(_dest.Control.GetVmDiskSha256(destVm), Is.EqualTo(_source.Control.GetVmDiskSha256(twin.VmRef)));
    }

    [Test]
    public async Task MigrateSend_ToAnOlderHost_IsRefused_AndTheVmStays()
    {
        var seeded = await SeedAsync("sxm-old", "Running");
        using var old = await XapiTestClient.LoginAsync(_older);
        var vdisBefore = _older.Database.GetAll("VDI").Count;

        var task = await MigrateAsync(_source, _older, seeded, old);

        Assert.That((string?)task["status"], Is.EqualTo("failure"));
        Assert.That(ErrorInfo(task), Is.EqualTo(new[] { XapiErrors.VmHostIncompatibleVersionMigrate, seeded.VmRef, _older.HostRef }));
        await AssertUntouchedAsync(seeded, "Running");
        Assert.That(_older.Database.GetAll("VDI"), Has.Count.EqualTo(vdisBefore));
        Assert.That(_older.Database.FindRefByUuid(seeded.VmUuid), Is.Null);
    }

    [Test]
    public async Task AssertCanMigrate_ChecksMemoryOnTheDestination()
    {
        var seeded = await SeedAsync("sxm-mem", "Running", memoryBytes: 1 * GiB);
        using var small = await XapiTestClient.LoginAsync(_small);
        var token = await small.CallAsync("host.migrate_receive", _small.HostRef, _small.NetworkRef, new JsonObject());

        var failure = await _a.FailureAsync("VM.assert_can_migrate", seeded.VmRef, token, true, Maps(seeded, _small).Vdi, Maps(seeded, _small).Vif, new JsonObject());

        Assert.That(failure.Code, Is.EqualTo(XapiErrors.HostNotEnoughFreeMemory));
        Assert.That(failure.Parameters[0], Is.EqualTo(XapiTestClient.Bytes(1 * GiB)));
    }

    [Test]
    public async Task MigrateSend_OfAPausedVm_IsRefused_AsXapiAllowsHaltedSuspendedAndRunningOnly()
    {
        var seeded = await SeedAsync("sxm-paused", "Paused");
        var token = await _b.CallAsync("host.migrate_receive", _dest.HostRef, _dest.NetworkRef, new JsonObject());
        var maps = Maps(seeded, _dest);

        var failure = await _a.FailureAsync("VM.migrate_send", seeded.VmRef, token, true, maps.Vdi, maps.Vif, new JsonObject());

        Assert.That(failure.Code, Is.EqualTo(XapiErrors.VmBadPowerState));
        Assert.That(failure.Parameters, Is.EqualTo(new[] { seeded.VmRef, "halted, suspended, running", "paused" }));
    }

    [Test]
    public async Task MigrateSend_WithAnUnmappedDisk_SendsItToTheDestinationsDefaultSr()
    {
        var seeded = await SeedAsync("sxm-map", "Running");
        var token = await _b.CallAsync("host.migrate_receive", _dest.HostRef, _dest.NetworkRef, new JsonObject());

        var taskRef = await _a.CallForStringAsync("Async.VM.migrate_send", seeded.VmRef, token, true, new JsonObject(), Maps(seeded, _dest).Vif, new JsonObject());
        var task = await _a.WaitForTaskAsync(taskRef, TimeSpan.FromSeconds(60));

        Assert.That((string?)task["status"], Is.EqualTo("success"), task.ToJsonString());
        var destVm = _dest.Database.GetRecord(_dest.Database.FindRefByUuid(seeded.VmUuid)!)!;
        var vbd = _dest.Database.GetRecord((string)destVm["VBDs"]![0]!)!;
        Assert.That((string?)_dest.Database.GetRecord((string)vbd["VDI"]!)!["SR"], Is.EqualTo(_dest.SrRef));
    }

    [Test]
    public async Task MigrateSend_WithAnUnmappedDisk_AndNoDefaultSrThere_IsRefused_VdiNotInMap()
    {
        await using var bare = await SimulatedPool.StartAsync(new SimulatedPoolOptions
        {
            DefaultStorage = DefaultStorage.None,
            Hosts = [new SimulatedHostOptions { Name = "sxm-nodefault", StorageBytes = 1 * GiB }],
        });
        var target = bare.Members[0];
        using var client = await XapiTestClient.LoginAsync(target);
        var seeded = await SeedAsync("sxm-nomap", "Running");
        var token = await client.CallAsync("host.migrate_receive", target.HostRef, target.NetworkRef, new JsonObject());

        var failure = await _a.FailureAsync("VM.migrate_send", seeded.VmRef, token, true, new JsonObject(),
            new JsonObject { [seeded.VifRef] = target.NetworkRef }, new JsonObject());

        Assert.That(failure.Code, Is.EqualTo(XapiErrors.VdiNotInMap));
        Assert.That(failure.Parameters, Is.EqualTo(new[] { seeded.VdiRef }));
    }

    [Test]
    public async Task MigrateSend_ImportsTheVmRecordThereBeforeItsMemoryMoves()
    {
        var seeded = await SeedAsync("sxm-early", "Running", diskBytes: 8 * MiB, dataBytes: 2 * MiB, memoryBytes: 1 * GiB);
        var token = await _b.CallAsync("host.migrate_receive", _dest.HostRef, _dest.NetworkRef, new JsonObject());
        var maps = Maps(seeded, _dest);
        var slowMemory = _source.Options.MemoryMigrationBytesPerSecond;
        _source.Options.MemoryMigrationBytesPerSecond = 512 * MiB; // two seconds of memory copy
        try
        {
            var taskRef = await _a.CallForStringAsync("Async.VM.migrate_send", seeded.VmRef, token, true, maps.Vdi, maps.Vif, new JsonObject());
            await WaitUntilAsync(() => Task.FromResult(_dest.Database.FindRefByUuid(seeded.VmUuid) is not null));
            var early = _dest.Database.GetRecord(_dest.Database.FindRefByUuid(seeded.VmUuid)!)!;
            var task = await _a.RecordAsync("task", taskRef);

            Assert.That((string?)task["status"], Is.EqualTo("pending"), "the migration is still running");
            Assert.That((string?)early["power_state"], Is.EqualTo("Halted"), "the record is there, the domain is not yet");
            Assert.That((string?)(await _a.RecordAsync("VM", seeded.VmRef))["power_state"], Is.EqualTo("Running"), "the guest still runs on the source");
            Assert.That((string?)(await _a.WaitForTaskAsync(taskRef, TimeSpan.FromSeconds(60)))["status"], Is.EqualTo("success"));
        }
        finally
        {
            _source.Options.MemoryMigrationBytesPerSecond = slowMemory;
        }
    }

    [Test]
    public async Task MigrateSend_MovesSnapshots_EjectsCds_AndCarriesTheVtpm()
    {
        var seeded = await _source.Control.SeedVmAsync(new SeedVmSpec
        {
            Name = $"sxm-whole-{Guid.NewGuid():N}"[..18], DiskBytes = 8 * MiB, DataBytes = 1 * MiB, CdIso = "guest-tools.iso",
            VtpmContents = "dHBtLXN0YXRl", Snapshots = ["before upgrade"], PowerState = "Halted",
        });
        await _a.CallAsync("VM.start", seeded.VmRef, false, false);

        var task = await MigrateAsync(_source, _dest, seeded, _b);

        Assert.That((string?)task["status"], Is.EqualTo("success"), task.ToJsonString());
        var destVm = _dest.Database.FindRefByUuid(seeded.VmUuid)!;
        var record = _dest.Database.GetRecord(destVm)!;
        var snapshots = record["snapshots"]!.AsArray().Select(s => _dest.Database.GetRecord((string)s!)!).ToList();
        Assert.That(snapshots.Select(s => (string?)s["name_label"]), Is.EqualTo(new[] { "before upgrade" }));
        var cd = record["VBDs"]!.AsArray().Select(v => _dest.Database.GetRecord((string)v!)!).Single(v => (string?)v["type"] == "CD");
        Assert.That((bool)cd["empty"]!, Is.True, "the CD was ejected: its ISO SR is not there");
        using var client = await XapiTestClient.LoginAsync(_dest);
        var vtpm = (string)record["VTPMs"]![0]!;
        Assert.That(await client.CallForStringAsync("VTPM.get_contents", vtpm), Is.EqualTo("dHBtLXN0YXRl"));
    }

    [Test]
    public async Task MigrateSend_ToAHostWithoutTheVmsCpuFeatures_IsRefused()
    {
        await using var older = await SimulatedHost.StartAsync(new SimulatedHostOptions
        {
            Name = "sxm-oldcpu", StorageBytes = 1 * GiB, CpuFeatures = "0fcbfbff-00000000-00000000-00000000-00000000-00000000-00000000-00000000",
        });
        using var client = await XapiTestClient.LoginAsync(older);
        var seeded = await SeedAsync("sxm-cpu", "Running");
        var token = await client.CallAsync("host.migrate_receive", older.HostRef, older.NetworkRef, new JsonObject());

        var failure = await _a.FailureAsync("VM.assert_can_migrate", seeded.VmRef, token, true, new JsonObject { [seeded.VdiRef] = older.SrRef },
            new JsonObject { [seeded.VifRef] = older.NetworkRef }, new JsonObject());

        Assert.That(failure.Code, Is.EqualTo(XapiErrors.VmIncompatibleWithThisHost));
    }

    [Test]
    public async Task MigrateSend_FromAHostWhoseLicenceLacksStorageMotion_IsRefused()
    {
        _source.Options.LicenceRestrictions.Add("Storage_motion");
        try
        {
            var seeded = await SeedAsync("sxm-licence", "Running");
            var token = await _b.CallAsync("host.migrate_receive", _dest.HostRef, _dest.NetworkRef, new JsonObject());
            var maps = Maps(seeded, _dest);
            var failure = await _a.FailureAsync("VM.assert_can_migrate", seeded.VmRef, token, true, maps.Vdi, maps.Vif, new JsonObject());
            Assert.That(failure.Code, Is.EqualTo(XapiErrors.LicenceRestriction));
            Assert.That(failure.Parameters, Is.EqualTo(new[] { "Storage_motion" }));
        }
        finally
        {
            _source.Options.LicenceRestrictions.Clear();
        }
    }

    [Test]
    public async Task MigrateSend_FailingMidway_LeavesTheVmRunningOnTheSource_AndNothingOnTheDestination()
    {
        var seeded = await SeedAsync("sxm-fail", "Running", diskBytes: 32 * MiB, dataBytes: 16 * MiB);
        var vdisBefore = _dest.Database.GetAll("VDI").Count;
        _source.Faults.OnNext("VM.migrate_send", CallHookTiming.DuringTransfer,
            _ => throw new XapiException(XapiErrors.VdiIoError, "simulated mirror failure"), afterBytes: 4 * MiB);

        var task = await MigrateAsync(_source, _dest, seeded, _b);

        Assert.That((string?)task["status"], Is.EqualTo("failure"), task.ToJsonString());
        await AssertUntouchedAsync(seeded, "Running");
        Assert.That(_dest.Database.GetAll("VDI"), Has.Count.EqualTo(vdisBefore));
        Assert.That(_dest.Database.FindRefByUuid(seeded.VmUuid), Is.Null);
    }

    [Test]
    public async Task MigrateSend_RefusedAtTheHandOver_RunsOnTheSourceAgain()
    {
        var seeded = await SeedAsync("sxm-handover", "Running");
        var vdisBefore = _dest.Database.GetAll("VDI").Count;
        _dest.Faults.FailNext(FaultInjector.XenopsReceiveMethod, XapiErrors.InternalError, ["xenopsd refused the domain"]);

        var task = await MigrateAsync(_source, _dest, seeded, _b);

        Assert.That((string?)task["status"], Is.EqualTo("failure"));
        Assert.That(ErrorInfo(task)[0], Is.EqualTo(XapiErrors.InternalError), task.ToJsonString());
        await AssertUntouchedAsync(seeded, "Running");
        Assert.That(_dest.Database.GetAll("VDI"), Has.Count.EqualTo(vdisBefore));
        Assert.That(_dest.Database.FindRefByUuid(seeded.VmUuid), Is.Null, "the imported record went too");
    }

    [Test]
    public async Task TaskCancel_StopsTheMigration_AndTheVmStays()
    {
        var seeded = await SeedAsync("sxm-cancel", "Running", diskBytes: 32 * MiB, dataBytes: 24 * MiB);
        var vdisBefore = _dest.Database.GetAll("VDI").Count;
        _source.Faults.Throttle(4);
        var token = await _b.CallAsync("host.migrate_receive", _dest.HostRef, _dest.NetworkRef, new JsonObject());
        var maps = Maps(seeded, _dest);
        var taskRef = await _a.CallForStringAsync("Async.VM.migrate_send", seeded.VmRef, token, true, maps.Vdi, maps.Vif, new JsonObject());
        await WaitUntilAsync(async () => (double)(await _a.RecordAsync("task", taskRef))["progress"]! > 0.05);

        await _a.CallAsync("task.cancel", taskRef);
        var task = await _a.WaitForTaskAsync(taskRef);

        Assert.That((string?)task["status"], Is.EqualTo("cancelled"));
        await AssertUntouchedAsync(seeded, "Running");
        Assert.That(_dest.Database.GetAll("VDI"), Has.Count.EqualTo(vdisBefore));
    }

    [Test]
    public async Task MigrateSend_ReportsProgressWhileItRuns()
    {
        var seeded = await SeedAsync("sxm-progress", "Running", diskBytes: 32 * MiB, dataBytes: 16 * MiB);
        _source.Faults.Throttle(16);
        var token = await _b.CallAsync("host.migrate_receive", _dest.HostRef, _dest.NetworkRef, new JsonObject());
        var maps = Maps(seeded, _dest);
        var taskRef = await _a.CallForStringAsync("Async.VM.migrate_send", seeded.VmRef, token, true, maps.Vdi, maps.Vif, new JsonObject());
        var seen = new List<double>();
        JsonObject task;
        do
        {
            task = await _a.RecordAsync("task", taskRef);
            seen.Add((double)task["progress"]!);
            Assert.That(task["other_config"]!.AsObject(), Is.Empty, "xapi gives progress only: no byte counters");
            await Task.Delay(50);
        }
        while ((string?)task["status"] == "pending");

        Assert.That((string?)task["status"], Is.EqualTo("success"));
        Assert.That(seen.Any(p => p is > 0 and < 1), Is.True, "progress shows mid-way");
        Assert.That(seen, Is.Ordered);
    }

    private Task<SeededVm> SeedAsync(string name, string powerState, long diskBytes = 16 * MiB, long dataBytes = 4 * MiB, long memoryBytes = 512 * MiB, int? dataSeed = null) =>
        _source.Control.SeedVmAsync(new SeedVmSpec
        {
            Name = $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)], PowerState = powerState, DiskBytes = diskBytes, DataBytes = dataBytes, MemoryBytes = memoryBytes, DataSeed = dataSeed,
        });

    private static (JsonObject Vdi, JsonObject Vif) Maps(SeededVm vm, SimulatedHost dest) =>
        (new JsonObject { [vm.VdiRef] = dest.SrRef }, new JsonObject { [vm.VifRef] = dest.NetworkRef });

    /// <summary>migrate_receive on the destination, then Async.VM.migrate_send on the source; the finished task.</summary>
    private static async Task<JsonObject> MigrateAsync(SimulatedHost source, SimulatedHost dest, SeededVm vm, XapiTestClient destClient)
    {
        var token = await destClient.CallAsync("host.migrate_receive", dest.HostRef, dest.NetworkRef, new JsonObject());
        var maps = Maps(vm, dest);
        using var client = await XapiTestClient.LoginAsync(source);
        var taskRef = await client.CallForStringAsync("Async.VM.migrate_send", vm.VmRef, token, true, maps.Vdi, maps.Vif, new JsonObject());
        return await client.WaitForTaskAsync(taskRef, TimeSpan.FromSeconds(60));
    }

    private async Task AssertUntouchedAsync(SeededVm vm, string powerState)
    {
        var record = await _a.RecordAsync("VM", vm.VmRef);
        Assert.That((string?)record["power_state"], Is.EqualTo(powerState));
        Assert.That((string?)record["resident_on"], Is.EqualTo(_source.HostRef));
        Assert.That(record["current_operations"]!.AsObject(), Is.Empty);
        Assert.That(_source.Database.FindRefByUuid(vm.VdiUuid), Is.Not.Null);
    }

    private static string[] ErrorInfo(JsonObject task) => task["error_info"]!.AsArray().Select(e => (string)e!).ToArray();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("Condition not reached in time.");
            await Task.Delay(20);
        }
    }
}
