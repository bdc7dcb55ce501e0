using System.Buffers;
using System.Buffers.Binary;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator.Qcow;

/// <summary>
/// Emits a disk as xapi's <c>export_raw_vdi?format=qcow2</c> does, with the layout of its
/// qcow2-to-stdout tool (python3/libexec/qcow2-to-stdout.py, called by qcow_tool_wrapper.ml:63-143):
/// qcow2 v3, 64 KiB clusters, 16-bit refcounts; the header cluster (112-byte header and the
/// feature name table), then the refcount table, the refcount blocks, the L1 table, the L2 tables
/// that are needed and the data clusters, in that order, so the length is known before the first
/// byte and a reader never needs to seek back. Included are the clusters holding data (the tool
/// skips all-zero clusters of a device, :252-281) or, against a base, those that differ (:255-275).
/// </summary>
internal sealed class QcowStreamWriter
{
    public const int ClusterSize = 64 * 1024;
    public const int ClusterBits = 16;
    public const int RefcountBits = 16;
    public const ulong CopiedFlag = 1UL << 63;
    private const int HeaderLength = 112;

    /// <summary>"QFI\xfb".</summary>
    public static ReadOnlySpan<byte> Magic => [0x51, 0x46, 0x49, 0xFB];
    private const uint FeatureNameTable = 0x6803F857;
    private const int EntriesPerTable = ClusterSize / 8;
    private const int RefcountsPerBlock = ClusterSize * 8 / RefcountBits;

    private static readonly (byte Type, byte Bit, string Name)[] Features =
    [
        (0, 0, "dirty bit"), (0, 1, "corrupt bit"), (0, 2, "external data file"), (0, 3, "compression type"),
        (0, 4, "extended L2 entries"), (1, 0, "lazy refcounts"), (2, 0, "bitmaps"), (2, 1, "raw external data"),
    ];

    private readonly long _virtualSize;
    private readonly IReadOnlyList<long> _clusters;
    private readonly long _l1Entries;
    private readonly long _l1Tables;
    private readonly List<long> _l2Tables;
    private readonly long _refcountTables;
    private readonly long _refcountBlocks;
    private readonly long _totalClusters;

    private QcowStreamWriter(long virtualSize, IReadOnlyList<long> clusters)
    {
        _virtualSize = virtualSize;
        _clusters = clusters;
        var dataClusters = (virtualSize + ClusterSize - 1) / ClusterSize;
        _l1Entries = (dataClusters + EntriesPerTable - 1) / EntriesPerTable;
        _l1Tables = (_l1Entries + EntriesPerTable - 1) / EntriesPerTable;
        _l2Tables = clusters.Select(c => c / EntriesPerTable).Distinct().Order().ToList();
        var total = 1 + _l1Tables + _l2Tables.Count + clusters.Count;
        // :288-306: the refcount structures count themselves, so iterate until the numbers settle.
        var blocks = Ceiling(total, RefcountsPerBlock);
        var tables = Ceiling(blocks, EntriesPerTable);
        while (true)
        {
            var again = Ceiling(total + tables + blocks, RefcountsPerBlock);
            if (again <= blocks) break;
            blocks = again;
            tables = Ceiling(blocks, EntriesPerTable);
        }

        _refcountBlocks = blocks;
        _refcountTables = tables;
        _totalClusters = total + tables + blocks;
    }

    /// <summary>The whole stream's length: every cluster it writes.</summary>
    public long Length => _totalClusters * ClusterSize;

    public int DataClusterCount => _clusters.Count;

