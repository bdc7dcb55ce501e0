using System.Buffers.Binary;

namespace XenMigrate.XapiSimulator.Qcow;

/// <summary>A qcow2 stream xapi's decoder cannot take; the import task fails with VDI_IO_ERROR.</summary>
internal sealed class QcowFormatException(string message) : IOException(message);

/// <summary>
/// Consumes a qcow2 image as a forward-only stream, as xapi's qcow-stream-tool does for
/// <c>import_raw_vdi?format=qcow2</c> (ocaml-qcow lib/qcow_stream.ml, stream_decode): the header
/// cluster, then the refcount table, the L1 table and the L2 tables, then the data clusters in
/// ascending file order, each written at its virtual offset; nothing else on the target is
/// touched. The stream can only move forward: a table or data cluster placed before one already
/// read fails ("can't read non-sequential clusters"), and compressed clusters are refused, as
/// there. Images from qcow2-to-stdout (and qemu-img's for disks whose L2 tables precede their data)
/// are fine.
/// </summary>
internal sealed class QcowStreamReader(Stream input)
{
    private const ulong OffsetMask = 0x00FF_FFFF_FFFF_FE00UL;
    private const ulong CompressedFlag = 1UL << 62;
    private readonly byte[] _skip = new byte[64 * 1024];
    private long _position;

    public long VirtualSize { get; private set; }

    public async Task ApplyAsync(long targetSize, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        var first = new byte[512];
        await ReadExactAsync(first, cancellationToken);
        if (!first.AsSpan(0, 4).SequenceEqual(QcowStreamWriter.Magic)) throw new QcowFormatException("Not a qcow2 image (bad magic).");
        var version = BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(4));
        if (version is not (2 or 3)) throw new QcowFormatException($"Unsupported qcow2 version {version}.");
        var backingOffset = BinaryPrimitives.ReadUInt64BigEndian(first.AsSpan(8));
        var clusterBits = (int)BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(20));
        var size = (long)BinaryPrimitives.ReadUInt64BigEndian(first.AsSpan(24));
        var crypt = BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(32));
        var l1Size = BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(36));
        var l1Offset = (long)BinaryPrimitives.ReadUInt64BigEndian(first.AsSpan(40));
        var refcountOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(first.AsSpan(48));
        var refcountClusters = BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(56));
        var incompatible = version == 3 ? BinaryPrimitives.ReadUInt64BigEndian(first.AsSpan(72)) : 0;
        if (clusterBits is < 9 or > 21) throw new QcowFormatException($"Unsupported cluster size 2^{clusterBits}.");
        if (crypt != 0) throw new QcowFormatException("Encrypted qcow2 images are not supported.");
        if (backingOffset != 0) throw new QcowFormatException("qcow2 images with a backing file are not supported.");
        // Bit 0 is the dirty bit, which a streamed copy may carry; anything else changes the layout.
        if ((incompatible & ~1UL) != 0) throw new QcowFormatException($"Unsupported incompatible features 0x{incompatible:x}.");
        if (size > targetSize) throw new QcowFormatException($"The image's virtual size ({size}) exceeds the VDI's ({targetSize}).");
        VirtualSize = size;
        var clusterSize = 1 << clusterBits;
        await SkipToAsync(clusterSize, "refcount table", cancellationToken); // the rest of the header cluster

        var cluster = new byte[clusterSize];
        // The refcount table is read (and checked to be where the stream is), not needed otherwise.
        await SkipToAsync(refcountOffset, "refcount table", cancellationToken);
        for (var i = 0; i < refcountClusters; i++) await ReadExactAsync(cluster, cancellationToken);

        var entriesPerCluster = clusterSize / 8;
        var l1 = new ulong[l1Size];
        if (l1Size > 0)
        {
            await SkipToAsync(l1Offset, "L1 table", cancellationToken);
            var l1Clusters = (l1Size + entriesPerCluster - 1) / entriesPerCluster;
            for (var c = 0; c < l1Clusters; c++)
            {
                await ReadExactAsync(cluster, cancellationToken);
                for (var i = 0; i < entriesPerCluster && c * entriesPerCluster + i < l1Size; i++)
                    l1[c * entriesPerCluster + i] = BinaryPrimitives.ReadUInt64BigEndian(cluster.AsSpan(i * 8));
            }
        }

        // Every data cluster's physical offset and virtual offset, from the L2 tables in L1 order.
        var data = new SortedDictionary<long, long>();
        for (long index = 0; index < l1Size; index++)
        {
            var l2Offset = (long)(l1[index] & OffsetMask);
            if (l2Offset == 0) continue;
            await SkipToAsync(l2Offset, $"L2 table {index}", cancellationToken);
            await ReadExactAsync(cluster, cancellationToken);
            for (var i = 0; i < entriesPerCluster; i++)
            {
                var entry = BinaryPrimitives.ReadUInt64BigEndian(cluster.AsSpan(i * 8));
                if ((entry & CompressedFlag) != 0) throw new QcowFormatException("Compressed clusters are not supported.");
                var physical = (long)(entry & OffsetMask);
                if (physical == 0) continue;
                var virtualOffset = (index * entriesPerCluster + i) * (long)clusterSize;
                if (virtualOffset >= size) throw new QcowFormatException($"A cluster maps beyond the virtual size ({virtualOffset}).");
                data[physical] = virtualOffset;
            }
        }

        foreach (var (physical, virtualOffset) in data)
        {
            await SkipToAsync(physical, $"data cluster at {physical}", cancellationToken);
            await ReadExactAsync(cluster, cancellationToken);
            var length = (int)Math.Min(clusterSize, size - virtualOffset);
            await write(virtualOffset, cluster.AsMemory(0, length), cancellationToken);
        }

        while (await input.ReadAsync(_skip, cancellationToken) is var n and > 0) _position += n;
    }

    private async Task SkipToAsync(long offset, string what, CancellationToken cancellationToken)
    {
        if (offset < _position)
            throw new QcowFormatException($"read_cluster_stream: can't read non-sequential clusters (the {what} at {offset} precedes the stream position {_position}).");
        while (_position < offset)
        {
            var n = await input.ReadAsync(_skip.AsMemory(0, (int)Math.Min(_skip.Length, offset - _position)), cancellationToken);
            if (n == 0) throw new QcowFormatException($"The stream ended before the {what} at offset {offset}.");
            _position += n;
        }
    }

    private async Task ReadExactAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await input.ReadExactlyAsync(buffer, cancellationToken);
        }
        catch (EndOfStreamException e)
        {
            throw new QcowFormatException($"The qcow2 stream ended early (after {_position} bytes): {e.Message}");
        }

        _position += buffer.Length;
    }
}
