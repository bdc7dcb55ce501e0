using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// SRs and images other than a VHD on a file SR: a legacy (thick) LVM SR whose raw volumes take no
/// VHD import (vhd-tool impl.ml:582-583 via sm_fs_ops.ml:66-97); raw and qcow2 VDIs on the file SR
/// that give no VHD delta (vhd_tool_wrapper.ml:159-187); qcow2 export and import.
/// </summary>
public class StorageVarietyTests : SimulatorFixture
{
    protected override SimulatedHostOptions CreateOptions() => new()
    {
        Name = nameof(StorageVarietyTests), StorageBytes = 4 * GiB, LegacyLvmStorageBytes = 1 * GiB, Dom0DetachDelay = TimeSpan.Zero,
    };

    [Test]
    public async Task LegacyLvmSr_LooksLikeXapisAndItsVdisAreRaw()
    {
        var sr = await Xapi.RecordAsync("SR", Host.LvmSrRef);
        var vdi = await TransferProbe.VdiWithSmConfigAsync(Xapi, Host.LvmSrRef, 8 * MiB, new JsonObject());
        var vhdAsked = await Xapi.FailureAsync("VDI.create", new JsonObject
        {
            ["name_label"] = "vhd", ["SR"] = Host.LvmSrRef, ["virtual_size"] = 8 * MiB, ["type"] = "user", ["sharable"] = false,
            ["read_only"] = false, ["other_config"] = new JsonObject(), ["sm_config"] = new JsonObject { ["type"] = "vhd" },
        });

        Assert.That((string?)sr["type"], Is.EqualTo("lvm"));
        Assert.That(sr["sm_config"]!.AsObject().ContainsKey("use_vhd"), Is.False);
        Assert.That((string?)vdi["sm_config"]!["vdi_type"], Is.EqualTo("aio"), "SM's VDI_TYPE_RAW");
        Assert.That(vhdAsked.Code, Is.EqualTo("SR_BACKEND_FAILURE_78"));
        Assert.That(Host.Database.GetRecord(Host.SrRef)!["type"]!.ToString(), Is.EqualTo("ext"), "the default SR stays as it was");
    }

