using System.Text.RegularExpressions;

namespace XenMigrate.Infrastructure.Transfer;

/// <summary>
/// The stream formats a VDI copy can use, as <c>export_raw_vdi</c> and <c>import_raw_vdi</c> name
/// them: <c>vhd</c> (sparse, deltas over a VHD base, up to 2040 GiB), <c>qcow2</c> (sparse, deltas
/// over any base, any size; XCP-ng 8.3's qcow2-to-stdout) and <c>raw</c> (every byte: the one an
/// SR that must have zeroes written into new VDIs takes).
/// </summary>
public enum TransferFormat
{
    Vhd,
    Qcow2,
    Raw,
}

/// <summary>
/// What was read of an export before the import could start: the bytes consumed (sent on first)
/// and the exact length of the whole stream (xapi's import needs a Content-Length).
/// </summary>
public interface IExportPrefix
{
    ReadOnlyMemory<byte> Bytes { get; }

    long StreamLength { get; }

    long VirtualSize { get; }

    /// <summary>The format's unit: a VHD block, a qcow2 cluster, 2 MiB for raw.</summary>
    uint BlockSize { get; }

    /// <summary>The units the stream carries.</summary>
    int UsedBlocks { get; }

    /// <summary>A delta over a base rather than the whole disk.</summary>
    bool IsDifferencing { get; }
}

/// <summary>An export stream that is not what its format says, or was cut short inside its metadata.</summary>
public class InvalidExportStreamException(string message) : Exception(message);

/// <summary>
/// A real host can answer 200 and then put a whole HTTP error page in the body (xen-api issue
/// #4603, an SR_BACKEND_FAILURE_46; Xen Orchestra checks for it too): name it, rather than call
/// it a malformed stream.
/// </summary>
public static partial class ExportErrorPage
{
    public static bool StartsLikeOne(ReadOnlySpan<byte> start) => start.Length >= 5 && start[..5].SequenceEqual("HTTP/"u8);

    public static void ThrowIfErrorPage(ReadOnlySpan<byte> start)
    {
        if (!StartsLikeOne(start)) return;
        var text = System.Text.Encoding.ASCII.GetString(start);
        var end = text.IndexOfAny(['\r', '\n']);
        var statusLine = end > 0 ? text[..end] : text[..Math.Min(text.Length, 80)];
        var code = XapiErrorCode().Match(text).Value;
        throw new InvalidExportStreamException($"The export answered 200, then an HTTP error page in its body ({statusLine}{(code.Length > 0 ? $", {code}" : "")}).");
    }

    [GeneratedRegex("[A-Z][A-Z0-9]*_[A-Z0-9_]+")]
    private static partial Regex XapiErrorCode();
}

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
