using System.Buffers;
using System.Text;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator.Vhd;

/// <summary>
/// Emits a disk as the VHD stream of xapi's <c>export_raw_vdi?format=vhd</c>: footer copy at 0,
/// dynamic header at 512, a zero sector at 1536, the BAT at 2048, then the included blocks in
/// ascending order (each an all-ones sector bitmap plus the full block), then the footer. The
/// length is known before the first byte is sent; blocks are read from disk one at a time.
/// </summary>
internal sealed class VhdStreamWriter
{
    private readonly IReadOnlyList<long> _blocks;
    private readonly VhdFooter _footer;
    private readonly VhdDynamicHeader _header;
    private readonly int _blockSize;
    private readonly int _bitmapSize;
    private readonly long _batSize;

    private VhdStreamWriter(long virtualSize, IReadOnlyList<long> blocks, VhdFooter footer, VhdDynamicHeader header)
    {
        VirtualSize = virtualSize;
        _blocks = blocks;
        _footer = footer;
        _header = header;
        _blockSize = (int)header.BlockSize;
        _bitmapSize = VhdLayout.BitmapSize(_blockSize);
        _batSize = VhdLayout.RoundUpToSector(4L * header.MaxTableEntries);
    }

    public long VirtualSize { get; }

    public VhdDiskType DiskType => _footer.DiskType;

    public int BlockCount => _blocks.Count;

    /// <summary>The exact stream length (what an importer needs as Content-Length).</summary>
    public long Length => VhdLayout.StreamTableOffset + _batSize + _blocks.Count * (long)(_bitmapSize + _blockSize) + VhdLayout.FooterSize;

    /// <summary>A dynamic (type 3) disk holding the given blocks.</summary>
    public static VhdStreamWriter Dynamic(long virtualSize, IReadOnlyList<long> blocks, Guid uniqueId, DateTimeOffset now)
    {
        var timestamp = VhdLayout.Timestamp(now);
        return new VhdStreamWriter(virtualSize, blocks,
            new VhdFooter(VhdDiskType.Dynamic, virtualSize, uniqueId, timestamp),
            Header(virtualSize, Guid.Empty, 0, string.Empty, []));
    }

    /// <summary>
    /// A differencing (type 4) disk over the parent identified by <paramref name="parentUniqueId"/>,
    /// with one MacX locator pointing at the (zero) sector 1536, as xapi streams them.
    /// </summary>
    public static VhdStreamWriter Differencing(long virtualSize, IReadOnlyList<long> blocks, Guid uniqueId, Guid parentUniqueId, string parentPath, DateTimeOffset now)
    {
        var timestamp = VhdLayout.Timestamp(now);
        var locator = new VhdParentLocator(VhdLayout.PlatformCodeMacX, 1,
            (uint)Encoding.UTF8.GetByteCount("file://" + parentPath), VhdLayout.StreamLocatorOffset);
        return new VhdStreamWriter(virtualSize, blocks,
            new VhdFooter(VhdDiskType.Differencing, virtualSize, uniqueId, timestamp),
            Header(virtualSize, parentUniqueId, timestamp, parentPath, [locator]));
    }

    private static VhdDynamicHeader Header(long virtualSize, Guid parent, uint parentTimestamp, string parentPath, IReadOnlyList<VhdParentLocator> locators) =>
        new(VhdLayout.StreamTableOffset,
            (uint)((virtualSize + VhdLayout.DefaultBlockSize - 1) / VhdLayout.DefaultBlockSize),
            VhdLayout.DefaultBlockSize,
            parent,
            parentTimestamp,
            parentPath,
            locators);

    /// <summary>Footer copy, header, zero sector and BAT: everything before the first block.</summary>
    public byte[] Preamble()
    {
        var preamble = new byte[VhdLayout.StreamTableOffset + _batSize];
        _footer.ToBytes().CopyTo(preamble, 0);
        _header.ToBytes().CopyTo(preamble, VhdLayout.FooterSize);
        var bat = preamble.AsSpan((int)VhdLayout.StreamTableOffset);
        bat.Fill(0xFF);
        var sector = (VhdLayout.StreamTableOffset + _batSize) / VhdLayout.SectorSize;
        foreach (var block in _blocks)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bat[(int)(block * 4)..], (uint)sector);
            sector += (_bitmapSize + _blockSize) / VhdLayout.SectorSize;
        }

        return preamble;
    }

    public byte[] Trailer() => _footer.ToBytes();

    public async Task WriteAsync(Stream output, DiskReader disk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(disk);
        await output.WriteAsync(Preamble(), cancellationToken);
        var bitmap = new byte[_bitmapSize];
        Array.Fill(bitmap, (byte)0xFF);
        var buffer = ArrayPool<byte>.Shared.Rent(_blockSize);
        try
        {
            foreach (var block in _blocks)
            {
                await output.WriteAsync(bitmap, cancellationToken);
                var length = disk.BlockLength(block);
                disk.ReadBlock(block, buffer.AsSpan(0, length));
                buffer.AsSpan(length, _blockSize - length).Clear();
                await output.WriteAsync(buffer.AsMemory(0, _blockSize), cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        await output.WriteAsync(Trailer(), cancellationToken);
    }
}
