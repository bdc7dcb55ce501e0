using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// VDI.get_nbd_info (xapi_vdi.ml:1461-1593) and the host's NBD server as xapi-nbd serves it
/// (ocaml/nbd/src/main.ml, xapi-project/nbd lib/server.ml), spoken to byte by byte here; the
/// third-party clients are in Conformance/.
/// </summary>
public class NbdTests : SimulatorFixture
{
    protected override SimulatedHostOptions CreateOptions() => new()
    {
        Name = nameof(NbdTests), StorageBytes = 4 * GiB, Dom0DetachDelay = TimeSpan.Zero,
    };

    [TearDown]
    public async Task RemovePurposes()
    {
        foreach (var network in (await Xapi.CallAsync("network.get_all"))!.AsArray())
        {
            await Xapi.CallAsync("network.remove_purpose", (string)network!, "insecure_nbd");
            await Xapi.CallAsync("network.remove_purpose", (string)network!, "nbd");
        }
    }

    [Test]
    public async Task GetNbdInfo_IsEmptyUntilANetworkHasAnNbdPurpose_ThenNamesTheManagementAddress()
    {
        var vdi = await Xapi.CreateVdiAsync("nbd info", 4 * MiB);
        var none = (await Xapi.CallAsync("VDI.get_nbd_info", vdi))!.AsArray();

        await Xapi.CallAsync("network.add_purpose", Host.NetworkRef, "insecure_nbd");
        var conflicting = await Xapi.FailureAsync("network.add_purpose", Host.NetworkRef, "nbd");
        var infos = (await Xapi.CallAsync("VDI.get_nbd_info", vdi))!.AsArray();
        var uuid = (string)(await Xapi.RecordAsync("VDI", vdi))["uuid"]!;

        Assert.That(none, Is.Empty);
        Assert.That(conflicting.Code, Is.EqualTo("NETWORK_INCOMPATIBLE_PURPOSES"));
        Assert.That(conflicting.Parameters, Is.EqualTo(new[] { "nbd", "insecure_nbd" }));
        Assert.That(infos, Has.Count.EqualTo(1));
        var info = infos[0]!.AsObject();
        Assert.That((string?)info["exportname"], Is.EqualTo($"/{uuid}?session_id={Xapi.Session}"));
        Assert.That((string?)info["address"], Is.EqualTo(Host.Address));
        Assert.That((long)info["port"]!, Is.EqualTo(Host.NbdPort));
        Assert.That((string?)info["cert"], Does.StartWith("-----BEGIN CERTIFICATE-----"));
        Assert.That((string?)info["subject"], Is.EqualTo(Host.Name));
    }

