using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// Changed block tracking as xapi and SM implement it (xapi_vdi.ml:1388-1459, libs/sm/VDI.py
/// list_changed_blocks/_cbt_snapshot/data_destroy): a log per VDI, moved to each snapshot;
/// list_changed_blocks ORs the logs between two snapshots into a base64 bitmap of 64 KiB blocks
/// (bit i = block i, most significant bit first); data_destroy leaves a cbt_metadata VDI.
/// </summary>
public class CbtTests : SimulatorFixture
{
    private const int CbtBlock = 64 * 1024;

    protected override SimulatedHostOptions CreateOptions() => new()
    {
        Name = nameof(CbtTests), StorageBytes = 4 * GiB, Dom0DetachDelay = TimeSpan.FromMilliseconds(1500),
    };

    [Test]
    public async Task ListChangedBlocks_ReportsExactlyThe64KiBBlocksWrittenBetweenTwoSnapshots()
    {
        var vm = await SeedVmAsync(UniqueName("cbt"), "Running", diskBytes: 8 * MiB, dataBytes: 2 * MiB);
        await Xapi.CallAsync("VDI.enable_cbt", vm.VdiRef);
        var before = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);
        Host.Control.WriteDisk(vm.VdiRef, 0, [1]);                                   // block 0
        Host.Control.WriteDisk(vm.VdiRef, 9 * CbtBlock + 10, new byte[CbtBlock]);      // blocks 9 and 10
        Host.Control.WriteDisk(vm.VdiRef, 8 * MiB - 1, [2]);                           // the last block, 127
        var after = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);
        Host.Control.WriteDisk(vm.VdiRef, 50 * CbtBlock, [3]);                         // after the second snapshot
        var latest = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);

        var bitmap = Convert.FromBase64String(await Xapi.CallForStringAsync("VDI.list_changed_blocks", before, after));
        var twoSteps = Convert.FromBase64String(await Xapi.CallForStringAsync("VDI.list_changed_blocks", before, latest));

        Assert.That(bitmap, Has.Length.EqualTo(8 * MiB / CbtBlock / 8), "one bit per 64 KiB of the disk");
        Assert.That(SetBits(bitmap), Is.EqualTo(new[] { 0, 9, 10, 127 }));
        Assert.That(bitmap[0], Is.EqualTo(0x80), "block 0 is the first byte's most significant bit");
        Assert.That(SetBits(twoSteps), Is.EqualTo(new[] { 0, 9, 10, 50, 127 }), "the logs between are ORed");
        Assert.That((bool)(await Xapi.RecordAsync("VDI", after))["cbt_enabled"]!, Is.True, "a snapshot of a tracked disk is tracked");
        Assert.That((bool)(await Xapi.RecordAsync("VDI", vm.VdiRef))["cbt_enabled"]!, Is.True);
    }

    [Test]
    public async Task Refusals_AreXapisAndSms()
    {
        var vm = await SeedVmAsync(UniqueName("cbt-refuse"), "Halted", diskBytes: 4 * MiB, dataBytes: 0);
        var snapshot = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);
        var raw = await TransferProbe.CreateVdiAsync(Xapi, Host.SrRef, 4 * MiB, new JsonObject { ["type"] = "raw" });
        var untracked = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);

        var onSnapshot = await Xapi.FailureAsync("VDI.enable_cbt", snapshot);
        var onRaw = await Xapi.FailureAsync("VDI.enable_cbt", raw);
        var same = await Xapi.FailureAsync("VDI.list_changed_blocks", snapshot, snapshot);
        var unrelated = await Xapi.FailureAsync("VDI.list_changed_blocks", snapshot, untracked);
        var noMetadata = await Xapi.FailureAsync("VDI.data_destroy", snapshot);
        var notSnapshot = await Xapi.FailureAsync("VDI.data_destroy", vm.VdiRef);
        await Xapi.CallAsync("VDI.disable_cbt", vm.VdiRef); // idempotent when off

        Assert.That(onSnapshot.Code, Is.EqualTo("OPERATION_NOT_ALLOWED"));
        Assert.That(onSnapshot.Parameters, Is.EqualTo(new[] { $"VDI is a snapshot: {snapshot}" }));
        Assert.That(onRaw.Code, Is.EqualTo("SR_BACKEND_FAILURE_66"));
        Assert.That(same.Code, Is.EqualTo("SR_BACKEND_FAILURE_460"));
        Assert.That(same.Parameters[1], Does.Contain("Source and target VDI are same"));
        Assert.That(unrelated.Parameters[1], Does.Contain("Source and target VDI are unrelated"));
        Assert.That(noMetadata.Code, Is.EqualTo("VDI_NO_CBT_METADATA"));
        Assert.That(notSnapshot.Parameters, Is.EqualTo(new[] { $"VDI is not a snapshot: {vm.VdiRef}" }));
    }

    [Test]
    public async Task DataDestroy_LeavesACbtMetadataVdi_ThatStillAnswersListChangedBlocks()
    {
        var vm = await SeedVmAsync(UniqueName("cbt-data"), "Halted", diskBytes: 4 * MiB, dataBytes: 2 * MiB);
        await Xapi.CallAsync("VDI.enable_cbt", vm.VdiRef);
        var old = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);
        Host.Control.WriteDisk(vm.VdiRef, 3 * MiB, Encoding.UTF8.GetBytes("x"));
        var next = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);

        await Xapi.CallAsync("VDI.data_destroy", old);
        await Xapi.CallAsync("VDI.data_destroy", old); // idempotent
        var record = await Xapi.RecordAsync("VDI", old);
        var bitmap = Convert.FromBase64String(await Xapi.CallForStringAsync("VDI.list_changed_blocks", old, next));
        var snapshotIt = await Xapi.FailureAsync("VDI.snapshot", old, new JsonObject());
        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", old), ("format", "raw"));
        var exportTask = await Xapi.WaitForTaskAsync(export.TaskRef!);
        var nbd = await Xapi.FailureAsync("VDI.get_nbd_info", old);
        await Xapi.CallAsync("VDI.destroy", old);

        Assert.That((string?)record["type"], Is.EqualTo("cbt_metadata"));
        Assert.That((long)record["physical_utilisation"]!, Is.Zero);
        Assert.That(SetBits(bitmap), Is.EqualTo(new[] { 48 }));
        Assert.That(snapshotIt.Parameters, Is.EqualTo(new[] { old, "cbt_metadata" }));
        Assert.That(snapshotIt.Code, Is.EqualTo("VDI_INCOMPATIBLE_TYPE"));
        Assert.That(TransferProbe.ErrorInfo(exportTask), Is.EqualTo(new[] { "VDI_INCOMPATIBLE_TYPE", old, "cbt_metadata" }), "the dom0 VBD cannot be created");
        Assert.That(nbd.Code, Is.EqualTo("VDI_INCOMPATIBLE_TYPE"));
    }

    [Test]
    public async Task DataDestroy_WaitsForTheDom0VbdOfAnExport_ThenSucceeds()
    {
        var vm = await SeedVmAsync(UniqueName("cbt-wait"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);
        await Xapi.CallAsync("VDI.enable_cbt", vm.VdiRef);
        var snapshot = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);
        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", snapshot), ("format", "vhd"));
        Assert.That(TransferProbe.Dom0Vbds(Host, snapshot), Has.Count.EqualTo(1), "still attached just after the transfer");

        var destroy = await Xapi.FailureAsync("VDI.destroy", snapshot);
        await Xapi.CallAsync("VDI.data_destroy", snapshot); // waits up to 4 s for the VBD to go (xapi_vdi.ml:912-956)

        Assert.That(export.Status, Is.EqualTo(System.Net.HttpStatusCode.OK));
        Assert.That(destroy.Code, Is.EqualTo("VDI_IN_USE"));
        Assert.That((string?)(await Xapi.RecordAsync("VDI", snapshot))["type"], Is.EqualTo("cbt_metadata"));
    }

    [Test]
    public async Task DisableCbt_StopsTracking_AndDestroyingASnapshotKeepsTheChainWhole()
    {
        var vm = await SeedVmAsync(UniqueName("cbt-chain"), "Halted", diskBytes: 4 * MiB, dataBytes: 0);
        await Xapi.CallAsync("VDI.enable_cbt", vm.VdiRef);
        var first = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);
        Host.Control.WriteDisk(vm.VdiRef, 0, [1]);
        var middle = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);
        Host.Control.WriteDisk(vm.VdiRef, CbtBlock, [1]);
        var last = await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef);

        await Xapi.CallAsync("VDI.destroy", middle); // SM merges its log into the next (VDI.py delete, coalesce_bitmap)
        var merged = Convert.FromBase64String(await Xapi.CallForStringAsync("VDI.list_changed_blocks", first, last));
        await Xapi.CallAsync("VDI.disable_cbt", vm.VdiRef);

        Assert.That(SetBits(merged), Is.EqualTo(new[] { 0, 1 }));
        Assert.That((bool)(await Xapi.RecordAsync("VDI", vm.VdiRef))["cbt_enabled"]!, Is.False);
        Assert.That((bool)(await Xapi.RecordAsync("VDI", (await TransferProbe.SnapshotAsync(Xapi, vm.VdiRef))))["cbt_enabled"]!, Is.False);
    }

    [Test]
    public async Task EnableCbt_IsRefusedWithoutTheLicence()
    {
        await using var unlicensed = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "no-cbt", StorageBytes = 1 * GiB, LicenceRestrictions = ["CBT"] });
        using var xapi = await XapiTestClient.LoginAsync(unlicensed);
        var vdi = await xapi.CreateVdiAsync("d", 4 * MiB);

        var refused = await xapi.FailureAsync("VDI.enable_cbt", vdi);

        Assert.That(refused.Code, Is.EqualTo("LICENCE_RESTRICTION"));
        Assert.That(refused.Parameters, Is.EqualTo(new[] { "CBT" }));
    }

    private static int[] SetBits(byte[] bitmap) =>
        Enumerable.Range(0, bitmap.Length * 8).Where(i => (bitmap[i / 8] & (0x80 >> (i % 8))) != 0).ToArray();
}
