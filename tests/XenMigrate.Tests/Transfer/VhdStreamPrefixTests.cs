using System.Buffers.Binary;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.Tests.Transfer;

/// <summary>Reading a VHD stream's footer, header and BAT to learn its length (the VHD format as export_raw_vdi sends it), on hand-made streams.</summary>
public class VhdStreamPrefixTests
{
    private const int MiB = 1024 * 1024;
    private const int Span = 512 + 2 * MiB;

    [Test]
    public async Task XapiLayout_LengthIsTheFormula_AndThePrefixIsEverythingUpToTheEndOfTheBat()
    {
        // 20 MiB disk (10 entries), blocks 0, 3 and 9 packed after the BAT, as xapi streams them.
        var stream = BuildPrefix(VhdDiskType.Dynamic, 20 * MiB, tableOffset: 2048, [0, 3, 9]);

        var prefix = await VhdStreamPrefix.ReadAsync(new MemoryStream(stream), CancellationToken.None);

        Assert.That(prefix.StreamLength, Is.EqualTo(2048 + 512 + 3L * Span + 512), "table_offset + roundup512(4·entries) + n_used·(512 + block) + 512");
        Assert.That(prefix.Bytes.ToArray(), Is.EqualTo(stream));
        Assert.That((prefix.UsedBlocks, prefix.TableEntries, prefix.BlockSize, prefix.VirtualSize, prefix.IsDifferencing),
            Is.EqualTo((3, 10, 2u * MiB, 20L * MiB, false)));
    }

    [Test]
    public async Task DifferencingDisk_WithNoBlocks_IsPreambleAndFooter()
    {
        var stream = BuildPrefix(VhdDiskType.Differencing, 8 * MiB, tableOffset: 2048, []);

        var prefix = await VhdStreamPrefix.ReadAsync(new MemoryStream(stream), CancellationToken.None);

        Assert.That(prefix.IsDifferencing, Is.True);
        Assert.That(prefix.StreamLength, Is.EqualTo(2048 + 512 + 512));
    }

    [Test]
    public async Task OnlyThePrefixIsConsumed()
    {
        var stream = BuildPrefix(VhdDiskType.Dynamic, 8 * MiB, tableOffset: 2048, [1]);
        var withData = stream.Concat(new byte[4096]).ToArray();
        var input = new MemoryStream(withData);

        var prefix = await VhdStreamPrefix.ReadAsync(input, CancellationToken.None);

        Assert.That(input.Position, Is.EqualTo(prefix.Bytes.Length));
        Assert.That(prefix.Bytes.Length, Is.EqualTo(2560));
    }

    [Test]
    public async Task OtherLayouts_EndAfterTheFurthestBlock()
    {
        // qemu-style: BAT right after the header at 1536, blocks out of BAT order with a gap.
        var tableEnd = 1536 + 512;
        var stream = BuildPrefix(VhdDiskType.Dynamic, 8 * MiB, tableOffset: 1536, [],
            [(0, tableEnd + 2L * Span), (2, tableEnd)]);

        var prefix = await VhdStreamPrefix.ReadAsync(new MemoryStream(stream), CancellationToken.None);

        Assert.That(prefix.StreamLength, Is.EqualTo(tableEnd + 3L * Span + 512));
        Assert.That(prefix.UsedBlocks, Is.EqualTo(2));
    }

    [Test]
    public async Task Garbage_IsRefused()
    {
        var random = new byte[8192];
        new Random(7).NextBytes(random);
        Assert.That(await Refusal(random), Does.Contain("conectix"));
    }

    [Test]
    public async Task CorruptOrImpossibleMetadata_IsRefused()
    {
        var good = BuildPrefix(VhdDiskType.Dynamic, 8 * MiB, tableOffset: 2048, [0, 1]);

        var footerChecksum = good.ToArray();
        footerChecksum[70] ^= 0xFF;
        var headerCookie = good.ToArray();
        headerCookie[512] = (byte)'X';
        var headerChecksum = good.ToArray();
        headerChecksum[512 + 30] ^= 0x01; // max_table_entries without fixing the checksum
        var fixedDisk = Reheader(good, footer => BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(60), 2));

        Assert.That(await Refusal(footerChecksum), Does.Contain("footer's checksum"));
        Assert.That(await Refusal(headerCookie), Does.Contain("cxsparse"));
        Assert.That(await Refusal(headerChecksum), Does.Contain("header's checksum"));
        Assert.That(await Refusal(fixedDisk), Does.Contain("neither dynamic"));
        Assert.That(await Refusal(good[..1000]), Does.Contain("ended after 1000 bytes"));
        Assert.That(await Refusal(good[..2100]), Does.Contain("inside its BAT"));
        Assert.That(await Refusal(BuildPrefix(VhdDiskType.Dynamic, 8 * MiB, 2048, [], [(0, 2560), (1, 2560 + 4096)])), Does.Contain("overlap"));
        Assert.That(await Refusal(BuildPrefix(VhdDiskType.Dynamic, 8 * MiB, 2048, [], [(0, 1024)])), Does.Contain("inside the VHD's metadata"));
        Assert.That(await Refusal(BuildPrefix(VhdDiskType.Dynamic, 8 * MiB, 1024, [])), Does.Contain("not after its header"));
        Assert.That(await Refusal(BuildPrefix(VhdDiskType.Dynamic, 8 * MiB, 2048, [], entries: 2)), Does.Contain("does not fit"));
    }

    private static async Task<string> Refusal(byte[] stream)
    {
        var e = await Assert.ThrowsAsync<InvalidVhdStreamException>(() => VhdStreamPrefix.ReadAsync(new MemoryStream(stream), CancellationToken.None));
        return e!.Message;
    }

    /// <summary>Footer copy, header at 512 and a BAT at <paramref name="tableOffset"/>: packed blocks by index, and/or explicit (index, byte offset) pairs.</summary>
    private static byte[] BuildPrefix(VhdDiskType type, long size, long tableOffset, int[] packed, (int Block, long Offset)[]? placed = null, uint? entries = null)
    {
        var count = entries ?? (uint)((size + 2 * MiB - 1) / (2 * MiB));
        var batBytes = (count * 4 + 511) / 512 * 512;
        var stream = new byte[Math.Max(tableOffset, 1536) + batBytes];
        new VhdFooter(type, size, Guid.NewGuid(), 1).ToBytes().CopyTo(stream, 0);
        new VhdDynamicHeader(tableOffset, count, 2 * MiB, type == VhdDiskType.Differencing ? Guid.NewGuid() : Guid.Empty).ToBytes().CopyTo(stream, 512);
        if (tableOffset < 1536) return stream; // an impossible header: nothing sensible to put in a BAT
        var bat = stream.AsSpan((int)tableOffset, (int)batBytes);
        bat.Fill(0xFF);
        var next = tableOffset + batBytes;
        foreach (var block in packed)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bat[(block * 4)..], (uint)(next / 512));
            next += Span;
        }

        foreach (var (block, offset) in placed ?? []) BinaryPrimitives.WriteUInt32BigEndian(bat[(block * 4)..], (uint)(offset / 512));
        return stream;
    }

    /// <summary>A copy with the footer changed and its checksum fixed.</summary>
    private static byte[] Reheader(byte[] stream, Action<byte[]> change)
    {
        var copy = stream.ToArray();
        var footer = copy[..512];
        change(footer);
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(64), VhdStreamPrefix.Checksum(footer, 64));
        footer.CopyTo(copy, 0);
        return copy;
    }
}
