using System.Buffers.Binary;

namespace XenMigrate.Infrastructure.Transfer;

/// <summary>
/// The start of a dynamic or differencing VHD stream, as <c>GET /export_raw_vdi?format=vhd</c>
/// sends it (xapi ocaml/xapi/export_raw_vdi.ml via vhd_tool_wrapper.ml; the VHD format: footer copy at 0, dynamic header at the footer's data offset,
/// then everything up to and including the BAT. Reading it tells the exact length of the whole
/// stream, which <c>PUT /import_raw_vdi</c> needs as Content-Length before the first block
/// arrives. The bytes read are kept (<see cref="Bytes"/>) so they can be sent on first.
/// </summary>
/// <remarks>
/// The length is the end of the furthest block plus the trailing footer. For xapi's own layout
/// (blocks packed in BAT order right after the sector-padded BAT) that equals Xen Orchestra's
/// <c>table_offset + roundup512(4·max_table_entries) + n_used·(bitmap + block_size) + 512</c>;
/// a layout with gaps between blocks still gets its true length.
/// </remarks>
public sealed class VhdStreamPrefix : IExportPrefix
{
    public const int SectorSize = 512;
    public const int FooterSize = 512;
    public const int DynamicHeaderSize = 1024;
    public const uint UnusedBatEntry = 0xFFFFFFFF;

    /// <summary>
    /// Most bytes the prefix may take (footer, header, locators, BAT): a 2040 GiB disk in 2 MiB
    /// blocks has a 4 MiB BAT. Anything claiming more is refused rather than buffered.
    /// </summary>
    public const int MaxPrefixBytes = 8 * 1024 * 1024;

    private const int MaxBlockSize = 256 * 1024 * 1024;
    private const uint FormatVersion = 0x00010000;

    private VhdStreamPrefix(byte[] bytes, long streamLength, bool differencing, long virtualSize, uint blockSize,
        int tableEntries, int usedBlocks, long tableOffset)
    {
        Bytes = bytes;
        StreamLength = streamLength;
        IsDifferencing = differencing;
        VirtualSize = virtualSize;
        BlockSize = blockSize;
        TableEntries = tableEntries;
        UsedBlocks = usedBlocks;
        TableOffset = tableOffset;
    }

    /// <summary>Every byte consumed from the stream, from offset 0 to the end of the (padded) BAT.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The exact length of the whole VHD stream, this prefix included.</summary>
    public long StreamLength { get; }

    /// <summary>Disk type 4 (a delta over a base) rather than 3 (dynamic).</summary>
    public bool IsDifferencing { get; }

    /// <summary>The footer's current size: the disk's virtual size in bytes.</summary>
    public long VirtualSize { get; }

    public uint BlockSize { get; }

    /// <summary>The dynamic header's max_table_entries.</summary>
    public int TableEntries { get; }

    /// <summary>BAT entries other than 0xFFFFFFFF: the blocks the stream carries.</summary>
    public int UsedBlocks { get; }

    public long TableOffset { get; }

    /// <summary>Bytes of one block in the stream: its sector bitmap (padded to a sector) plus its data.</summary>
    public long BlockSpan => BitmapSize(BlockSize) + BlockSize;

    /// <summary>
    /// Reads footer, dynamic header and BAT from the current position of <paramref name="stream"/>
    /// (which must be the start of the VHD) and validates them.
    /// </summary>
    /// <exception cref="InvalidVhdStreamException">Not a dynamic/differencing VHD, corrupt, or ended early.</exception>
    public static async Task<VhdStreamPrefix> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var footer = new byte[FooterSize];
        var got = await stream.ReadAtLeastAsync(footer, FooterSize, throwOnEndOfStream: false, cancellationToken);
        ExportErrorPage.ThrowIfErrorPage(footer.AsSpan(0, got));
        if (got < FooterSize) throw new InvalidVhdStreamException($"The VHD stream ended after {got} bytes, inside its footer.");
        var (differencing, dataOffset, virtualSize) = ParseFooter(footer);

