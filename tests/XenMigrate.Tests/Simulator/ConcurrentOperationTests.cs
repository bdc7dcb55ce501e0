using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// Operations that may run together on one object, as xapi decides it
/// (xapi_vm_lifecycle.ml is_allowed_concurrently, message_forwarding.ml's hard_shutdown cancel,
/// xapi_vdi.ml check_operation_error), instead of "any running operation refuses the next".
/// </summary>
public class ConcurrentOperationTests : SimulatorFixture
{
    [TestCase("hard_shutdown", new[] { "clean_shutdown" }, true)]
    [TestCase("hard_shutdown", new[] { "migrate_send", "snapshot" }, true)]
    [TestCase("hard_shutdown", new[] { "hard_shutdown" }, false)]
    [TestCase("hard_reboot", new[] { "clean_reboot" }, true)]
    [TestCase("hard_reboot", new[] { "hard_shutdown" }, false)]
    [TestCase("hard_reboot", new[] { "hard_reboot" }, false)]
    [TestCase("snapshot", new[] { "snapshot" }, true)]
    [TestCase("checkpoint", new[] { "snapshot", "checkpoint" }, true)]
    [TestCase("snapshot", new[] { "snapshot_with_quiesce" }, true)]
    [TestCase("snapshot", new[] { "clone" }, false)]
    [TestCase("clone", new[] { "copy", "export" }, true)]
    [TestCase("export", new[] { "export" }, true)]
    [TestCase("clone", new[] { "snapshot" }, false)]
    [TestCase("clean_shutdown", new[] { "migrate_send" }, true)]
    [TestCase("clean_reboot", new[] { "migrate_send" }, true)]
    [TestCase("metadata_export", new[] { "migrate_send" }, true)]
    [TestCase("clean_shutdown", new[] { "migrate_send", "snapshot" }, false)]
    [TestCase("start", new[] { "clean_shutdown" }, false)]
    [TestCase("clean_shutdown", new[] { "clean_shutdown" }, false)]
    [TestCase("start", new string[0], true)]
    public void IsAllowedConcurrently_IsXapisTable(string operation, string[] current, bool allowed) =>
        Assert.That(VmLifecycle.IsAllowedConcurrently(operation, current), Is.EqualTo(allowed));

    [Test]
    public async Task HardShutdown_DuringACleanShutdown_CancelsItAndHalts()
    {
        var vm = (await SeedVmAsync(UniqueName("hard"))).VmRef;
        Host.Faults.DelayNext("VM.clean_shutdown", TimeSpan.FromSeconds(20));
        var clean = await Xapi.CallForStringAsync("Async.VM.clean_shutdown", vm);
        await WaitUntilAsync(async () => (await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject().Count > 0);

        var started = DateTime.UtcNow;
        await Xapi.CallAsync("VM.hard_shutdown", vm);
        var task = await Xapi.WaitForTaskAsync(clean);

        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(10)), "the clean shutdown was cancelled, not waited for");
        Assert.That((string?)task["status"], Is.EqualTo("cancelled"));
        Assert.That(task["error_info"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "TASK_CANCELLED", clean }));
        Assert.That(await Xapi.CallForStringAsync("VM.get_power_state", vm), Is.EqualTo("Halted"));
        Assert.That((await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject(), Is.Empty);
    }

    [Test]
    public async Task Snapshots_RunTogether_AndOthersMeetBothInTheError()
    {
        var vm = (await SeedVmAsync(UniqueName("snaps"))).VmRef;
        Host.Faults.DelayNext("VM.snapshot", TimeSpan.FromMilliseconds(1500), times: 2);
        var first = await Xapi.CallForStringAsync("Async.VM.snapshot", vm, "first");
        await WaitUntilAsync(async () => (await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject().Count == 1);
        var second = await Xapi.CallForStringAsync("Async.VM.snapshot", vm, "second");
        await WaitUntilAsync(async () => (await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject().Count == 2);

        var allowed = (await Xapi.CallAsync("VM.get_allowed_operations", vm))!.AsArray().Select(o => (string?)o).ToList();
        var refused = await Xapi.FailureAsync("VM.clean_reboot", vm);

        Assert.That(allowed, Does.Contain("snapshot").And.Contain("checkpoint").And.Contain("hard_shutdown").And.No.Contains("clean_reboot"));
        Assert.That(refused.Code, Is.EqualTo("OTHER_OPERATION_IN_PROGRESS"));
        // report_concurrent_operations_error: several running operations are listed in braces.
        Assert.That(refused.Parameters, Is.EqualTo(new[] { "VM", vm, "{snapshot,snapshot}", $"{{{first},{second}}}" }));
        Assert.That((string?)(await Xapi.WaitForTaskAsync(first))["status"], Is.EqualTo("success"));
        Assert.That((string?)(await Xapi.WaitForTaskAsync(second))["status"], Is.EqualTo("success"));
    }

    [Test]
    public async Task VdiCopy_AdmitsOtherOperations_ButNotASnapshot()
    {
        var vdi = await Xapi.CreateVdiAsync(UniqueName("copied"), 4 * MiB);
        var sr = (string)(await Xapi.CallAsync("VDI.get_SR", vdi))!;
        Host.Faults.DelayNext("VDI.copy", TimeSpan.FromMilliseconds(1500));
        var copy = await Xapi.CallForStringAsync("Async.VDI.copy", vdi, sr);
        await WaitUntilAsync(async () => (await Xapi.CallAsync("VDI.get_current_operations", vdi))!.AsObject().Count > 0);

        var snapshot = await Xapi.FailureAsync("VDI.snapshot", vdi);
        await Xapi.CallAsync("VDI.resize", vdi, XapiTestClient.Bytes(8 * MiB));

        Assert.That(snapshot.Code, Is.EqualTo("OPERATION_NOT_ALLOWED"));
        Assert.That(snapshot.Parameters, Is.EqualTo(new[] { "Snapshot operation not allowed during copy." }));
        Assert.That((string?)(await Xapi.WaitForTaskAsync(copy))["status"], Is.EqualTo("success"));
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
