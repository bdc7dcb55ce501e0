using System.Buffers.Binary;

namespace XenMigrate.Infrastructure.Transfer;

/// <summary>
/// The start of an <c>export_raw_vdi?format=qcow2</c> stream, read far enough to know its exact
/// length (xapi's import needs a Content-Length). xapi writes it with qcow2-to-stdout
/// (python3/libexec/qcow2-to-stdout.py): the header cluster, the refcount table at cluster 1, the
/// refcount blocks, then L1, L2 and data clusters, each cluster written once and counted once, so
/// the stream is as long as the clusters the refcount blocks count. The refcount blocks are read
/// (and kept, to be sent on first) and every entry must be 0 or 1 with the counted ones contiguous
/// from cluster 0: any other layout is refused rather than guessed at.
/// </summary>
public sealed class Qcow2StreamPrefix : IExportPrefix
{
    /// <summary>"QFI\xfb".</summary>
    private const uint Magic = 0x514649FB;

    private const int HeaderBytes = 104;

    /// <summary>
    /// Most bytes kept before the data: 256 MiB of refcount blocks count 8 TiB of 64 KiB clusters
    /// (16-bit refcounts), more than any disk's allocation a pool holds.
    /// </summary>
    public const long MaxPrefixBytes = 256L * 1024 * 1024;

    private Qcow2StreamPrefix(byte[] bytes, long streamLength, long virtualSize, int clusterSize, long clusters, bool differencing)
    {
        Bytes = bytes;
        StreamLength = streamLength;
        VirtualSize = virtualSize;
        BlockSize = (uint)clusterSize;
        Clusters = clusters;
        IsDifferencing = differencing;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    public long StreamLength { get; }

    public long VirtualSize { get; }

    /// <summary>The cluster size.</summary>
    public uint BlockSize { get; }

    /// <summary>Every cluster of the stream, metadata included.</summary>
    public long Clusters { get; }

    public int UsedBlocks => (int)Math.Min(int.MaxValue, Clusters);

    public bool IsDifferencing { get; }

    /// <summary>Reads the header cluster, the refcount table and the refcount blocks from the start of <paramref name="stream"/>.</summary>
    /// <param name="differencing">Whether the export was asked for against a base (the stream itself does not say).</param>
    /// <exception cref="InvalidExportStreamException">Not qcow2-to-stdout's layout, an error page, or cut short.</exception>
    public static async Task<Qcow2StreamPrefix> ReadAsync(Stream stream, bool differencing, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[HeaderBytes];
        var got = await stream.ReadAtLeastAsync(header, HeaderBytes, throwOnEndOfStream: false, cancellationToken);
        ExportErrorPage.ThrowIfErrorPage(header.AsSpan(0, got));
        if (got < HeaderBytes) throw new InvalidExportStreamException($"The qcow2 stream ended after {got} bytes, inside its header.");
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != Magic)
            throw new InvalidExportStreamException("The stream does not start with a qcow2 header (magic 'QFI\\xfb').");
        var version = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        var clusterBits = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(20));
        var virtualSize = (long)BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(24));
        var refcountTableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(48));
        var refcountTableClusters = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(56));
        var refcountOrder = version >= 3 ? BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(96)) : 4;
        if (version is not (2 or 3) || clusterBits is < 9 or > 21 || refcountOrder > 6 || virtualSize < 0)
            throw new InvalidExportStreamException($"Unsupported qcow2 header (version {version}, cluster_bits {clusterBits}, refcount_order {refcountOrder}).");
        var clusterSize = 1 << (int)clusterBits;
        if (refcountTableOffset != clusterSize)
            throw new InvalidExportStreamException($"The refcount table is at byte {refcountTableOffset}, not right after the header cluster as qcow2-to-stdout writes it.");

        // The header cluster and the refcount table: the table says where the refcount blocks are.
        var tableEnd = refcountTableOffset + (long)refcountTableClusters * clusterSize;
        if (tableEnd > MaxPrefixBytes) throw TooLarge(tableEnd);
        var start = new byte[tableEnd];
        header.CopyTo(start, 0);
        await ReadExactlyAsync(stream, start.AsMemory(HeaderBytes), HeaderBytes, "refcount table", cancellationToken);
        var blockOffsets = new List<long>();
        for (var at = (int)refcountTableOffset; at < start.Length; at += 8)
        {
            var offset = (long)BinaryPrimitives.ReadUInt64BigEndian(start.AsSpan(at));
            if (offset == 0) break;
            var expected = tableEnd + (long)blockOffsets.Count * clusterSize;
            if (offset != expected)
                throw new InvalidExportStreamException($"Refcount block {blockOffsets.Count} is at byte {offset}, not {expected}: not qcow2-to-stdout's layout.");
            blockOffsets.Add(offset);
        }

        var prefixEnd = tableEnd + (long)blockOffsets.Count * clusterSize;
        if (prefixEnd > MaxPrefixBytes) throw TooLarge(prefixEnd);
        var bytes = new byte[prefixEnd];
        start.CopyTo(bytes, 0);
        await ReadExactlyAsync(stream, bytes.AsMemory(start.Length), start.Length, "refcount blocks", cancellationToken);

        var clusters = CountClusters(bytes.AsSpan((int)tableEnd), 1 << (int)refcountOrder);
        if (clusters * clusterSize < prefixEnd)
            throw new InvalidExportStreamException($"The refcounts count {clusters} clusters, fewer than the header and refcount structures take.");
        return new Qcow2StreamPrefix(bytes, clusters * clusterSize, virtualSize, clusterSize, clusters, differencing);
    }

    /// <summary>The refcounts set (each must be 1), which must run from cluster 0 without a gap.</summary>
    private static long CountClusters(ReadOnlySpan<byte> blocks, int refcountBits)
    {
        long counted = 0;
        var ended = false;
        var entries = (long)blocks.Length * 8 / refcountBits;
        for (long i = 0; i < entries; i++)
        {
            var value = Refcount(blocks, i, refcountBits);
            if (value > 1) throw new InvalidExportStreamException($"Cluster {i} has refcount {value}; qcow2-to-stdout writes each cluster once.");
            if (value == 0)
            {
                ended = true;
                continue;
            }

            if (ended) throw new InvalidExportStreamException($"Cluster {i} is counted after a gap: not a stream written front to back.");
            counted++;
        }

        return counted;
    }

    private static ulong Refcount(ReadOnlySpan<byte> blocks, long index, int bits) => bits switch
    {
        64 => BinaryPrimitives.ReadUInt64BigEndian(blocks[(int)(index * 8)..]),
        32 => BinaryPrimitives.ReadUInt32BigEndian(blocks[(int)(index * 4)..]),
        16 => BinaryPrimitives.ReadUInt16BigEndian(blocks[(int)(index * 2)..]),
        8 => blocks[(int)index],
        // Sub-byte refcounts: most significant bits first within each byte, as qcow2's spec orders them.
        _ => (ulong)((blocks[(int)(index * bits / 8)] >> (8 - bits - (int)(index * bits % 8))) & ((1 << bits) - 1)),
    };

    private static InvalidExportStreamException TooLarge(long end) =>
        new($"The qcow2 stream's refcount structures would end at byte {end}; more than {MaxPrefixBytes} bytes of metadata is refused.");

    private static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, long offset, string what, CancellationToken cancellationToken)
    {
        var got = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        if (got < buffer.Length) throw new InvalidExportStreamException($"The qcow2 stream ended at byte {offset + got}, inside its {what}.");
    }
}
