using System.Buffers;
using System.Buffers.Binary;

namespace XenMigrate.XapiSimulator.Vhd;

/// <summary>
/// Consumes a dynamic or differencing VHD as a forward-only stream, the way xapi's vhd-tool does
/// for <c>import_raw_vdi?format=vhd</c>: footer at 0, header at its data offset, BAT at its table
/// offset, then blocks in ascending file offset. Only sectors whose bitmap bit is set are written
/// (at <c>block × block_size + sector × 512</c>); everything else on the target is left alone, and
/// parent fields are ignored, so a differencing disk applied onto its base yields the new content.
/// </summary>
internal sealed class VhdStreamReader
{
    private readonly Stream _input;
    private readonly byte[] _skipBuffer = new byte[64 * 1024];
    private long _position;

    public VhdStreamReader(Stream input)
    {
        _input = input;
    }

    /// <summary>Bytes consumed so far (progress).</summary>
    public long Position => _position;

    public VhdFooter? Footer { get; private set; }

    /// <summary>Reads the stream and hands every run of present sectors to <paramref name="write"/> (disk offset, bytes).</summary>
    public async Task ApplyAsync(long targetSize, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        var footerBytes = new byte[VhdLayout.FooterSize];
        await ReadExactAsync(footerBytes, cancellationToken);
        var footer = VhdFooter.Parse(footerBytes);
        Footer = footer;
        if (footer.DiskType is not (VhdDiskType.Dynamic or VhdDiskType.Differencing))
            throw new VhdFormatException($"VHD disk type {(uint)footer.DiskType} is not dynamic (3) or differencing (4).");
        if (footer.CurrentSize > targetSize)
            throw new VhdFormatException($"The VHD's virtual size ({footer.CurrentSize}) exceeds the VDI's ({targetSize}).");

        await SkipToAsync(footer.DataOffset, "dynamic header", cancellationToken);
        var headerBytes = new byte[VhdLayout.DynamicHeaderSize];
        await ReadExactAsync(headerBytes, cancellationToken);
        var header = VhdDynamicHeader.Parse(headerBytes);
        var blockSize = header.BlockSize;
        if (blockSize < VhdLayout.SectorSize || blockSize > 256u * 1024 * 1024 || (blockSize & (blockSize - 1)) != 0)
            throw new VhdFormatException($"Unsupported VHD block size {blockSize}.");
        if ((long)header.MaxTableEntries * blockSize < footer.CurrentSize)
            throw new VhdFormatException("The BAT does not cover the disk's virtual size.");

        await SkipToAsync(header.TableOffset, "BAT", cancellationToken);
        var bat = new byte[VhdLayout.RoundUpToSector(4L * header.MaxTableEntries)];
        await ReadExactAsync(bat, cancellationToken);
        var blocks = new List<(long Offset, long Block)>();
        for (long i = 0; i < header.MaxTableEntries; i++)
        {
            var entry = BinaryPrimitives.ReadUInt32BigEndian(bat.AsSpan((int)(i * 4)));
            if (entry != VhdLayout.UnusedBatEntry) blocks.Add(((long)entry * VhdLayout.SectorSize, i));
        }

        blocks.Sort();
        var bitmapSize = VhdLayout.BitmapSize((int)blockSize);
        var bitmap = new byte[bitmapSize];
        var data = ArrayPool<byte>.Shared.Rent((int)blockSize);
        try
        {
            foreach (var (offset, block) in blocks)
            {
                await SkipToAsync(offset, $"block {block}", cancellationToken);
                await ReadExactAsync(bitmap, cancellationToken);
                await ReadExactAsync(data.AsMemory(0, (int)blockSize), cancellationToken);
                await WritePresentSectorsAsync(block * blockSize, bitmap, data.AsMemory(0, (int)blockSize), footer.CurrentSize, write, cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
        }

        // The trailing footer (and anything after the last block) carries no data.
        while (await _input.ReadAsync(_skipBuffer, cancellationToken) is var n and > 0) _position += n;
    }

    private static async Task WritePresentSectorsAsync(long blockStart, byte[] bitmap, ReadOnlyMemory<byte> data, long diskSize,
        Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        var sectors = data.Length / VhdLayout.SectorSize;
        var sector = 0;
        while (sector < sectors)
        {
            if (!IsPresent(bitmap, sector))
            {
                sector++;
                continue;
            }

            var first = sector;
            while (sector < sectors && IsPresent(bitmap, sector)) sector++;
            var start = blockStart + (long)first * VhdLayout.SectorSize;
            var length = (long)(sector - first) * VhdLayout.SectorSize;
            length = Math.Min(length, diskSize - start); // a last block may reach past the disk's end
            if (length > 0) await write(start, data.Slice(first * VhdLayout.SectorSize, (int)length), cancellationToken);
        }
    }

    private static bool IsPresent(byte[] bitmap, int sector) => (bitmap[sector / 8] & (0x80 >> (sector % 8))) != 0;

    private async Task SkipToAsync(long offset, string what, CancellationToken cancellationToken)
    {
        if (offset < _position)
            throw new VhdFormatException($"The {what} at offset {offset} precedes the stream position {_position}; VHD streams must be forward-only.");
        while (_position < offset)
        {
            var n = await _input.ReadAsync(_skipBuffer.AsMemory(0, (int)Math.Min(_skipBuffer.Length, offset - _position)), cancellationToken);
            if (n == 0) throw new VhdFormatException($"The stream ended before the {what} at offset {offset}.");
            _position += n;
        }
    }

    private async Task ReadExactAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await _input.ReadExactlyAsync(buffer, cancellationToken);
        }
        catch (EndOfStreamException e)
        {
            throw new VhdFormatException($"The VHD stream ended early (after {_position} bytes).", e);
        }

        _position += buffer.Length;
    }
}