        // Whatever lies between the footer and the header (nothing, in xapi's streams) is kept too.
        var head = new byte[(int)dataOffset + DynamicHeaderSize];
        footer.CopyTo(head, 0);
        await ReadExactlyAsync(stream, head.AsMemory(FooterSize), FooterSize, "dynamic header", cancellationToken);
        var (tableOffset, entries, blockSize) = ParseHeader(head.AsSpan((int)dataOffset, DynamicHeaderSize), dataOffset, virtualSize);

        var tableEnd = tableOffset + RoundUpToSector(4L * entries);
        if (tableEnd > MaxPrefixBytes)
            throw new InvalidVhdStreamException($"The VHD's BAT would end at byte {tableEnd}; more than {MaxPrefixBytes} bytes of metadata is not a disk xapi exports.");
        var bytes = new byte[tableEnd];
        head.CopyTo(bytes, 0);
        await ReadExactlyAsync(stream, bytes.AsMemory(head.Length), head.Length, "BAT", cancellationToken);

        var (used, end) = ScanTable(bytes.AsSpan((int)tableOffset, entries * 4), tableEnd, blockSize);
        return new VhdStreamPrefix(bytes, end + FooterSize, differencing, virtualSize, blockSize, entries, used, tableOffset);
    }

    /// <summary>Sector bitmap size of a block: one bit per sector, padded to a whole sector.</summary>
    public static long BitmapSize(uint blockSize) => RoundUpToSector(blockSize / SectorSize / 8);

    public static long RoundUpToSector(long bytes) => (bytes + SectorSize - 1) / SectorSize * SectorSize;

    /// <summary>One's complement of the byte sum of the structure, its checksum field counted as zero.</summary>
    public static uint Checksum(ReadOnlySpan<byte> structure, int checksumOffset)
    {
        uint sum = 0;
        for (var i = 0; i < structure.Length; i++)
            if (i < checksumOffset || i >= checksumOffset + 4) sum += structure[i];
        return ~sum;
    }

    private static (bool Differencing, long DataOffset, long VirtualSize) ParseFooter(ReadOnlySpan<byte> footer)
    {
        if (!footer[..8].SequenceEqual("conectix"u8))
            throw new InvalidVhdStreamException("The stream does not start with a VHD footer (cookie 'conectix').");
        if (BinaryPrimitives.ReadUInt32BigEndian(footer[64..]) != Checksum(footer, 64))
            throw new InvalidVhdStreamException("The VHD footer's checksum is wrong.");
        if (BinaryPrimitives.ReadUInt32BigEndian(footer[12..]) >> 16 != FormatVersion >> 16)
            throw new InvalidVhdStreamException("The VHD footer has an unknown format version.");
        var type = BinaryPrimitives.ReadUInt32BigEndian(footer[60..]);
        if (type is not (3 or 4))
            throw new InvalidVhdStreamException($"VHD disk type {type} is neither dynamic (3) nor differencing (4); only those carry a BAT.");
        var dataOffset = BinaryPrimitives.ReadUInt64BigEndian(footer[16..]);
        if (dataOffset < FooterSize || dataOffset > MaxPrefixBytes - DynamicHeaderSize)
            throw new InvalidVhdStreamException($"The VHD footer places the dynamic header at {dataOffset}, which a stream cannot have.");
        var virtualSize = BinaryPrimitives.ReadInt64BigEndian(footer[48..]);
        if (virtualSize <= 0)
            throw new InvalidVhdStreamException($"The VHD's virtual size {virtualSize} is not positive.");
        return (type == 4, (long)dataOffset, virtualSize);
    }

    private static (long TableOffset, int Entries, uint BlockSize) ParseHeader(ReadOnlySpan<byte> header, long dataOffset, long virtualSize)
    {
        if (!header[..8].SequenceEqual("cxsparse"u8))
            throw new InvalidVhdStreamException("No VHD dynamic header (cookie 'cxsparse') where the footer says it is.");
        if (BinaryPrimitives.ReadUInt32BigEndian(header[36..]) != Checksum(header, 36))
            throw new InvalidVhdStreamException("The VHD dynamic header's checksum is wrong.");
        if (BinaryPrimitives.ReadUInt32BigEndian(header[24..]) >> 16 != FormatVersion >> 16)
            throw new InvalidVhdStreamException("The VHD dynamic header has an unknown version.");
        var tableOffset = BinaryPrimitives.ReadUInt64BigEndian(header[16..]);
        var entries = BinaryPrimitives.ReadUInt32BigEndian(header[28..]);
        var blockSize = BinaryPrimitives.ReadUInt32BigEndian(header[32..]);
        if (blockSize < SectorSize || blockSize > MaxBlockSize || (blockSize & (blockSize - 1)) != 0)
            throw new InvalidVhdStreamException($"Unsupported VHD block size {blockSize}.");
        // Forward-only stream: the BAT must come after the header (and sector-aligned, as every writer puts it).
        if (tableOffset < (ulong)(dataOffset + DynamicHeaderSize) || tableOffset % SectorSize != 0 || tableOffset > MaxPrefixBytes)
            throw new InvalidVhdStreamException($"The VHD's BAT offset {tableOffset} is not after its header.");
        if ((long)entries * blockSize < virtualSize || entries > MaxPrefixBytes / 4)
            throw new InvalidVhdStreamException($"The VHD's BAT ({entries} entries of {blockSize} bytes) does not fit its virtual size {virtualSize}.");
        return ((long)tableOffset, (int)entries, blockSize);
    }

    /// <summary>
    /// Counts the used entries and finds where the last block ends; blocks must follow the BAT and
    /// not overlap. xapi packs the blocks in BAT order right after the BAT, which is checked in one
    /// pass; any other layout is sorted (4 bytes per used block) to check it.
    /// </summary>
    private static (int Used, long End) ScanTable(ReadOnlySpan<byte> table, long tableEnd, uint blockSize)
    {
        var span = BitmapSize(blockSize) + blockSize;
        var used = 0;
        var packed = true;
        for (var i = 0; i < table.Length; i += 4)
        {
            var entry = BinaryPrimitives.ReadUInt32BigEndian(table[i..]);
            if (entry == UnusedBatEntry) continue;
            var offset = (long)entry * SectorSize;
            if (offset < tableEnd)
                throw new InvalidVhdStreamException($"BAT entry {i / 4} points at byte {offset}, inside the VHD's metadata.");
            packed &= offset == tableEnd + used * span;
            used++;
        }

        if (packed) return (used, tableEnd + used * span);

        var sectors = new uint[used];
        var n = 0;
        for (var i = 0; i < table.Length; i += 4)
        {
            var entry = BinaryPrimitives.ReadUInt32BigEndian(table[i..]);
            if (entry != UnusedBatEntry) sectors[n++] = entry;
        }

        Array.Sort(sectors);
        for (var i = 1; i < sectors.Length; i++)
        {
            if ((long)sectors[i] * SectorSize < (long)sectors[i - 1] * SectorSize + span)
                throw new InvalidVhdStreamException($"Two VHD blocks overlap (at bytes {(long)sectors[i - 1] * SectorSize} and {(long)sectors[i] * SectorSize}).");
        }

        return (used, (long)sectors[^1] * SectorSize + span);
    }

    private static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, long position, string what, CancellationToken cancellationToken)
    {
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < buffer.Length)
            throw new InvalidVhdStreamException($"The VHD stream ended after {position + read} bytes, inside its {what}.");
    }
}

/// <summary>A stream that is not a usable dynamic or differencing VHD, or that ended inside its metadata.</summary>
public sealed class InvalidVhdStreamException(string message) : InvalidExportStreamException(message);
