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
