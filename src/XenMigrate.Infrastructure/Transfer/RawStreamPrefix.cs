namespace XenMigrate.Infrastructure.Transfer;

/// <summary>
/// The start of an <c>export_raw_vdi?format=raw</c> stream: every byte of the disk, so its length
/// is the virtual size. Only its first bytes are read, to tell a disk from an error page.
/// </summary>
public sealed class RawStreamPrefix : IExportPrefix
{
    private const int Unit = 2 * 1024 * 1024;
    private const int Probe = 64 * 1024;

    private RawStreamPrefix(byte[] bytes, long virtualSize)
    {
        Bytes = bytes;
        VirtualSize = virtualSize;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    public long StreamLength => VirtualSize;

    public long VirtualSize { get; }

    public uint BlockSize => Unit;

    public int UsedBlocks => (int)Math.Min(int.MaxValue, (VirtualSize + Unit - 1) / Unit);

    public bool IsDifferencing => false;

    /// <param name="virtualSize">The source VDI's virtual size (a raw stream does not say it).</param>
    public static async Task<RawStreamPrefix> ReadAsync(Stream stream, long virtualSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(virtualSize);
        var bytes = new byte[(int)Math.Min(virtualSize, Probe)];
        var got = await stream.ReadAtLeastAsync(bytes, bytes.Length, throwOnEndOfStream: false, cancellationToken);
        // A disk may start with anything; a short body that starts like a page is one.
        if (got < bytes.Length)
        {
            ExportErrorPage.ThrowIfErrorPage(bytes.AsSpan(0, got));
            throw new InvalidExportStreamException($"The raw stream ended after {got} of {virtualSize} bytes.");
        }

        return new RawStreamPrefix(bytes, virtualSize);
    }
}
