using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator.Conformance;

/// <summary>
/// Third-party clients against the simulator's disk transfers: QEMU's <c>qemu-img</c> (Debian
/// qemu-utils) checks every export format (vhd, raw, qcow2) and converts each to the disk's exact
/// bytes, makes a qcow2 the simulator imports, and reads a VDI over NBD; libnbd's <c>nbdinfo</c>
/// and <c>nbdcopy</c> (Debian libnbd-bin) read it over NBD too. Under CI=true a missing tool fails.
/// </summary>
[Category(TestCategories.External)]
public class QemuImgStorageConformanceTests : SimulatorFixture
{
    private string _scratch = null!;
    private string _qemuImg = null!;

    protected override SimulatedHostOptions CreateOptions() => new()
    {
        Name = nameof(QemuImgStorageConformanceTests), StorageBytes = 4 * GiB, Dom0DetachDelay = TimeSpan.Zero,
    };

    [OneTimeSetUp]
    public void Scratch() => _scratch = Directory.CreateTempSubdirectory("storage-conformance-").FullName;

    [OneTimeTearDown]
    public void RemoveScratch()
    {
        if (_scratch is not null) Directory.Delete(_scratch, recursive: true);
    }

    [SetUp]
    public void FindQemuImg()
    {
        var qemuImg = TestEnvironment.FindOnPath("qemu-img");
        TestEnvironment.Require(qemuImg is not null, "qemu-img (Debian qemu-utils)");
        _qemuImg = qemuImg!;
    }

