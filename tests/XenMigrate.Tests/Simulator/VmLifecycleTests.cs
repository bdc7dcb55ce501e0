using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Simulator;

/// <summary>VM power operations and their rules (ocaml/xapi/xapi_vm_lifecycle.ml).</summary>
public class VmLifecycleTests : SimulatorFixture
{
    [Test]
    public async Task Start_ThenCleanShutdown()
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync(UniqueName("start"), 256 * MiB, 4 * MiB);

        await Xapi.CallAsync("VM.start", vm, false, false);
        var running = await Xapi.RecordAsync("VM", vm);
        Assert.That((string?)running["power_state"], Is.EqualTo("Running"));
        Assert.That((string?)running["resident_on"], Is.EqualTo(Host.HostRef));
        Assert.That((long)running["domid"]!, Is.GreaterThan(0));
        var vbd = await Xapi.RecordAsync("VBD", (string)running["VBDs"]![0]!);
        Assert.That((bool)vbd["currently_attached"]!, Is.True);
        Assert.That((string?)running["guest_metrics"], Is.Not.EqualTo("OpaqueRef:NULL"));

        await Xapi.CallAsync("VM.clean_shutdown", vm);
        var halted = await Xapi.RecordAsync("VM", vm);
        Assert.That((string?)halted["power_state"], Is.EqualTo("Halted"));
        Assert.That((string?)halted["resident_on"], Is.EqualTo("OpaqueRef:NULL"));
        Assert.That((long)halted["domid"]!, Is.EqualTo(-1));
    }

    [Test]
    public async Task StartOn_ThisHost_AndStartPaused()
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync(UniqueName("start-on"), 256 * MiB, 4 * MiB);

        await Xapi.CallAsync("VM.start_on", vm, Host.HostRef, true, false);
        Assert.That(await Xapi.CallForStringAsync("VM.get_power_state", vm), Is.EqualTo("Paused"));
        await Xapi.CallAsync("VM.unpause", vm);
        Assert.That(await Xapi.CallForStringAsync("VM.get_power_state", vm), Is.EqualTo("Running"));
        await Xapi.CallAsync("VM.pause", vm);
        await Xapi.CallAsync("VM.hard_shutdown", vm);
        var elsewhere = await Xapi.FailureAsync("VM.start_on", vm, "OpaqueRef:00000000-0000-0000-0000-00000000beef", false, false);
        Assert.That(elsewhere.Code, Is.EqualTo("HANDLE_INVALID"));
    }

    [Test]
    public async Task WrongPowerState_IsVmBadPowerState_WithLowercaseStates()
    {
        var running = (await SeedVmAsync(UniqueName("bad-state"))).VmRef;
        var halted = (await SeedVmAsync(UniqueName("bad-state"), "Halted")).VmRef;

        var start = await Xapi.FailureAsync("VM.start", running, false, false);
        var clean = await Xapi.FailureAsync("VM.clean_shutdown", halted);
        var destroy = await Xapi.FailureAsync("VM.destroy", running);
        var hard = await Xapi.FailureAsync("VM.hard_shutdown", halted);

        Assert.That(start.Code, Is.EqualTo("VM_BAD_POWER_STATE"));
        Assert.That(start.Parameters, Is.EqualTo(new[] { running, "halted", "running" }));
        Assert.That(clean.Parameters, Is.EqualTo(new[] { halted, "running", "halted" }));
        Assert.That(destroy.Parameters, Is.EqualTo(new[] { running, "halted, suspended", "running" }));
        Assert.That(hard.Parameters, Is.EqualTo(new[] { halted, "paused, suspended, running", "halted" }));
    }

    [Test]
    public async Task CleanShutdown_WithoutPvDrivers_IsVmLacksFeature_ButShutdownFallsBackToHard()
    {
        var vm = (await SeedVmAsync(UniqueName("no-tools"), guestAgent: false)).VmRef;

        var clean = await Xapi.FailureAsync("VM.clean_shutdown", vm);
        Assert.That(clean.Code, Is.EqualTo("VM_LACKS_FEATURE"));
        Assert.That(clean.Parameters, Is.EqualTo(new[] { vm }));
        Assert.That((await Xapi.RecordAsync("VM", vm))["guest_metrics"]!.GetValue<string>(), Is.EqualTo("OpaqueRef:NULL"));

        await Xapi.CallAsync("VM.shutdown", vm);
        Assert.That(await Xapi.CallForStringAsync("VM.get_power_state", vm), Is.EqualTo("Halted"));
    }

    [Test]
    public async Task GuestAgent_CanBeSwitchedThroughTheControls()
    {
        var vm = (await SeedVmAsync(UniqueName("tools"))).VmRef;

        Host.Control.SetGuestAgent(vm, false);
        Assert.That((await Xapi.FailureAsync("VM.clean_shutdown", vm)).Code, Is.EqualTo("VM_LACKS_FEATURE"));
        Host.Control.SetGuestAgent(vm, true);
        await Xapi.CallAsync("VM.clean_shutdown", vm);
    }

    [Test]
    public async Task BlockedStart_IsOperationBlocked_UntilUnblocked()
    {
        var vm = (await SeedVmAsync(UniqueName("blocked"), "Halted")).VmRef;

        await Xapi.CallAsync("VM.add_to_blocked_operations", vm, "start", "Migrated by XenMigrate");
        var blocked = await Xapi.FailureAsync("VM.start", vm, false, false);
        Assert.That(blocked.Code, Is.EqualTo("OPERATION_BLOCKED"));
        Assert.That(blocked.Parameters, Is.EqualTo(new[] { vm, "Migrated by XenMigrate" }));
        Assert.That((string?)(await Xapi.CallAsync("VM.get_blocked_operations", vm))!["start"], Is.EqualTo("Migrated by XenMigrate"));

        await Xapi.CallAsync("VM.remove_from_blocked_operations", vm, "start");
        await Xapi.CallAsync("VM.start", vm, false, false);
    }

    [Test]
    public async Task StartBeyondHostMemory_IsHostNotEnoughFreeMemory()
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync(UniqueName("huge"), 64 * GiB, 4 * MiB);
        var free = (long)(await Xapi.CallAsync("host.compute_free_memory", Host.HostRef))!;

        var failure = await Xapi.FailureAsync("VM.start", vm, false, false);

        Assert.That(failure.Code, Is.EqualTo("HOST_NOT_ENOUGH_FREE_MEMORY"));
        Assert.That(failure.Parameters, Is.EqualTo(new[] { XapiTestClient.Bytes(64 * GiB), XapiTestClient.Bytes(free) }));
    }

    [Test]
    public async Task ConcurrentOperations_AreOtherOperationInProgress()
    {
        var vm = (await SeedVmAsync(UniqueName("busy"))).VmRef;
        Host.Faults.DelayNext("VM.clean_shutdown", TimeSpan.FromMilliseconds(600));

        var task = await Xapi.CallForStringAsync("Async.VM.clean_shutdown", vm);
        await WaitUntilAsync(async () => (await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject().Count > 0);
        var current = (await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject();
        var allowed = (await Xapi.CallAsync("VM.get_allowed_operations", vm))!.AsArray().Select(o => (string?)o).ToList();
        var second = await Xapi.FailureAsync("VM.clean_reboot", vm);

        Assert.That(current.Single().Key, Is.EqualTo(task));
        Assert.That((string?)current.Single().Value, Is.EqualTo("clean_shutdown"));
        // xapi_vm_lifecycle.ml is_allowed_concurrently: only the hard operations go with a clean shutdown.
        Assert.That(allowed, Is.EquivalentTo(new[] { "hard_shutdown", "hard_reboot" }));
        Assert.That(second.Code, Is.EqualTo("OTHER_OPERATION_IN_PROGRESS"));
        Assert.That(second.Parameters, Is.EqualTo(new[] { "VM", vm, "clean_shutdown", task }));
        Assert.That((string?)(await Xapi.WaitForTaskAsync(task))["status"], Is.EqualTo("success"));
        Assert.That((await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject(), Is.Empty);
    }

    [Test]
    public async Task Destroy_RemovesVmAndVbds_ButKeepsTheVdis()
    {
        var seeded = await SeedVmAsync(UniqueName("destroy"), "Halted");

        await Xapi.CallAsync("VM.destroy", seeded.VmRef);

        Assert.That((await Xapi.FailureAsync("VM.get_record", seeded.VmRef)).Code, Is.EqualTo("HANDLE_INVALID"));
        Assert.That((await Xapi.FailureAsync("VBD.get_record", seeded.VbdRef)).Code, Is.EqualTo("HANDLE_INVALID"));
        Assert.That((await Xapi.FailureAsync("VIF.get_record", seeded.VifRef)).Code, Is.EqualTo("HANDLE_INVALID"));
        var vdi = await Xapi.RecordAsync("VDI", seeded.VdiRef);
        Assert.That(vdi["VBDs"]!.AsArray(), Is.Empty);
        Assert.That(Host.Control.GetDiskSha256(seeded.VdiRef), Has.Length.EqualTo(64), "the data is still there");
    }

    [Test]
    public async Task Create_NeedsTheRequiredFields_AndAcceptsTheMinimalRecord()
    {
        var record = XapiTestClient.MinimalVmRecord(UniqueName("create"), 128 * MiB);
        var vm = await Xapi.CallForStringAsync("VM.create", record);
        var created = await Xapi.RecordAsync("VM", vm);
        record.Remove("PV_bootloader");
        var missing = await Xapi.FailureAsync("VM.create", record);

        Assert.That((string?)created["power_state"], Is.EqualTo("Halted"));
        Assert.That((string?)created["other_config"]!["mac_seed"], Is.Not.Empty);
        Assert.That((string?)created["domain_type"], Is.EqualTo("unspecified"), "optional fields take their defaults");
        Assert.That(missing.Code, Is.EqualTo("FIELD_TYPE_ERROR"));
        Assert.That(missing.Parameters, Is.EqualTo(new[] { "PV_bootloader" }));
    }

    [Test]
    public async Task MemoryLimits_KeepTheirOrder_AndNeedAHaltedVm()
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync(UniqueName("memory"), 256 * MiB, 4 * MiB);

        await Xapi.CallAsync("VM.set_memory_limits", vm, 128 * MiB, 1 * GiB, 512 * MiB, 1 * GiB);
        var disorder = await Xapi.FailureAsync("VM.set_memory_limits", vm, 128 * MiB, 512 * MiB, 1 * GiB, 1 * GiB);
        await Xapi.CallAsync("VM.set_memory", vm, 768 * MiB);
        var record = await Xapi.RecordAsync("VM", vm);

        Assert.That(disorder.Code, Is.EqualTo("MEMORY_CONSTRAINT_VIOLATION"));
        Assert.That((long)record["memory_static_max"]!, Is.EqualTo(768 * MiB));
        Assert.That((long)record["memory_dynamic_min"]!, Is.EqualTo(768 * MiB));
        Assert.That((long)record["memory_dynamic_max"]!, Is.EqualTo(768 * MiB));
        Assert.That((long)record["memory_static_min"]!, Is.EqualTo(128 * MiB));

        await Xapi.CallAsync("VM.start", vm, false, false);
        var live = await Xapi.FailureAsync("VM.set_memory_limits", vm, 128 * MiB, 1 * GiB, 512 * MiB, 1 * GiB);
        Assert.That(live.Parameters, Is.EqualTo(new[] { vm, "halted", "running" }));
        await Xapi.CallAsync("VM.set_memory_dynamic_range", vm, 512 * MiB, 512 * MiB);
        Assert.That((long)(await Xapi.CallAsync("VM.get_memory_target", vm))!, Is.EqualTo(512 * MiB));
    }

    [Test]
    public async Task Vcpus_AtStartupNeverExceedsMax_SoOrderMatters()
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync(UniqueName("vcpus"), 256 * MiB, 4 * MiB, vcpus: 2);

        var growFirstAtStartup = await Xapi.FailureAsync("VM.set_VCPUs_at_startup", vm, 4);
        await Xapi.CallAsync("VM.set_VCPUs_max", vm, 4);
        await Xapi.CallAsync("VM.set_VCPUs_at_startup", vm, 4);
        var shrinkMaxFirst = await Xapi.FailureAsync("VM.set_VCPUs_max", vm, 1);
        await Xapi.CallAsync("VM.set_VCPUs_at_startup", vm, 1);
        await Xapi.CallAsync("VM.set_VCPUs_max", vm, 1);
        var zero = await Xapi.FailureAsync("VM.set_VCPUs_at_startup", vm, 0);

        Assert.That(growFirstAtStartup.Code, Is.EqualTo("INVALID_VALUE"));
        Assert.That(growFirstAtStartup.Parameters, Is.EqualTo(new[] { "VCPUs_at_startup", "4" }));
        Assert.That(shrinkMaxFirst.Parameters, Is.EqualTo(new[] { "VCPUs_max", "1" }));
        Assert.That(zero.Code, Is.EqualTo("INVALID_VALUE"));
        Assert.That((long)(await Xapi.CallAsync("VM.get_VCPUs_max", vm))!, Is.EqualTo(1));

        await Xapi.CallAsync("VM.start", vm, false, false);
        var live = await Xapi.FailureAsync("VM.set_VCPUs_max", vm, 2);
        Assert.That(live.Code, Is.EqualTo("VM_BAD_POWER_STATE"));
    }

    [Test]
    public async Task SuspendAndResume()
    {
        var vm = (await SeedVmAsync(UniqueName("suspend"))).VmRef;
        var freeRunning = (long)(await Xapi.CallAsync("host.compute_free_memory", Host.HostRef))!;

        await Xapi.CallAsync("VM.suspend", vm);
        var suspended = await Xapi.RecordAsync("VM", vm);
        Assert.That((string?)suspended["power_state"], Is.EqualTo("Suspended"));
        Assert.That((string?)suspended["suspend_VDI"], Is.Not.EqualTo("OpaqueRef:NULL"));
        Assert.That((long)(await Xapi.CallAsync("host.compute_free_memory", Host.HostRef))!, Is.EqualTo(freeRunning + 512 * MiB));

        await Xapi.CallAsync("VM.resume", vm, false, false);
        var resumed = await Xapi.RecordAsync("VM", vm);
        Assert.That((string?)resumed["power_state"], Is.EqualTo("Running"));
        Assert.That((string?)resumed["suspend_VDI"], Is.EqualTo("OpaqueRef:NULL"));
    }

    [Test]
    public async Task AllowedOperations_FollowThePowerState()
    {
        var vm = (await SeedVmAsync(UniqueName("allowed"), "Halted")).VmRef;

        var halted = (await Xapi.CallAsync("VM.get_allowed_operations", vm))!.AsArray().Select(o => (string?)o).ToList();
        await Xapi.CallAsync("VM.start", vm, false, false);
        var running = (await Xapi.CallAsync("VM.get_allowed_operations", vm))!.AsArray().Select(o => (string?)o).ToList();

        Assert.That(halted, Does.Contain("start").And.Contain("destroy").And.Not.Contain("clean_shutdown"));
        Assert.That(running, Does.Contain("clean_shutdown").And.Contain("snapshot").And.Not.Contain("start"));
    }

    [Test]
    public async Task VbdAndVif_CreateAndDestroy()
    {
        var (vm, vdi) = await Xapi.CreateVmWithDiskAsync(UniqueName("devices"), 256 * MiB, 4 * MiB);
        var second = await Xapi.CreateVdiAsync("second disk", 4 * MiB);

        var duplicate = await Xapi.FailureAsync("VBD.create", XapiTestClient.VbdRecord(vm, second, "0"));
        var vbd = await Xapi.CallForStringAsync("VBD.create", XapiTestClient.VbdRecord(vm, second, "1"));
        var vif = await Xapi.CallForStringAsync("VIF.create", new JsonObject
        {
            ["device"] = "0", ["network"] = Host.NetworkRef, ["VM"] = vm, ["MAC"] = "", ["MTU"] = 1500,
            ["other_config"] = new JsonObject(), ["qos_algorithm_type"] = "", ["qos_algorithm_params"] = new JsonObject(),
        });

        Assert.That(duplicate.Code, Is.EqualTo("DEVICE_ALREADY_EXISTS"));
        Assert.That((await Xapi.RecordAsync("VM", vm))["VBDs"]!.AsArray(), Has.Count.EqualTo(2));
        Assert.That(await Xapi.CallForStringAsync("VIF.get_MAC", vif), Does.Match("^([0-9a-f]{2}:){5}[0-9a-f]{2}$"));
        await Xapi.CallAsync("VM.start", vm, false, false);
        Assert.That((await Xapi.FailureAsync("VBD.destroy", vbd)).Code, Is.EqualTo("OPERATION_NOT_ALLOWED"));
        await Xapi.CallAsync("VBD.unplug", vbd);
        await Xapi.CallAsync("VBD.destroy", vbd);
        await Xapi.CallAsync("VM.hard_shutdown", vm);
        await Xapi.CallAsync("VIF.destroy", vif);
        var record = await Xapi.RecordAsync("VM", vm);
        Assert.That(record["VBDs"]!.AsArray(), Has.Count.EqualTo(1));
        Assert.That(record["VIFs"]!.AsArray(), Is.Empty);
        Assert.That((await Xapi.RecordAsync("VDI", vdi))["VBDs"]!.AsArray(), Has.Count.EqualTo(1));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("Condition not reached.");
            await Task.Delay(10);
        }
    }
}