    [Test]
    public async Task VhdImportOntoThickLvm_FailsAsVhdToolDoes_RawImportWorks()
    {
        var source = await SeedVmAsync(UniqueName("to-lvm"), "Halted", diskBytes: 8 * MiB, dataBytes: 3 * MiB);
        var vhd = await TransferProbe.ExportAsync(Xapi, ("vdi", source.VdiRef), ("format", "vhd"));
        var raw = await TransferProbe.ExportAsync(Xapi, ("vdi", source.VdiRef), ("format", "raw"));
        var thick = await TransferProbe.CreateVdiAsync(Xapi, Host.LvmSrRef, 8 * MiB);

        var (vhdStatus, vhdTask) = await TransferProbe.ImportAsync(Xapi, vhd.Body, ("vdi", thick), ("format", "vhd"));
        var (_, rawTask) = await TransferProbe.ImportAsync(Xapi, raw.Body, ("vdi", thick), ("format", "raw"));

        Assert.That(vhdStatus, Is.EqualTo(HttpStatusCode.OK), "the 200 is out before vhd-tool starts");
        Assert.That(TransferProbe.ErrorInfo(vhdTask!), Is.EqualTo(new[] { "VDI_IO_ERROR", "Device I/O errors" }),
            "vhd-tool exits on 'unimplemented: prezeroed' and xapi reports only the failure");
        Assert.That((string?)rawTask!["status"], Is.EqualTo("success"));
        Assert.That(Host.Control.GetDiskSha256(thick), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    [TestCase("raw", "aio")]
    [TestCase("qcow2", "qcow2")]
    public async Task NonVhdVdis_ReportTheirFormat_AndRefuseAVhdDelta(string asked, string vdiType)
    {
        var sm = asked == "raw" ? new JsonObject { ["type"] = "raw" } : new JsonObject { ["image-format"] = "qcow2" };
        var vdi = await TransferProbe.VdiWithSmConfigAsync(Xapi, Host.SrRef, 8 * MiB, sm);
        var vdiRef = (string)(await Xapi.CallAsync("VDI.get_by_uuid", (string)vdi["uuid"]!))!;
        Host.Control.WriteDisk(vdiRef, 0, Encoding.UTF8.GetBytes("base"));
        var snapshot = await TransferProbe.SnapshotAsync(Xapi, vdiRef);
        Host.Control.WriteDisk(vdiRef, 3 * MiB, Encoding.UTF8.GetBytes("after"));

        var delta = await TransferProbe.ExportAsync(Xapi, ("vdi", vdiRef), ("base", snapshot), ("format", "vhd"));
        var task = await Xapi.WaitForTaskAsync(delta.TaskRef!);
        var full = await TransferProbe.ExportAsync(Xapi, ("vdi", vdiRef), ("format", "vhd"));

        Assert.That((string?)vdi["sm_config"]!["vdi_type"], Is.EqualTo(vdiType));
        if (asked == "qcow2") Assert.That((string?)vdi["sm_config"]!["image-format"], Is.EqualTo("qcow2"));
        Assert.That(delta.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(TransferProbe.ErrorInfo(task), Is.EqualTo(new[] { "INTERNAL_ERROR", "Cannot compute differences on non-VHD images" }));
        Assert.That(TransferProbe.Ascii(delta.Body), Does.Contain("Failure(&quot;Cannot compute differences on non-VHD images&quot;)"));
        Assert.That((string?)(await Xapi.WaitForTaskAsync(full.TaskRef!))["status"], Is.EqualTo("success"), "a full VHD of a non-VHD image is fine");
    }

    [Test]
    public async Task Qcow2VdisMayExceedTheVhdLimit_VhdVdisMayNot()
    {
        await using var big = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "qcow-big", StorageBytes = 4096 * GiB });
        using var xapi = await XapiTestClient.LoginAsync(big);

        var qcow = await TransferProbe.CreateVdiAsync(xapi, big.SrRef, 3072 * GiB, new JsonObject { ["image-format"] = "qcow2" });
        var vhd = await xapi.FailureAsync("VDI.create", new JsonObject
        {
            ["name_label"] = "too big", ["SR"] = big.SrRef, ["virtual_size"] = 3072 * GiB, ["type"] = "user", ["sharable"] = false,
            ["read_only"] = false, ["other_config"] = new JsonObject(),
        });

        Assert.That((long)(await xapi.CallAsync("VDI.get_virtual_size", qcow))!, Is.EqualTo(3072 * GiB));
        Assert.That(vhd.Code, Is.EqualTo("SR_BACKEND_FAILURE_79"));
    }

    [Test]
    public async Task Qcow2Export_HasQcow2ToStdoutsLayout_AndImportsBackToTheSameBytes()
    {
        var source = await SeedVmAsync(UniqueName("qcow"), "Halted", diskBytes: 8 * MiB, dataBytes: 3 * MiB);
        Host.Control.WriteDisk(source.VdiRef, 7 * MiB + 5, Encoding.UTF8.GetBytes("tail"));

        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", source.VdiRef), ("format", "qcow2"));
        var target = await Xapi.CreateVdiAsync("qcow copy", 8 * MiB);
        var (_, task) = await TransferProbe.ImportAsync(Xapi, export.Body, ("vdi", target), ("format", "qcow2"));

        Assert.That(export.Status, Is.EqualTo(HttpStatusCode.OK));
        var header = export.Body;
        Assert.That(header[..4], Is.EqualTo(new byte[] { 0x51, 0x46, 0x49, 0xFB }));
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)), Is.EqualTo(3));
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(20)), Is.EqualTo(16), "64 KiB clusters");
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(48)), Is.EqualTo(65536), "the refcount table right after the header");
        Assert.That(export.Body.Length % 65536, Is.Zero);
        // Header, refcount table and block, L1, one L2, then the data clusters: 3 MiB seeded (48) plus the tail's one.
        Assert.That(export.Body.Length, Is.EqualTo((5 + 48 + 1) * 65536));
        Assert.That((string?)task!["status"], Is.EqualTo("success"), task.ToJsonString());
        Assert.That(Host.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    [Test]
    public async Task Qcow2DeltaAgainstABase_CarriesOnlyTheChangedClusters()
    {
        var source = await SeedVmAsync(UniqueName("qcow-delta"), "Halted", diskBytes: 8 * MiB, dataBytes: 4 * MiB);
        var baseVdi = await TransferProbe.SnapshotAsync(Xapi, source.VdiRef);
        var replica = await Xapi.CreateVdiAsync("replica", 8 * MiB);
        var full = await TransferProbe.ExportAsync(Xapi, ("vdi", baseVdi), ("format", "qcow2"));
        await TransferProbe.ImportAsync(Xapi, full.Body, ("vdi", replica), ("format", "qcow2"));
        Host.Control.WriteDisk(source.VdiRef, 1 * MiB + 100, Encoding.UTF8.GetBytes("changed"));
        Host.Control.WriteDisk(source.VdiRef, 6 * MiB, Encoding.UTF8.GetBytes("new"));

        var delta = await TransferProbe.ExportAsync(Xapi, ("vdi", source.VdiRef), ("base", baseVdi), ("format", "qcow2"));
        var (_, task) = await TransferProbe.ImportAsync(Xapi, delta.Body, ("vdi", replica), ("format", "qcow2"));

        Assert.That(delta.Body.Length, Is.EqualTo((5 + 2) * 65536), "two changed clusters");
        Assert.That((string?)task!["status"], Is.EqualTo("success"));
        Assert.That(Host.Control.GetDiskSha256(replica), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    [Test]
    public async Task Qcow2Import_IsForwardOnly_AsXapisStreamDecoder()
    {
        var target = await Xapi.CreateVdiAsync("backwards", 4 * MiB);
        // A header whose L1 table sits before the refcount table: the stream would have to go back.
        var image = new byte[4 * 65536];
        new byte[] { 0x51, 0x46, 0x49, 0xFB }.CopyTo(image, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(4), 3);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(20), 16);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(24), 4 * (ulong)MiB);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(36), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(40), 65536);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(48), 2 * 65536);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(56), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(100), 112);

        var (_, task) = await TransferProbe.ImportAsync(Xapi, image, ("vdi", target), ("format", "qcow2"));

        Assert.That(TransferProbe.ErrorInfo(task!)[0], Is.EqualTo("VDI_IO_ERROR"));
        Assert.That(TransferProbe.ErrorInfo(task!)[1], Does.Contain("non-sequential"));
    }
}