    /// <summary>
    /// The clusters to send: within <paramref name="candidateBlocks"/> (2 MiB store blocks that may
    /// hold data, or may differ from the base), those with non-zero bytes, or bytes unlike the base's.
    /// </summary>
    public static QcowStreamWriter Plan(DiskReader disk, DiskReader? baseDisk, IReadOnlyList<long> candidateBlocks)
    {
        var clusters = new List<long>();
        var block = ArrayPool<byte>.Shared.Rent(CowDiskStore.BlockSize);
        var other = ArrayPool<byte>.Shared.Rent(CowDiskStore.BlockSize);
        try
        {
            foreach (var index in candidateBlocks)
            {
                var length = disk.BlockLength(index);
                disk.ReadBlock(index, block.AsSpan(0, length));
                var baseLength = baseDisk is null ? 0 : (int)Math.Clamp(baseDisk.VirtualSize - index * CowDiskStore.BlockSize, 0, length);
                if (baseDisk is not null && baseLength > 0) baseDisk.ReadBlock(index, other.AsSpan(0, baseLength));
                other.AsSpan(baseLength, length - baseLength).Clear();
                for (var offset = 0; offset < length; offset += ClusterSize)
                {
                    var count = Math.Min(ClusterSize, length - offset);
                    var data = block.AsSpan(offset, count);
                    var differs = baseDisk is null ? data.ContainsAnyExcept((byte)0) : !data.SequenceEqual(other.AsSpan(offset, count));
                    if (differs) clusters.Add((index * CowDiskStore.BlockSize + offset) / ClusterSize);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
            ArrayPool<byte>.Shared.Return(other);
        }

        return new QcowStreamWriter(disk.VirtualSize, clusters);
    }

    public async Task WriteAsync(Stream output, DiskReader disk, CancellationToken cancellationToken)
    {
        var cluster = new byte[ClusterSize];
        var refcountTableOffset = 1L * ClusterSize;
        var refcountBlockOffset = refcountTableOffset + _refcountTables * ClusterSize;
        var l1Offset = refcountBlockOffset + _refcountBlocks * ClusterSize;
        var l2Offset = l1Offset + _l1Tables * ClusterSize;
        var dataOffset = l2Offset + _l2Tables.Count * (long)ClusterSize;

        WriteHeader(cluster, _l1Tables == 0 ? 0 : l1Offset, refcountTableOffset);
        await output.WriteAsync(cluster, cancellationToken);

        // Refcount table: one pointer per refcount block.
        var next = refcountBlockOffset;
        for (long table = 0, remaining = _refcountBlocks; table < _refcountTables; table++)
        {
            Array.Clear(cluster);
            var count = (int)Math.Min(remaining, EntriesPerTable);
            for (var i = 0; i < count; i++, next += ClusterSize) BinaryPrimitives.WriteUInt64BigEndian(cluster.AsSpan(i * 8), (ulong)next);
            remaining -= count;
            await output.WriteAsync(cluster, cancellationToken);
        }

        // Refcount blocks: every allocated cluster is referenced once.
        for (long blockIndex = 0, remaining = _totalClusters; blockIndex < _refcountBlocks; blockIndex++)
        {
            Array.Clear(cluster);
            var count = (int)Math.Min(remaining, RefcountsPerBlock);
            for (var i = 0; i < count; i++) BinaryPrimitives.WriteUInt16BigEndian(cluster.AsSpan(i * 2), 1);
            remaining -= count;
            await output.WriteAsync(cluster, cancellationToken);
        }

        // L1: the L2 tables in index order.
        var l2Index = 0;
        for (long table = 0; table < _l1Tables; table++)
        {
            Array.Clear(cluster);
            for (var i = 0; i < EntriesPerTable; i++)
            {
                var entry = table * EntriesPerTable + i;
                if (l2Index < _l2Tables.Count && _l2Tables[l2Index] == entry)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(cluster.AsSpan(i * 8), (ulong)(l2Offset + l2Index * (long)ClusterSize) | CopiedFlag);
                    l2Index++;
                }
            }

            await output.WriteAsync(cluster, cancellationToken);
        }

        // L2 tables: the data clusters in ascending order.
        var position = 0;
        var dataNext = dataOffset;
        foreach (var table in _l2Tables)
        {
            Array.Clear(cluster);
            while (position < _clusters.Count && _clusters[position] / EntriesPerTable == table)
            {
                var slot = (int)(_clusters[position] % EntriesPerTable);
                BinaryPrimitives.WriteUInt64BigEndian(cluster.AsSpan(slot * 8), (ulong)dataNext | CopiedFlag);
                dataNext += ClusterSize;
                position++;
            }

            await output.WriteAsync(cluster, cancellationToken);
        }

        // Data, read a store block at a time (a 2 MiB block holds 32 clusters).
        var block = ArrayPool<byte>.Shared.Rent(CowDiskStore.BlockSize);
        try
        {
            long loaded = -1;
            foreach (var index in _clusters)
            {
                var offset = index * ClusterSize;
                var storeBlock = offset / CowDiskStore.BlockSize;
                if (storeBlock != loaded)
                {
                    var length = disk.BlockLength(storeBlock);
                    disk.ReadBlock(storeBlock, block.AsSpan(0, length));
                    block.AsSpan(length, CowDiskStore.BlockSize - length).Clear();
                    loaded = storeBlock;
                }

                await output.WriteAsync(block.AsMemory((int)(offset % CowDiskStore.BlockSize), ClusterSize), cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }
    }

    private void WriteHeader(byte[] cluster, long l1Offset, long refcountTableOffset)
    {
        Array.Clear(cluster);
        var h = cluster.AsSpan();
        Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], 3);                         // version
        BinaryPrimitives.WriteUInt32BigEndian(h[20..], ClusterBits);              // backing file offset/size stay 0
        BinaryPrimitives.WriteUInt64BigEndian(h[24..], (ulong)_virtualSize);
        BinaryPrimitives.WriteUInt32BigEndian(h[36..], (uint)_l1Entries);         // crypt_method 0 at 32
        BinaryPrimitives.WriteUInt64BigEndian(h[40..], (ulong)l1Offset);
        BinaryPrimitives.WriteUInt64BigEndian(h[48..], (ulong)refcountTableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(h[56..], (uint)_refcountTables);    // no snapshots, no features
        BinaryPrimitives.WriteUInt32BigEndian(h[96..], 4);                        // refcount_order: 2^4 = 16 bits
        BinaryPrimitives.WriteUInt32BigEndian(h[100..], HeaderLength);
        var offset = HeaderLength;
        BinaryPrimitives.WriteUInt32BigEndian(h[offset..], FeatureNameTable);
        BinaryPrimitives.WriteUInt32BigEndian(h[(offset + 4)..], (uint)(Features.Length * 48));
        offset += 8;
        foreach (var (type, bit, name) in Features)
        {
            h[offset] = type;
            h[offset + 1] = bit;
            System.Text.Encoding.ASCII.GetBytes(name, h.Slice(offset + 2, 46));
            offset += 48;
        }
    }

    private static long Ceiling(long value, long divisor) => (value + divisor - 1) / divisor;
}
