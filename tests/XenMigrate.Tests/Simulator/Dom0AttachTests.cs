using System.Net.Sockets;
using System.Text;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// Transfers attach their VDI to dom0 as xapi does (sm_fs_ops.ml:23-28, attach_helpers.ml:48-65):
/// a dom0 VBD, RO for an export and RW for an import, plugged for the transfer and unplugged a
/// moment after (Dom0DetachDelay); meanwhile VDI.destroy and VDI.resize answer VDI_IN_USE
/// (xapi_vdi.ml:244-283, 958-990), the race Xen Orchestra retries around.
/// </summary>
public class Dom0AttachTests : SimulatorFixture
{
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(2);

    protected override SimulatedHostOptions CreateOptions() => new()
    {
        Name = nameof(Dom0AttachTests), StorageBytes = 4 * GiB, Dom0DetachDelay = Linger,
    };

    [Test]
    public async Task Export_PlugsARoDom0Vbd_SoDestroyAndResizeAreRefused_UntilItIsGone()
    {
        var source = await SeedVmAsync(UniqueName("export-attach"), "Halted", diskBytes: 8 * MiB, dataBytes: 4 * MiB);
        Host.Faults.Throttle(4); // 8 MiB at 4 MB/s: about two seconds in flight

        using var response = await Xapi.Http.GetAsync(Xapi.HandlerUrl("export_raw_vdi", ("vdi", source.VdiRef), ("format", "raw")), HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStreamAsync();
        await body.ReadExactlyAsync(new byte[64 * 1024]);

        var during = TransferProbe.Dom0Vbds(Host, source.VdiRef);
        var destroy = await Xapi.FailureAsync("VDI.destroy", source.VdiRef);
        var resize = await Xapi.FailureAsync("VDI.resize", source.VdiRef, 16 * MiB);
        var copy = await Xapi.CallForStringAsync("VDI.copy", source.VdiRef, Host.SrRef); // a read-only attach allows a copy (xapi_vdi.ml:239-252)

        Host.Faults.Throttle(null);
        await body.CopyToAsync(Stream.Null);
        Assert.That(await Xapi.CallForStringAsync("task.get_status", response.Headers.GetValues("task-id").Single()), Is.EqualTo("success"));
        var justAfter = await Xapi.FailureAsync("VDI.destroy", source.VdiRef);
        await TransferProbe.WaitUntilAsync(() => TransferProbe.Dom0Vbds(Host, source.VdiRef).Count == 0, TimeSpan.FromSeconds(5), "the dom0 VBD to go");
        await Xapi.CallAsync("VDI.destroy", copy);

        Assert.That(during, Has.Count.EqualTo(1));
        Assert.That(during[0].Mode, Is.EqualTo("RO"));
        Assert.That(during[0].Attached, Is.True);
        Assert.That(destroy.Code, Is.EqualTo("VDI_IN_USE"));
        Assert.That(destroy.Parameters, Is.EqualTo(new[] { source.VdiRef, "destroy" }));
        Assert.That(resize.Parameters, Is.EqualTo(new[] { source.VdiRef, "resize" }));
        Assert.That(justAfter.Code, Is.EqualTo("VDI_IN_USE"), "the detach lags behind the end of the transfer");
        await Xapi.CallAsync("VDI.resize", source.VdiRef, 16 * MiB);
    }

    [Test]
    public async Task Import_PlugsARwDom0Vbd_WithXapisVbdFields_AndRefusesACopyMeanwhile()
    {
        var target = await Xapi.CreateVdiAsync("import target", 4 * MiB);
        using var socket = await TransferProbe.ConnectAsync(Host.Address, Host.Port);
        await using var stream = new NetworkStream(socket);
        var raw = new byte[2 * MiB];
        Array.Fill(raw, (byte)0x5A);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"PUT /import_raw_vdi?session_id={Xapi.Session}&vdi={target}&format=raw HTTP/1.1\r\nHost: x\r\nContent-Length: {raw.Length}\r\n\r\n"));
        await stream.WriteAsync(raw.AsMemory(0, 4096));
        await TransferProbe.WaitUntilAsync(() => TransferProbe.Dom0Vbds(Host, target).Count == 1, TimeSpan.FromSeconds(5), "the dom0 VBD");

        var vdi = await Xapi.RecordAsync("VDI", target);
        var vbd = await Xapi.RecordAsync("VBD", (string)vdi["VBDs"]![0]!);
        var copy = await Xapi.FailureAsync("VDI.copy", target, Host.SrRef);
        var destroy = await Xapi.FailureAsync("VDI.destroy", target);

        await stream.WriteAsync(raw.AsMemory(4096));
        await TransferProbe.WaitUntilAsync(() => TransferProbe.Dom0Vbds(Host, target).Count == 0, TimeSpan.FromSeconds(5), "the detach");
        await Xapi.CallAsync("VDI.destroy", target);

        Assert.That((string?)vbd["VM"], Is.EqualTo(Host.ControlDomainRef));
        Assert.That((string?)vbd["mode"], Is.EqualTo("RW"));
        Assert.That((string?)vbd["type"], Is.EqualTo("Disk"));
        Assert.That((bool)vbd["currently_attached"]!, Is.True);
        Assert.That((bool)vbd["bootable"]!, Is.False);
        Assert.That((bool)vbd["unpluggable"]!, Is.True);
        Assert.That((string?)vbd["userdevice"], Does.Match("^[0-9]+$"), "autodetect resolved to a number");
        Assert.That(copy.Parameters, Is.EqualTo(new[] { target, "copy" }), "a RW attach blocks even a copy");
        Assert.That(destroy.Parameters, Is.EqualTo(new[] { target, "destroy" }));
    }

    [Test]
    public async Task WithoutADetachDelay_TheVdiIsFreeAsSoonAsTheTransferEnds()
    {
        await using var quick = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "dom0-quick", StorageBytes = 1 * GiB, Dom0DetachDelay = TimeSpan.Zero });
        using var xapi = await XapiTestClient.LoginAsync(quick);
        var vdi = await xapi.CreateVdiAsync("quick", 4 * MiB);

        var export = await TransferProbe.ExportAsync(xapi, ("vdi", vdi), ("format", "vhd"));
        await xapi.WaitForTaskAsync(export.TaskRef!);
        await xapi.CallAsync("VDI.destroy", vdi);

        Assert.That(export.Status, Is.EqualTo(System.Net.HttpStatusCode.OK));
        Assert.That(quick.Database.GetRecord(quick.ControlDomainRef)!["VBDs"]!.AsArray(), Is.Empty);
    }

    [Test]
    public async Task ARunningVmsDisk_CanStillBeExported_ItsDom0AttachIsSeparate()
    {
        // The sharing checks skip system domains (xapi_vbd_helpers.ml:284-323): dom0 reads a disk a guest writes.
        var vm = await SeedVmAsync(UniqueName("running"), "Running", diskBytes: 4 * MiB, dataBytes: 1 * MiB);

        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", vm.VdiRef), ("format", "raw"));
        var task = await Xapi.WaitForTaskAsync(export.TaskRef!);

        Assert.That((string?)task["status"], Is.EqualTo("success"));
        Assert.That(export.Body, Has.Length.EqualTo(4 * MiB));
        Assert.That((await Xapi.FailureAsync("VDI.destroy", vm.VdiRef)).Code, Is.EqualTo("VDI_IN_USE"));
    }
}