    [TestCase("vhd", "vpc")]
    [TestCase("raw", "raw")]
    [TestCase("qcow2", "qcow2")]
    public async Task QemuImg_ReadsEachExportFormat_AndConvertsItToTheDisksBytes(string format, string qemuFormat)
    {
        var source = await SeedVmAsync(UniqueName($"qemu-{format}"), "Halted", diskBytes: 10 * MiB, dataBytes: 3 * MiB);
        Host.Control.WriteDisk(source.VdiRef, 9 * MiB + 77, Encoding.UTF8.GetBytes("tail block"));
        var image = Path.Combine(_scratch, $"{format}.img");
        var raw = Path.Combine(_scratch, $"{format}.raw");
        await Xapi.ExportToFileAsync(image, ("vdi", source.VdiRef), ("format", format));

        var info = JsonNode.Parse(await TransferProbe.RunAsync(_qemuImg, "info", "--output=json", "-f", qemuFormat, image))!;
        if (format == "qcow2")
        {
            var check = JsonNode.Parse(await TransferProbe.RunAsync(_qemuImg, "check", "--output=json", "-f", "qcow2", image))!;
            Assert.That((long?)check["check-errors"] ?? 0, Is.Zero, check.ToJsonString());
            Assert.That((long?)check["leaks"] ?? 0, Is.Zero, check.ToJsonString());
            Assert.That((long?)check["corruptions"] ?? 0, Is.Zero, check.ToJsonString());
            Assert.That((long)info["cluster-size"]!, Is.EqualTo(65536));
        }

        await TransferProbe.RunAsync(_qemuImg, "convert", "-f", qemuFormat, "-O", "raw", image, raw);

        Assert.That((string?)info["format"], Is.EqualTo(qemuFormat));
        Assert.That((long)info["virtual-size"]!, Is.EqualTo(10 * MiB));
        Assert.That(await Sha256Async(raw), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    [Test]
    public async Task QemuImg_ChecksAQcow2Delta_AndItsClustersAreTheChangedOnes()
    {
        var source = await SeedVmAsync(UniqueName("qemu-qcow-delta"), "Halted", diskBytes: 8 * MiB, dataBytes: 4 * MiB);
        var baseVdi = await TransferProbe.SnapshotAsync(Xapi, source.VdiRef);
        Host.Control.WriteDisk(source.VdiRef, 5 * MiB, Encoding.UTF8.GetBytes("after the base"));
        var delta = Path.Combine(_scratch, "delta.qcow2");
        await Xapi.ExportToFileAsync(delta, ("vdi", source.VdiRef), ("base", baseVdi), ("format", "qcow2"));

        await TransferProbe.RunAsync(_qemuImg, "check", "-f", "qcow2", delta);
        var map = JsonNode.Parse(await TransferProbe.RunAsync(_qemuImg, "map", "--output=json", "-f", "qcow2", delta))!.AsArray();

        var data = map.Where(e => (bool)e!["data"]!).Select(e => ((long)e!["start"]!, (long)e!["length"]!)).ToList();
        Assert.That(data, Is.EqualTo(new[] { (5 * MiB, 65536L) }));
    }

    [Test]
    public async Task AQcow2MadeByQemuImg_ImportsIntoAVdi()
    {
        var source = await SeedVmAsync(UniqueName("qemu-made"), "Halted", diskBytes: 8 * MiB, dataBytes: 5 * MiB);
        var raw = Path.Combine(_scratch, "made.raw");
        var qcow = Path.Combine(_scratch, "made.qcow2");
        await Xapi.ExportToFileAsync(raw, ("vdi", source.VdiRef), ("format", "raw"));
        await TransferProbe.RunAsync(_qemuImg, "convert", "-f", "raw", "-O", "qcow2", raw, qcow);
        var target = await Xapi.CreateVdiAsync("from qemu-img", 8 * MiB);

        var task = await Xapi.ImportFileAsync(qcow, ("vdi", target), ("format", "qcow2"));

        Assert.That((string?)task["status"], Is.EqualTo("success"), task.ToJsonString());
        Assert.That(Host.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    [Test]
    public async Task QemuImg_ReadsAVdiOverNbd_WithTheExportNameFromGetNbdInfo()
    {
        var (source, info) = await NbdExportAsync("qemu-nbd");
        var raw = Path.Combine(_scratch, "nbd.raw");
        // qemu's nbd:// URIs take no query, and xapi's export name has one: give the name as an option.
        var json = new JsonObject
        {
            ["driver"] = "raw",
            ["file"] = new JsonObject
            {
                ["driver"] = "nbd",
                ["server"] = new JsonObject { ["type"] = "inet", ["host"] = (string)info["address"]!, ["port"] = ((long)info["port"]!).ToString(System.Globalization.CultureInfo.InvariantCulture) },
                ["export"] = (string)info["exportname"]!,
            },
        };

        await TransferProbe.RunAsync(_qemuImg, "convert", "-O", "raw", "json:" + json.ToJsonString(), raw);

        Assert.That(await Sha256Async(raw), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
        await TransferProbe.WaitUntilAsync(() => TransferProbe.Dom0Vbds(Host, source.VdiRef).Count == 0, TimeSpan.FromSeconds(5), "the NBD attach to go");
    }

    [Test]
    public async Task Libnbd_NbdinfoAndNbdcopy_ReadAVdiOverNbd()
    {
        var nbdinfo = TestEnvironment.FindOnPath("nbdinfo");
        var nbdcopy = TestEnvironment.FindOnPath("nbdcopy");
        TestEnvironment.Require(nbdinfo is not null && nbdcopy is not null, "nbdinfo and nbdcopy (Debian libnbd-bin)");
        var (source, info) = await NbdExportAsync("libnbd");
        // An NBD URI's export name is its path without the first "/", percent-decoded (xapi's starts with "/").
        var uri = $"nbd://{(string)info["address"]!}:{(long)info["port"]!}/{Uri.EscapeDataString((string)info["exportname"]!)}";
        var raw = Path.Combine(_scratch, "libnbd.raw");

        var described = JsonNode.Parse(await TransferProbe.RunAsync(nbdinfo!, "--json", uri))!;
        await TransferProbe.RunAsync(nbdcopy!, uri, raw);

        var export = described["exports"]![0]!;
        Assert.That((long)export["export-size"]!, Is.EqualTo(6 * MiB));
        Assert.That((bool)export["is_read_only"]!, Is.True);
        Assert.That((string?)described["protocol"], Is.EqualTo("newstyle-fixed"));
        Assert.That(await Sha256Async(raw), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    private async Task<(XenMigrate.XapiSimulator.Control.SeededVm Source, JsonObject Info)> NbdExportAsync(string name)
    {
        await Xapi.CallAsync("network.add_purpose", Host.NetworkRef, "insecure_nbd");
        var source = await SeedVmAsync(UniqueName(name), "Halted", diskBytes: 6 * MiB, dataBytes: 2 * MiB);
        Host.Control.WriteDisk(source.VdiRef, 5 * MiB + 3, Encoding.UTF8.GetBytes("over nbd"));
        var info = (await Xapi.CallAsync("VDI.get_nbd_info", source.VdiRef))!.AsArray().Single()!.AsObject();
        return (source, info);
    }

    private static async Task<string> Sha256Async(string path)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
    }
}
