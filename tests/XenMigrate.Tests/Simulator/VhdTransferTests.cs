using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// Disk transfers between two simulated hosts over export_raw_vdi / import_raw_vdi
/// (export_raw_vdi.ml, import_raw_vdi.ml, the VHD format), and the VHD streams checked by qemu-img.
/// </summary>
public class VhdTransferTests : SimulatorFixture
{
    private SimulatedHost _hostB = null!;
    private XapiTestClient _xapiB = null!;
    private string _scratch = null!;

    [OneTimeSetUp]
    public async Task StartSecondHost()
    {
        _hostB = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "transfer-b", StorageBytes = 4 * GiB });
        _xapiB = await XapiTestClient.LoginAsync(_hostB);
        _scratch = Directory.CreateTempSubdirectory("vhd-transfer-").FullName;
    }

    [OneTimeTearDown]
    public async Task StopSecondHost()
    {
        _xapiB?.Dispose();
        if (_hostB is not null) await _hostB.DisposeAsync();
        if (_scratch is not null) Directory.Delete(_scratch, recursive: true);
    }

    [Test]
    public async Task FullThenDeltaExport_ImportedOnAnotherHost_GiveEqualDisks()
    {
        var source = await SeedVmAsync(UniqueName("migrate"), diskBytes: 8 * MiB, dataBytes: 3 * MiB);
        var snap1Vdi = await SnapshotDiskAsync(source.VmRef, "gw-1");
        var target = await _xapiB.CreateVdiAsync("replica", 8 * MiB);

        var full = Path.Combine(_scratch, "full.vhd");
        await Xapi.ExportToFileAsync(full, ("vdi", snap1Vdi), ("format", "vhd"));
        var fullImport = await _xapiB.ImportFileAsync(full, ("vdi", target), ("format", "vhd"));

        Assert.That((string?)fullImport["status"], Is.EqualTo("success"), fullImport.ToJsonString());
        Assert.That((string?)fullImport["result"], Is.EqualTo($"<value>{target}</value>"));
        Assert.That(_hostB.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(snap1Vdi)));

        // The VM keeps writing; a second snapshot's delta over the first brings B up to date.
        Host.Control.WriteVmDisk(source.VmRef, 5 * MiB + 123, Encoding.UTF8.GetBytes("changed while running"));
        var snap2Vdi = await SnapshotDiskAsync(source.VmRef, "gw-2");
        var delta = Path.Combine(_scratch, "delta.vhd");
        await Xapi.ExportToFileAsync(delta, ("vdi", snap2Vdi), ("base", snap1Vdi), ("format", "vhd"));
        var deltaImport = await _xapiB.ImportFileAsync(delta, ("vdi", target), ("format", "vhd"));

        Assert.That((string?)deltaImport["status"], Is.EqualTo("success"), deltaImport.ToJsonString());
        Assert.That(_hostB.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(snap2Vdi)));
        Assert.That(new FileInfo(delta).Length, Is.LessThan(new FileInfo(full).Length));

        // The final pass of a cutover: the halted source's own VDI over the last snapshot.
        await Xapi.CallAsync("VM.hard_shutdown", source.VmRef);
        Host.Control.WriteVmDisk(source.VmRef, 7 * MiB, Encoding.UTF8.GetBytes("last words"));
        var last = Path.Combine(_scratch, "last.vhd");
        await Xapi.ExportToFileAsync(last, ("vdi", source.VdiRef), ("base", snap2Vdi), ("format", "vhd"));
        await _xapiB.ImportFileAsync(last, ("vdi", target), ("format", "vhd"));

        Assert.That(_hostB.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    [Test]
    public async Task DifferencingExport_CarriesExactlyTheChangedBlocks()
    {
        var source = await SeedVmAsync(UniqueName("diff"), diskBytes: 8 * MiB, dataBytes: 6 * MiB);
        var snap1Vdi = await SnapshotDiskAsync(source.VmRef, "base");
        Host.Control.WriteVmDisk(source.VmRef, 2 * MiB + 512, new byte[] { 1, 2, 3 });
        var snap2Vdi = await SnapshotDiskAsync(source.VmRef, "next");

        var full = await ReadVhdAsync(await ExportBytesAsync(("vdi", snap1Vdi), ("format", "vhd")));
        var delta = await ReadVhdAsync(await ExportBytesAsync(("vdi", snap2Vdi), ("base", snap1Vdi), ("format", "vhd")));
        var nothing = await ReadVhdAsync(await ExportBytesAsync(("vdi", snap2Vdi), ("base", snap2Vdi), ("format", "vhd")));

        Assert.That(full.Footer.DiskType, Is.EqualTo(VhdDiskType.Dynamic));
        Assert.That(full.Blocks, Is.EqualTo(new long[] { 0, 1, 2 }), "6 MiB of data fill blocks 0-2");
        Assert.That(delta.Footer.DiskType, Is.EqualTo(VhdDiskType.Differencing));
        Assert.That(delta.Blocks, Is.EqualTo(new long[] { 1 }), "only the block written since the base");
        Assert.That(delta.Header.ParentUniqueId, Is.EqualTo(full.Footer.UniqueId), "the parent is the base's own VHD");
        Assert.That(delta.Header.Locators, Has.Count.EqualTo(1));
        Assert.That(delta.Header.Locators![0].DataOffset, Is.EqualTo(VhdLayout.StreamLocatorOffset));
        Assert.That(nothing.Blocks, Is.Empty);
    }

    [Test]
    public async Task VhdStream_HasXapisLayout_AndAKnowableLength()
    {
        var source = await SeedVmAsync(UniqueName("layout"), "Halted", diskBytes: 8 * MiB, dataBytes: 3 * MiB);

        var stream = await ExportBytesAsync(("vdi", source.VdiRef), ("format", "vhd"));
        var footer = VhdFooter.Parse(stream.AsSpan(0, 512));
        var header = VhdDynamicHeader.Parse(stream.AsSpan(512, 1024));

        Assert.That(VhdFooter.Parse(stream.AsSpan(stream.Length - 512)), Is.EqualTo(footer), "footer copy at 0 and footer at the end");
        Assert.That(footer.DataOffset, Is.EqualTo(512));
        Assert.That(footer.CurrentSize, Is.EqualTo(8 * MiB));
        Assert.That(footer.Geometry, Is.EqualTo(VhdGeometry.FromSize(8 * MiB)));
        Assert.That(stream.AsSpan(1536, 512).ContainsAnyExcept((byte)0), Is.False, "zero sector at 1536");
        Assert.That(header.TableOffset, Is.EqualTo(2048));
        Assert.That(header.BlockSize, Is.EqualTo(2 * MiB));
        Assert.That(header.MaxTableEntries, Is.EqualTo(4));
        var used = Enumerable.Range(0, 4).Count(i => BinaryPrimitives.ReadUInt32BigEndian(stream.AsSpan(2048 + i * 4)) != 0xFFFFFFFF);
        // Xen Orchestra's formula: table_offset + roundup512(4·entries) + used·(512 + block_size) + 512.
        Assert.That(stream.Length, Is.EqualTo(2048 + 512 + used * (512 + 2 * MiB) + 512));
        var firstBlock = BinaryPrimitives.ReadUInt32BigEndian(stream.AsSpan(2048)) * 512L;
        Assert.That(stream.AsSpan((int)firstBlock, 512).ContainsAnyExcept((byte)0xFF), Is.False, "all-ones sector bitmap");
    }

    [Category(TestCategories.External)]
    [Test]
    public async Task QemuImg_ReadsTheVhdStream_AndConvertsItToTheSameBytes()
    {
        var qemuImg = File.Exists("/usr/bin/qemu-img") ? "/usr/bin/qemu-img" : TestEnvironment.FindOnPath("qemu-img");
        TestEnvironment.Require(qemuImg is not null, "qemu-img (Debian qemu-utils)");
        var source = await SeedVmAsync(UniqueName("qemu"), "Halted", diskBytes: 10 * MiB, dataBytes: 3 * MiB);
        Host.Control.WriteDisk(source.VdiRef, 9 * MiB, Encoding.UTF8.GetBytes("tail block"));
        var vhd = Path.Combine(_scratch, "qemu.vhd");
        var raw = Path.Combine(_scratch, "qemu.raw");
        await Xapi.ExportToFileAsync(vhd, ("vdi", source.VdiRef), ("format", "vhd"));

        var info = JsonNode.Parse(await RunAsync(qemuImg!, "info", "--output=json", "-f", "vpc", vhd))!;
        await RunAsync(qemuImg!, "convert", "-f", "vpc", "-O", "raw", vhd, raw);

        Assert.That((string?)info["format"], Is.EqualTo("vpc"));
        Assert.That((long)info["virtual-size"]!, Is.EqualTo(10 * MiB));
        Assert.That(new FileInfo(raw).Length, Is.EqualTo(10 * MiB));
        await using (var converted = File.OpenRead(raw))
            Assert.That(Convert.ToHexStringLower(await SHA256.HashDataAsync(converted)), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));

        // A differencing stream is well-formed too (qemu reads it without its parent).
        var baseVdi = await Xapi.CallForStringAsync("VDI.snapshot", source.VdiRef, new JsonObject());
        Host.Control.WriteDisk(source.VdiRef, 4 * MiB, Encoding.UTF8.GetBytes("after the base"));
        var delta = Path.Combine(_scratch, "qemu-delta.vhd");
        await Xapi.ExportToFileAsync(delta, ("vdi", source.VdiRef), ("base", baseVdi), ("format", "vhd"));
        var deltaInfo = JsonNode.Parse(await RunAsync(qemuImg!, "info", "--output=json", "-f", "vpc", delta))!;
        Assert.That((long)deltaInfo["virtual-size"]!, Is.EqualTo(10 * MiB));
    }

    [Test]
    public async Task StreamingFromHostToHost_WithTheLengthReadFromTheHeaders()
    {
        var source = await SeedVmAsync(UniqueName("pipe"), "Halted", diskBytes: 8 * MiB, dataBytes: 5 * MiB);
        var target = await _xapiB.CreateVdiAsync("piped", 8 * MiB);

        using var export = await Xapi.Http.GetAsync(Xapi.HandlerUrl("export_raw_vdi", ("vdi", source.VdiRef), ("format", "vhd")), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await export.Content.ReadAsStreamAsync();
        var preamble = new byte[2048];
        await body.ReadExactlyAsync(preamble);
        var header = VhdDynamicHeader.Parse(preamble.AsSpan(512, 1024));
        var bat = new byte[(4 * header.MaxTableEntries + 511) / 512 * 512];
        await body.ReadExactlyAsync(bat);
        var used = Enumerable.Range(0, (int)header.MaxTableEntries).Count(i => BinaryPrimitives.ReadUInt32BigEndian(bat.AsSpan(i * 4)) != 0xFFFFFFFF);
        var length = header.TableOffset + bat.Length + used * (512L + header.BlockSize) + 512;

        using var content = new StreamContent(new ConcatStream(preamble.Concat(bat).ToArray(), body));
        content.Headers.ContentLength = length;
        using var import = await _xapiB.Http.PutAsync(_xapiB.HandlerUrl("import_raw_vdi", ("vdi", target), ("format", "vhd")), content);
        var task = await _xapiB.WaitForTaskAsync(import.Headers.GetValues("task-id").Single());

        Assert.That((string?)task["status"], Is.EqualTo("success"), task.ToJsonString());
        Assert.That(_hostB.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
    }

    [Test]
    public async Task RawExportAndImport_MoveTheWholeDisk()
    {
        var source = await SeedVmAsync(UniqueName("raw"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);
        var target = await _xapiB.CreateVdiAsync("raw copy", 4 * MiB);
        var raw = Path.Combine(_scratch, "disk.raw");

        await Xapi.ExportToFileAsync(raw, ("vdi", source.VdiUuid), ("format", "raw"));
        var task = await _xapiB.ImportFileAsync(raw, ("vdi", target), ("format", "raw"));

        Assert.That(new FileInfo(raw).Length, Is.EqualTo(4 * MiB));
        Assert.That((string?)task["status"], Is.EqualTo("success"));
        Assert.That(_hostB.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(source.VdiRef)));
        Assert.That((long)(await _xapiB.CallAsync("VDI.get_physical_utilisation", target))!, Is.EqualTo(2 * MiB),
            "zero blocks are not written: the copy stays sparse");
    }

    [Test]
    public async Task VhdImport_WritesOnlyTheSectorsPresentInTheBitmap()
    {
        var target = await _xapiB.CreateVdiAsync("partial", 4 * MiB);
        var before = new byte[4 * MiB];
        Array.Fill(before, (byte)0xAB);
        _hostB.Control.WriteDisk(target, 0, before);
        // A differencing VHD whose block 1 has only sectors 0 and 3 present.
        var payload = new byte[2 * MiB];
        Array.Fill(payload, (byte)0x11);
        var bitmap = new byte[512];
        bitmap[0] = 0b1001_0000;
        var vhd = BuildVhd(VhdDiskType.Differencing, 4 * MiB, (1, bitmap, payload));
        var file = Path.Combine(_scratch, "partial.vhd");
        await File.WriteAllBytesAsync(file, vhd);

        var task = await _xapiB.ImportFileAsync(file, ("vdi", target), ("format", "vhd"));

        Assert.That((string?)task["status"], Is.EqualTo("success"), task.ToJsonString());
        var expected = before.ToArray();
        Array.Fill(expected, (byte)0x11, 2 * (int)MiB, 512);
        Array.Fill(expected, (byte)0x11, 2 * (int)MiB + 3 * 512, 512);
        Assert.That(_hostB.Control.GetDiskSha256(target), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(expected))));
    }

    [Test]
    public async Task CorruptVhd_FailsTheImportTask()
    {
        var target = await _xapiB.CreateVdiAsync("corrupt", 4 * MiB);
        var vhd = BuildVhd(VhdDiskType.Dynamic, 4 * MiB);
        vhd[70] ^= 0xFF; // breaks the footer checksum
        var file = Path.Combine(_scratch, "corrupt.vhd");
        await File.WriteAllBytesAsync(file, vhd);

        var task = await _xapiB.ImportFileAsync(file, ("vdi", target), ("format", "vhd"));

        Assert.That((string?)task["status"], Is.EqualTo("failure"));
        Assert.That((string?)task["error_info"]![0], Is.EqualTo("VDI_IO_ERROR"));
    }

    [Test]
    public async Task Export_HasNoContentLength_AndTheBodyEndsAtClose()
    {
        var source = await SeedVmAsync(UniqueName("framing"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);
        using var socket = await ConnectAsync(Host);
        await using var stream = new NetworkStream(socket);

        await SendAsync(stream, $"GET /export_raw_vdi?session_id={Xapi.Session}&vdi={source.VdiRef}&format=raw HTTP/1.1\r\nHost: x\r\n\r\n");
        var head = await ReadHeadAsync(stream);
        var received = 0L;
        var buffer = new byte[65536];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0) received += n;

        Assert.That(head, Does.StartWith("HTTP/1.1 200"));
        Assert.That(head, Does.Contain("task-id: OpaqueRef:"));
        Assert.That(head, Does.Contain("Content-Disposition: attachment; filename=\"" + source.VdiUuid + ".raw\""));
        Assert.That(head.ToLowerInvariant(), Does.Not.Contain("content-length").And.Not.Contain("chunked"));
        Assert.That(received, Is.EqualTo(4 * MiB), "exactly the disk, then the connection closed");
    }

    [Test]
    public async Task Import_Answers200WithTheTask_BeforeReadingTheBody()
    {
        var target = await _xapiB.CreateVdiAsync("early answer", 4 * MiB);
        var raw = new byte[1 * MiB];
        Array.Fill(raw, (byte)7);
        using var socket = await ConnectAsync(_hostB);
        await using var stream = new NetworkStream(socket);

        await SendAsync(stream, $"PUT /import_raw_vdi?session_id={_xapiB.Session}&vdi={target}&format=raw HTTP/1.1\r\nHost: x\r\nContent-Length: {raw.Length}\r\n\r\n");
        var head = await ReadHeadAsync(stream).WaitAsync(TimeSpan.FromSeconds(5));
        var taskRef = head.Split("\r\n").Single(l => l.StartsWith("task-id:", StringComparison.Ordinal))["task-id:".Length..].Trim();
        Assert.That(head, Does.StartWith("HTTP/1.1 200"));
        Assert.That(await _xapiB.CallForStringAsync("task.get_status", taskRef), Is.EqualTo("pending"), "nothing sent yet");

        await stream.WriteAsync(raw);
        var task = await _xapiB.WaitForTaskAsync(taskRef);

        Assert.That((string?)task["status"], Is.EqualTo("success"));
        Assert.That((string?)task["result"], Is.EqualTo($"<value>{target}</value>"));
        var expected = new byte[4 * MiB];
        raw.CopyTo(expected, 0);
        Assert.That(_hostB.Control.GetDiskSha256(target), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(expected))));
    }

    [Test]
    public async Task Import_WithTransferEncoding_Is404_AndFailsTheTask()
    {
        // import_raw_vdi.ml:96-107: any Transfer-Encoding answers 404 and fails the task with "Cannot handle encoding".
        var target = await _xapiB.CreateVdiAsync("framing rules", 4 * MiB);
        var task = await _xapiB.CallForStringAsync("task.create", "import", "");
        var url = _xapiB.HandlerUrl("import_raw_vdi", ("vdi", target), ("format", "raw"), ("task_id", task));

        using var chunkedContent = new StreamContent(new MemoryStream(new byte[1024]));
        using var chunkedRequest = new HttpRequestMessage(HttpMethod.Put, url) { Content = chunkedContent };
        chunkedRequest.Headers.TransferEncodingChunked = true;
        using var chunked = await _xapiB.Http.SendAsync(chunkedRequest);
        var record = await _xapiB.WaitForTaskAsync(task);

        using var socket = await ConnectAsync(_hostB);
        await using var stream = new NetworkStream(socket);
        await SendAsync(stream, $"PUT /import_raw_vdi?session_id={_xapiB.Session}&vdi={target}&format=raw HTTP/1.1\r\nHost: x\r\n\r\n");
        var noLength = await ReadHeadAsync(stream);

        Assert.That(chunked.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string?)record["status"], Is.EqualTo("failure"));
        Assert.That(record["error_info"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "INTERNAL_ERROR", "Cannot handle encoding: chunked" }));
        Assert.That(noLength, Does.StartWith("HTTP/1.1 411"), "without a length (not modelled: xapi would read to the close)");
    }

    [Test]
    public async Task UnknownFormat_Is404_AndNoSessionIs401()
    {
        var source = await SeedVmAsync(UniqueName("errors"), "Halted", dataBytes: 0);

        using var tar = await Xapi.Http.GetAsync(Xapi.HandlerUrl("export_raw_vdi", ("vdi", source.VdiRef), ("format", "qcow9")));
        using var noVdi = await Xapi.Http.GetAsync(Xapi.HandlerUrl("export_raw_vdi", ("vdi", "OpaqueRef:none"), ("format", "raw")));
        using var anonymous = await Xapi.Http.GetAsync($"/export_raw_vdi?vdi={source.VdiRef}&format=raw");
        using var badImport = await Xapi.Http.PutAsync(Xapi.HandlerUrl("import_raw_vdi", ("vdi", source.VdiRef), ("format", "qcow9")), new ByteArrayContent([1]));

        Assert.That(tar.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(noVdi.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(badImport.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task Export_AcceptsBasicCredentials_AndAClientTask()
    {
        var source = await SeedVmAsync(UniqueName("basic"), "Halted", diskBytes: 4 * MiB, dataBytes: 0);
        var task = await Xapi.CallForStringAsync("task.create", "export", "");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/export_raw_vdi?vdi={source.VdiUuid}&format=vhd&task_id={task}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Host.Username}:{Host.Password}")));

        using var response = await Xapi.Http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.GetValues("task-id").Single(), Is.EqualTo(task));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/vhd"));
        Assert.That(body.Length, Is.EqualTo(2048 + 512 + 512), "an empty disk: preamble and footer only");
        Assert.That((string?)(await Xapi.WaitForTaskAsync(task))["status"], Is.EqualTo("success"));
    }

    private async Task<string> SnapshotDiskAsync(string vm, string name)
    {
        var snapshot = await Xapi.CallForStringAsync("VM.snapshot", vm, name);
        var vbd = (string)(await Xapi.RecordAsync("VM", snapshot))["VBDs"]![0]!;
        return (string)(await Xapi.RecordAsync("VBD", vbd))["VDI"]!;
    }

    private async Task<byte[]> ExportBytesAsync(params (string Key, string Value)[] query)
    {
        using var response = await Xapi.Http.GetAsync(Xapi.HandlerUrl("export_raw_vdi", query));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return await response.Content.ReadAsByteArrayAsync();
    }

    private sealed record ParsedVhd(VhdFooter Footer, VhdDynamicHeader Header, IReadOnlyList<long> Blocks);

    private static Task<ParsedVhd> ReadVhdAsync(byte[] stream)
    {
        var footer = VhdFooter.Parse(stream.AsSpan(0, 512));
        var header = VhdDynamicHeader.Parse(stream.AsSpan(512, 1024));
        var blocks = Enumerable.Range(0, (int)header.MaxTableEntries)
            .Where(i => BinaryPrimitives.ReadUInt32BigEndian(stream.AsSpan((int)header.TableOffset + i * 4)) != 0xFFFFFFFF)
            .Select(i => (long)i).ToList();
        return Task.FromResult(new ParsedVhd(footer, header, blocks));
    }

    /// <summary>A VHD stream laid out as xapi sends it, with hand-made blocks (index, bitmap, data).</summary>
    private static byte[] BuildVhd(VhdDiskType type, long size, params (int Block, byte[] Bitmap, byte[] Data)[] blocks)
    {
        var entries = (uint)((size + 2 * MiB - 1) / (2 * MiB));
        using var vhd = new MemoryStream();
        var footer = new VhdFooter(type, size, Guid.NewGuid(), VhdLayout.Timestamp(DateTimeOffset.UtcNow)).ToBytes();
        vhd.Write(footer);
        vhd.Write(new VhdDynamicHeader(2048, entries, 2 * 1024 * 1024, type == VhdDiskType.Differencing ? Guid.NewGuid() : Guid.Empty).ToBytes());
        vhd.Write(new byte[512]);
        var bat = new byte[(entries * 4 + 511) / 512 * 512];
        bat.AsSpan().Fill(0xFF);
        var sector = (2048 + bat.Length) / 512;
        foreach (var (block, _, _) in blocks)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bat.AsSpan(block * 4), (uint)sector);
            sector += (512 + 2 * 1024 * 1024) / 512;
        }

        vhd.Write(bat);
        foreach (var (_, bitmap, data) in blocks)
        {
            vhd.Write(bitmap);
            vhd.Write(data);
        }

        vhd.Write(footer);
        return vhd.ToArray();
    }

    private static async Task<Socket> ConnectAsync(SimulatedHost host)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, host.Port);
        return socket;
    }

    private static Task SendAsync(Stream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    /// <summary>Reads a response's status line and headers, byte by byte, up to the blank line.</summary>
    private static async Task<string> ReadHeadAsync(Stream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) break;
            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.That(process.ExitCode, Is.Zero, $"{program} {string.Join(' ', arguments)}: {await error}");
        return await output;
    }

    /// <summary>Bytes already read, then the rest of a stream (a proxy that peeked at the VHD headers).</summary>
    private sealed class ConcatStream(byte[] head, Stream tail) : Stream
    {
        private int _headPosition;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_headPosition < head.Length)
            {
                var n = Math.Min(buffer.Length, head.Length - _headPosition);
                head.AsMemory(_headPosition, n).CopyTo(buffer);
                _headPosition += n;
                return n;
            }

            return await tail.ReadAsync(buffer, cancellationToken);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
