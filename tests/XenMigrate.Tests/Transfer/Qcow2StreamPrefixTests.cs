using System.Buffers.Binary;
using System.Text;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Tests.Simulator;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Transfer;

/// <summary>
/// The gateway's reading of a qcow2 export's start (its length comes from the refcount blocks),
/// against streams the simulator writes in qcow2-to-stdout's layout, and streams that are not.
/// </summary>
public class Qcow2StreamPrefixTests : SimulatorFixture
{
    protected override SimulatedHostOptions CreateOptions() => new() { Name = nameof(Qcow2StreamPrefixTests), StorageBytes = 4096 * GiB, Dom0DetachDelay = TimeSpan.Zero };

    [Test]
    public async Task TheLengthFromTheRefcounts_IsTheWholeStream()
    {
        var vm = await SeedVmAsync(UniqueName("q-len"), "Halted", diskBytes: 8 * MiB, dataBytes: 3 * MiB);
        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", vm.VdiRef), ("format", "qcow2"));

        var prefix = await Qcow2StreamPrefix.ReadAsync(new MemoryStream(export.Body), differencing: false, CancellationToken.None);

        Assert.That(prefix.StreamLength, Is.EqualTo(export.Body.Length));
        Assert.That(prefix.VirtualSize, Is.EqualTo(8 * MiB));
        Assert.That(prefix.BlockSize, Is.EqualTo(65536));
        Assert.That(prefix.Bytes.ToArray(), Is.EqualTo(export.Body[..prefix.Bytes.Length]), "the bytes read are the stream's start, sent on first");
    }

    [Test]
    public async Task ADiskAboveVhdsLimit_GivesAShortStream()
    {
        var big = await TransferProbe.CreateVdiAsync(Xapi, Host.SrRef, 3072 * GiB, new System.Text.Json.Nodes.JsonObject { ["image-format"] = "qcow2" });
        Host.Control.WriteDisk(big, 3000 * GiB, Encoding.UTF8.GetBytes("far out"));
        var export = await TransferProbe.ExportAsync(Xapi, ("vdi", big), ("format", "qcow2"));

        var prefix = await Qcow2StreamPrefix.ReadAsync(new MemoryStream(export.Body), differencing: false, CancellationToken.None);

        Assert.That(prefix.StreamLength, Is.EqualTo(export.Body.Length));
        Assert.That(prefix.VirtualSize, Is.EqualTo(3072 * GiB));
    }

    [Test]
    public async Task WhatIsNotQcow2ToStdoutsLayout_IsRefused()
    {
        var vm = await SeedVmAsync(UniqueName("q-bad"), "Halted", diskBytes: 8 * MiB, dataBytes: 1 * MiB);
        var good = (await TransferProbe.ExportAsync(Xapi, ("vdi", vm.VdiRef), ("format", "qcow2"))).Body;

        Assert.That(await Refusal(Encoding.ASCII.GetBytes("HTTP/1.1 500 Internal Error\r\n\r\nSR_BACKEND_FAILURE_46")), Does.Contain("error page").And.Contain("SR_BACKEND_FAILURE_46"));
        Assert.That(await Refusal(good[..50]), Does.Contain("inside its header"));
        Assert.That(await Refusal(Mutate(good, 0, 0x12345678)), Does.Contain("magic"));
        Assert.That(await Refusal(good[..(65536 + 100)]), Does.Contain("refcount"));

        // A gap in the refcounts: cluster 2 unused, cluster 3 counted.
        var gap = (byte[])good.Clone();
        var blocks = (int)BinaryPrimitives.ReadUInt64BigEndian(gap.AsSpan(65536));
        BinaryPrimitives.WriteUInt16BigEndian(gap.AsSpan(blocks + 4), 0);
        Assert.That(await Refusal(gap), Does.Contain("after a gap"));

        var twice = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(twice.AsSpan(blocks + 2), 2);
        Assert.That(await Refusal(twice), Does.Contain("refcount 2"));
    }

    private static byte[] Mutate(byte[] stream, int offset, uint value)
    {
        var copy = (byte[])stream.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(offset), value);
        return copy;
    }

    private static async Task<string> Refusal(byte[] stream)
    {
        var e = await Assert.ThrowsAsync<InvalidExportStreamException>(() => Qcow2StreamPrefix.ReadAsync(new MemoryStream(stream), false, CancellationToken.None));
        return e!.Message;
    }
}
