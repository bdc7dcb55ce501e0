using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>Snapshots (copy-on-write), VDI sizes and the in-use rules of the local SR.</summary>
public class StorageTests : SimulatorFixture
{
    protected override SimulatedHostOptions CreateOptions() => new()
    {
        Name = "storage",
        MemoryBytes = 16 * GiB,
        StorageBytes = 256 * MiB,
    };

    [Test]
    public async Task Snapshot_IsCopyOnWrite_TheSnapshotKeepsItsContent()
    {
        var seeded = await SeedVmAsync(UniqueName("cow"));
        var before = Host.Control.GetDiskSha256(seeded.VdiRef);
        var used = (long)(await Xapi.CallAsync("SR.get_physical_utilisation", Host.SrRef))!;

        var snapshot = await Xapi.CallForStringAsync("VM.snapshot", seeded.VmRef, "before the write");
        var snapshotRecord = await Xapi.RecordAsync("VM", snapshot);
        var snapshotVdi = (string)(await Xapi.RecordAsync("VBD", (string)snapshotRecord["VBDs"]![0]!))["VDI"]!;
        var afterSnapshot = (long)(await Xapi.CallAsync("SR.get_physical_utilisation", Host.SrRef))!;

        Assert.That(afterSnapshot, Is.EqualTo(used), "a snapshot costs no space");
        Assert.That(Host.Control.GetDiskSha256(snapshotVdi), Is.EqualTo(before));

        Host.Control.WriteVmDisk(seeded.VmRef, 1 * MiB, "written after the snapshot"u8);

        Assert.That(Host.Control.GetDiskSha256(seeded.VdiRef), Is.Not.EqualTo(before));
        Assert.That(Host.Control.GetDiskSha256(snapshotVdi), Is.EqualTo(before), "the snapshot is untouched");
        Assert.That((long)(await Xapi.CallAsync("SR.get_physical_utilisation", Host.SrRef))!, Is.EqualTo(used + 2 * MiB),
            "the writer got its own copy of one 2 MiB block");
    }