    [Test]
    public async Task FixedNewstyle_ExportName_ThenReads_AndAReadOnlyDom0Attach()
    {
        await Xapi.CallAsync("network.add_purpose", Host.NetworkRef, "insecure_nbd");
        var vm = await SeedVmAsync(UniqueName("nbd-read"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);
        var export = (string)(await Xapi.CallAsync("VDI.get_nbd_info", vm.VdiRef))!.AsArray()[0]!["exportname"]!;
        using var socket = await TransferProbe.ConnectAsync(Host.Address, Host.NbdPort);
        await using var nbd = new NetworkStream(socket);

        var greeting = await ReadAsync(nbd, 18);
        await WriteAsync(nbd, U32(1)); // client: fixed newstyle
        await WriteAsync(nbd, Option(1, Encoding.UTF8.GetBytes(export)));
        var info = await ReadAsync(nbd, 8 + 2 + 124);
        var dom0 = TransferProbe.Dom0Vbds(Host, vm.VdiRef);

        await WriteAsync(nbd, Request(0, 7, 0, 1024 * 1024));
        var reply = await ReadAsync(nbd, 16);
        var data = await ReadAsync(nbd, 1024 * 1024);
        await WriteAsync(nbd, Request(1, 8, 0, 512));
        var write = await ReadAsync(nbd, 16);
        await WriteAsync(nbd, Request(0, 9, 100, 512));

        Assert.That(Encoding.ASCII.GetString(greeting, 0, 16), Is.EqualTo("NBDMAGICIHAVEOPT"));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16)), Is.EqualTo(1), "fixed newstyle, no NO_ZEROES");
        Assert.That(BinaryPrimitives.ReadUInt64BigEndian(info), Is.EqualTo(4 * (ulong)MiB));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(info.AsSpan(8)), Is.EqualTo(3), "HAS_FLAGS | READ_ONLY");
        Assert.That(dom0, Is.EqualTo(new[] { (dom0.Single().Uuid, "RO", true) }));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(reply), Is.EqualTo(0x67446698));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)), Is.Zero);
        Assert.That(BinaryPrimitives.ReadUInt64BigEndian(reply.AsSpan(8)), Is.EqualTo(7));
        Assert.That(Convert.ToHexStringLower(SHA256.HashData(data)), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(ReadDisk(vm.VdiRef, 1024 * 1024)))));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(write.AsSpan(4)), Is.EqualTo(1), "EPERM");
        var unaligned = await ReadAsync(nbd, 16);
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(unaligned.AsSpan(4)), Is.EqualTo(22), "EINVAL");

        await WriteAsync(nbd, Request(2, 10, 0, 0)); // NBD_CMD_DISC
        await TransferProbe.WaitUntilAsync(() => TransferProbe.Dom0Vbds(Host, vm.VdiRef).Count == 0, TimeSpan.FromSeconds(5), "the detach");
    }

    [Test]
    public async Task Go_WithStructuredReplies_AndUnsupportedOptions()
    {
        await Xapi.CallAsync("network.add_purpose", Host.NetworkRef, "insecure_nbd");
        var vm = await SeedVmAsync(UniqueName("nbd-go"), "Halted", diskBytes: 2 * MiB, dataBytes: 1 * MiB);
        var export = (string)(await Xapi.CallAsync("VDI.get_nbd_info", vm.VdiRef))!.AsArray()[0]!["exportname"]!;
        using var socket = await TransferProbe.ConnectAsync(Host.Address, Host.NbdPort);
        await using var nbd = new NetworkStream(socket);
        await ReadAsync(nbd, 18);
        await WriteAsync(nbd, U32(1));

        await WriteAsync(nbd, Option(3, [])); // LIST: no exports offered
        var list = await ReadReplyAsync(nbd);
        await WriteAsync(nbd, Option(5, [])); // STARTTLS without TLS: policy
        var starttls = await ReadReplyAsync(nbd);
        await WriteAsync(nbd, Option(10, [])); // SET_META_CONTEXT: unsupported
        var meta = await ReadReplyAsync(nbd);
        await WriteAsync(nbd, Option(8, [])); // STRUCTURED_REPLY
        var structured = await ReadReplyAsync(nbd);
        var name = Encoding.UTF8.GetBytes(export);
        await WriteAsync(nbd, Option(7, [.. U32((uint)name.Length), .. name, 0, 0]));
        var infoReply = await ReadReplyAsync(nbd);
        var ack = await ReadReplyAsync(nbd);
        await WriteAsync(nbd, Request(0, 42, 4096, 4096));
        var chunk = await ReadAsync(nbd, 20 + 8);
        var data = await ReadAsync(nbd, 4096);

        Assert.That(list.Type, Is.EqualTo(0x80000002u));
        Assert.That(starttls.Type, Is.EqualTo(0x80000002u));
        Assert.That(meta.Type, Is.EqualTo(0x80000001u));
        Assert.That(structured.Type, Is.EqualTo(1u));
        Assert.That(infoReply.Type, Is.EqualTo(3u));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(infoReply.Data), Is.Zero, "NBD_INFO_EXPORT");
        Assert.That(BinaryPrimitives.ReadUInt64BigEndian(infoReply.Data.AsSpan(2)), Is.EqualTo(2 * (ulong)MiB));
        Assert.That(ack.Type, Is.EqualTo(1u));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(chunk), Is.EqualTo(0x668e33ef));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(chunk.AsSpan(6)), Is.EqualTo(1), "OFFSET_DATA");
        Assert.That(BinaryPrimitives.ReadUInt64BigEndian(chunk.AsSpan(20)), Is.EqualTo(4096));
        Assert.That(data, Is.EqualTo(ReadDisk(vm.VdiRef, 8192)[4096..]));
    }

    [TestCase("no-purpose")]
    [TestCase("bad-session")]
    [TestCase("tls")]
    public async Task TheServerCloses_WithoutAPurpose_AValidSession_OrTlsItCannotDo(string situation)
    {
        if (situation != "no-purpose") await Xapi.CallAsync("network.add_purpose", Host.NetworkRef, situation == "tls" ? "nbd" : "insecure_nbd");
        var vdi = await Xapi.CreateVdiAsync("closing", 2 * MiB);
        var uuid = (string)(await Xapi.RecordAsync("VDI", vdi))["uuid"]!;
        using var socket = await TransferProbe.ConnectAsync(Host.Address, Host.NbdPort);
        await using var nbd = new NetworkStream(socket);

        var received = new List<byte>();
        try
        {
            var greeting = await ReadAsync(nbd, 18);
            received.AddRange(greeting);
            await WriteAsync(nbd, U32(1));
            if (situation == "tls")
            {
                await WriteAsync(nbd, Option(8, []));
                var refused = await ReadReplyAsync(nbd);
                Assert.That(refused.Type, Is.EqualTo(0x80000005u), "NBD_REP_ERR_TLS_REQD");
            }

            await WriteAsync(nbd, Option(1, Encoding.UTF8.GetBytes($"/{uuid}?session_id=OpaqueRef:not-a-session")));
            var buffer = new byte[256];
            while (await nbd.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5)) is var n and > 0) received.AddRange(buffer[..n]);
        }
        catch (IOException)
        {
            // Reset: closed too.
        }

        Assert.That(received.Count, Is.LessThanOrEqualTo(18), "no export information, only the close");
    }

    /// <summary>The disk's first bytes through a raw export (another path to the same bytes).</summary>
    private byte[] ReadDisk(string vdi, int length) =>
        TransferProbe.ExportAsync(Xapi, ("vdi", vdi), ("format", "raw")).GetAwaiter().GetResult().Body[..length];

    private static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Option(uint option, byte[] data)
    {
        var bytes = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, 0x49484156454F5054UL);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), (uint)data.Length);
        data.CopyTo(bytes, 16);
        return bytes;
    }

    private static byte[] Request(ushort type, ulong handle, ulong offset, uint length)
    {
        var bytes = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, 0x25609513);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), handle);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(24), length);
        return bytes;
    }

    private static async Task<(uint Option, uint Type, byte[] Data)> ReadReplyAsync(NetworkStream stream)
    {
        var header = await ReadAsync(stream, 20);
        Assert.That(BinaryPrimitives.ReadUInt64BigEndian(header), Is.EqualTo(0x3e889045565a9UL));
        var data = await ReadAsync(stream, (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16)));
        return (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12)), data);
    }

    private static async Task<byte[]> ReadAsync(NetworkStream stream, int count)
    {
        var bytes = new byte[count];
        await stream.ReadExactlyAsync(bytes).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return bytes;
    }

    private static Task WriteAsync(NetworkStream stream, byte[] bytes) => stream.WriteAsync(bytes).AsTask();
}
