using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// How transfers fail on a real host: an export answers 200 first and fails afterwards, the task
/// failed and xapi's whole HTTP 500 response inside the 200 body (export_raw_vdi.ml:69-120,
/// http_svr.ml:539-563; xen-api issue #4603, detected by Xen Orchestra's vdi.mjs:17-46); an import
/// refusal before the 200 fails the task too (import_raw_vdi.ml:47-170).
/// </summary>
public class TransferErrorShapeTests : SimulatorFixture
{
    protected override SimulatedHostOptions CreateOptions() => new()
    {
        // Thin: room for a VDI above the VHD limit without writing it.
        Name = nameof(TransferErrorShapeTests), StorageBytes = 4096 * GiB, Dom0DetachDelay = TimeSpan.Zero,
    };

    [Test]
    public async Task VhdExportAbove2040GiB_Answers200_ThenTheVdiTooLargePage_AndFailsTheTask()
    {
        var big = await TransferProbe.CreateVdiAsync(Xapi, Host.SrRef, 2041 * GiB, new JsonObject { ["type"] = "raw" });

        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", big), ("format", "vhd"));
        var task = await Xapi.WaitForTaskAsync(export.TaskRef!);
        var page = TransferProbe.Ascii(export.Body);

        Assert.That(export.Status, Is.EqualTo(HttpStatusCode.OK), "the 200 goes out before the size check");
        Assert.That(page, Does.StartWith("HTTP/1.1 500 Internal Error\r\n"));
        Assert.That(page, Does.Contain("content-type: text/html"));
        Assert.That(page, Does.Contain($"Server_error(VDI_TOO_LARGE, [ {big}; {2040 * GiB} ])"));
        Assert.That(TransferProbe.ErrorInfo(task), Is.EqualTo(new[] { "VDI_TOO_LARGE", big, (2040 * GiB).ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        Assert.That(TransferProbe.Dom0Vbds(Host, big), Is.Empty, "it failed before the attach");
    }

    [Test]
    public async Task AnAttachFailure_PutsThe500PageInThe200Body_AsXenOrchestraDocumentsIt()
    {
        var source = await SeedVmAsync(UniqueName("attach-fail"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);
        var detail = $"The VDI is not available [opterr=VDI {source.VdiUuid} not detached cleanly]";
        Host.Faults.FailNext("export_raw_vdi", "SR_BACKEND_FAILURE_46", ["", detail, ""]);

        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", source.VdiRef), ("format", "vhd"));
        var task = await Xapi.WaitForTaskAsync(export.TaskRef!);
        var text = TransferProbe.Ascii(export.Body);

        Assert.That(export.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(text[..5], Is.EqualTo("HTTP/"), "what vdi.mjs checkVdiExport looks for");
        Assert.That(text, Does.Contain("<h1> Additional information </h1>Server_error(SR_BACKEND_FAILURE_46, [ ; " + detail + ";  ])"));
        var length = int.Parse(text.Split("\r\n").Single(l => l.StartsWith("content-length: ", StringComparison.Ordinal))[16..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(export.Body.Length, Is.EqualTo(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4 + length), "the page, then the close");
        Assert.That(TransferProbe.ErrorInfo(task), Is.EqualTo(new[] { "SR_BACKEND_FAILURE_46", "", detail, "" }));
        Assert.That(TransferProbe.Dom0Vbds(Host, source.VdiRef), Is.Empty, "the failed plug's VBD is destroyed");
    }

    [Test]
    public async Task UnknownExportFormat_Is404_AndFailsTheTask()
    {
        var source = await SeedVmAsync(UniqueName("unknown-format"), "Halted", dataBytes: 0);
        var task = await Xapi.CallForStringAsync("task.create", "export", "");

        using var response = await Xapi.Http.GetAsync(Xapi.HandlerUrl("export_raw_vdi", ("vdi", source.VdiRef), ("format", "vmdk"), ("task_id", task)));
        var record = await Xapi.WaitForTaskAsync(task);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(TransferProbe.ErrorInfo(record), Is.EqualTo(new[] { "INTERNAL_ERROR", "Unknown format vmdk" }));
    }

    [Test]
    public async Task ImportIntoAReadOnlyVdi_Answers200_ThenFailsWithVdiReadonly()
    {
        var vdi = (string)(await Xapi.CallAsync("VDI.create", new JsonObject
        {
            ["name_label"] = "read-only", ["SR"] = Host.SrRef, ["virtual_size"] = 4 * MiB, ["type"] = "user",
            ["sharable"] = false, ["read_only"] = true, ["other_config"] = new JsonObject(),
        }))!;

        var (status, task) = await TransferProbe.ImportAsync(Xapi, new byte[4096], ("vdi", vdi), ("format", "raw"));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(TransferProbe.ErrorInfo(task!), Is.EqualTo(new[] { "VDI_READONLY", vdi }), "the RW dom0 VBD cannot be created (xapi_vbd.ml:188-191)");
    }

    [Test]
    public async Task VhdOrQcow2ImportWithoutAVdi_Is400_AndNamesWhy()
    {
        var task1 = await Xapi.CallForStringAsync("task.create", "import", "");
        var task2 = await Xapi.CallForStringAsync("task.create", "import", "");

        var (vhd, _) = await TransferProbe.ImportAsync(Xapi, new byte[512], ("sr_id", Host.SrRef), ("format", "vhd"), ("task_id", task1));
        var (qcow, _) = await TransferProbe.ImportAsync(Xapi, new byte[512], ("sr_id", Host.SrRef), ("format", "qcow2"), ("task_id", task2));

        Assert.That(vhd, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(qcow, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(TransferProbe.ErrorInfo(await Xapi.WaitForTaskAsync(task1)), Is.EqualTo(new[] { "INTERNAL_ERROR", "Importing a VHD directly into an SR not yet supported" }));
        Assert.That(TransferProbe.ErrorInfo(await Xapi.WaitForTaskAsync(task2)), Is.EqualTo(new[] { "INTERNAL_ERROR", "Importing a QCOW2 directly into an SR not yet supported" }));
    }

    [Test]
    public async Task ChunkedWithAVhd_Is404_CannotHandleChunkedVhd()
    {
        var vdi = await Xapi.CreateVdiAsync("chunked vhd", 4 * MiB);
        var task = await Xapi.CallForStringAsync("task.create", "import", "");

        var (status, record) = await TransferProbe.ImportAsync(Xapi, new byte[512], ("vdi", vdi), ("format", "vhd"), ("chunked", "true"), ("task_id", task));

        Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(TransferProbe.ErrorInfo(record!), Is.EqualTo(new[] { "INTERNAL_ERROR", "Cannot handle chunked VHD" }));
    }
}