    [Test]
    public async Task Snapshot_RecordsPointBackAtTheirOrigin()
    {
        var seeded = await SeedVmAsync(UniqueName("snap-records"));

        var snapshot = await Xapi.CallForStringAsync("VM.snapshot", seeded.VmRef, "snap");
        var vm = await Xapi.RecordAsync("VM", seeded.VmRef);
        var snap = await Xapi.RecordAsync("VM", snapshot);
        var snapVdi = await Xapi.RecordAsync("VDI", (string)(await Xapi.RecordAsync("VBD", (string)snap["VBDs"]![0]!))["VDI"]!);

        Assert.That((bool)snap["is_a_snapshot"]!, Is.True);
        Assert.That((bool)snap["is_a_template"]!, Is.True);
        Assert.That((string?)snap["snapshot_of"], Is.EqualTo(seeded.VmRef));
        Assert.That((string?)snap["power_state"], Is.EqualTo("Halted"));
        Assert.That(vm["snapshots"]!.AsArray().Select(s => (string?)s), Does.Contain(snapshot));
        Assert.That((bool)snapVdi["is_a_snapshot"]!, Is.True);
        Assert.That((string?)snapVdi["snapshot_of"], Is.EqualTo(seeded.VdiRef));
        Assert.That((long)snapVdi["virtual_size"]!, Is.EqualTo(8 * MiB));
        Assert.That(snap["VIFs"]!.AsArray(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Snapshot_WorksInEveryPowerState()
    {
        foreach (var state in new[] { "Halted", "Running", "Paused", "Suspended" })
        {
            var seeded = await SeedVmAsync(UniqueName("any-state"), state, dataBytes: 0);
            Assert.That(await Xapi.CallForStringAsync("VM.snapshot", seeded.VmRef, state), Does.StartWith("OpaqueRef:"), state);
        }
    }

    [Test]
    public async Task VdiSnapshot_AndClone_AreIndependentCopies()
    {
        var vdi = await Xapi.CreateVdiAsync("single", 4 * MiB);
        Host.Control.WriteDisk(vdi, 0, "original"u8);

        var snapshot = await Xapi.CallForStringAsync("VDI.snapshot", vdi, new System.Text.Json.Nodes.JsonObject());
        var clone = await Xapi.CallForStringAsync("VDI.clone", snapshot);
        Host.Control.WriteDisk(clone, 0, "changed!"u8);

        Assert.That(Host.Control.GetDiskSha256(snapshot), Is.EqualTo(Host.Control.GetDiskSha256(vdi)));
        Assert.That(Host.Control.GetDiskSha256(clone), Is.Not.EqualTo(Host.Control.GetDiskSha256(vdi)));
        Assert.That((bool)(await Xapi.CallAsync("VDI.get_is_a_snapshot", clone))!, Is.False);
    }

    [Test]
    public async Task VdiCreate_RoundsUpToWholeBlocks_AndCountsInTheSr()
    {
        var before = (long)(await Xapi.CallAsync("SR.get_virtual_allocation", Host.SrRef))!;

        var vdi = await Xapi.CreateVdiAsync("odd size", 3 * MiB + 1);

        Assert.That((long)(await Xapi.CallAsync("VDI.get_virtual_size", vdi))!, Is.EqualTo(4 * MiB));
        Assert.That((long)(await Xapi.CallAsync("SR.get_virtual_allocation", Host.SrRef))!, Is.EqualTo(before + 4 * MiB));
        Assert.That((await Xapi.RecordAsync("SR", Host.SrRef))["VDIs"]!.AsArray().Select(v => (string?)v), Does.Contain(vdi));
    }

    [Test]
    public async Task Resize_GrowsOnly_AndNotWhileAttached()
    {
        var seeded = await SeedVmAsync(UniqueName("resize"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);
        var sha = Host.Control.GetDiskSha256(seeded.VdiRef);

        var shrink = await Xapi.FailureAsync("VDI.resize", seeded.VdiRef, 2 * MiB);
        await Xapi.CallAsync("VDI.resize", seeded.VdiRef, 6 * MiB);
        await Xapi.CallAsync("VM.start", seeded.VmRef, false, false);
        var attached = await Xapi.FailureAsync("VDI.resize", seeded.VdiRef, 8 * MiB);

        Assert.That(shrink.Code, Is.EqualTo("SR_BACKEND_FAILURE_79"));
        Assert.That(shrink.Parameters, Has.Count.EqualTo(3));
        Assert.That((long)(await Xapi.CallAsync("VDI.get_virtual_size", seeded.VdiRef))!, Is.EqualTo(6 * MiB));
        Assert.That(Host.Control.GetDiskSha256(seeded.VdiRef), Is.Not.EqualTo(sha), "the disk is longer");
        Assert.That(attached.Code, Is.EqualTo("VDI_IN_USE"));
        Assert.That(attached.Parameters, Is.EqualTo(new[] { seeded.VdiRef, "resize" }));
    }

    [Test]
    public async Task Destroy_IsRefusedWhileAttached_AndRemovesTheDisk()
    {
        var seeded = await SeedVmAsync(UniqueName("vdi-destroy"));

        var inUse = await Xapi.FailureAsync("VDI.destroy", seeded.VdiRef);
        await Xapi.CallAsync("VM.hard_shutdown", seeded.VmRef);
        await Xapi.CallAsync("VDI.destroy", seeded.VdiRef);

        Assert.That(inUse.Code, Is.EqualTo("VDI_IN_USE"));
        Assert.That(inUse.Parameters, Is.EqualTo(new[] { seeded.VdiRef, "destroy" }));
        Assert.That((await Xapi.RecordAsync("VM", seeded.VmRef))["VBDs"]!.AsArray(), Is.Empty, "its VBD went with it");
        Assert.That((await Xapi.FailureAsync("VDI.get_record", seeded.VdiRef)).Code, Is.EqualTo("HANDLE_INVALID"));
    }

    [Test]
    public async Task SuspendedVmsDisks_AreInUse()
    {
        var seeded = await SeedVmAsync(UniqueName("suspended-disk"), "Suspended", dataBytes: 0);

        Assert.That((await Xapi.FailureAsync("VDI.destroy", seeded.VdiRef)).Code, Is.EqualTo("VDI_IN_USE"));
    }

    [Test]
    public async Task BeyondTheSrsFreeSpace_IsSrFull()
    {
        var free = (long)(await Xapi.CallAsync("SR.get_physical_size", Host.SrRef))! - (long)(await Xapi.CallAsync("SR.get_physical_utilisation", Host.SrRef))!;

        var failure = await Xapi.FailureAsync("VDI.create", new System.Text.Json.Nodes.JsonObject
        {
            ["SR"] = Host.SrRef, ["virtual_size"] = free + 2 * MiB, ["type"] = "user",
            ["sharable"] = false, ["read_only"] = false, ["other_config"] = new System.Text.Json.Nodes.JsonObject(),
        });

        Assert.That(failure.Code, Is.EqualTo("SR_FULL"));
        Assert.That(failure.Parameters, Is.EqualTo(new[] { XapiTestClient.Bytes(free + 2 * MiB), XapiTestClient.Bytes(free) }));
    }
}
