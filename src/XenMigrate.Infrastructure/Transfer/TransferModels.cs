namespace XenMigrate.Infrastructure.Transfer;

/// <summary>How far a VDI copy has got: bytes sent to the destination out of the VHD stream's length.</summary>
/// <param name="BytesCopied">Bytes of the VHD stream written to the import so far.</param>
/// <param name="TotalBytes">The stream's exact length; -1 until the VHD header has been read.</param>
public readonly record struct TransferProgress(long BytesCopied, long TotalBytes)
{
    /// <summary>0..1; 0 while the length is unknown.</summary>
    public double Fraction => TotalBytes > 0 ? Math.Min(1.0, (double)BytesCopied / TotalBytes) : 0;
}

/// <summary>A finished VDI copy: both hosts' tasks reported success.</summary>
/// <param name="BytesCopied">Bytes of VHD stream moved (equals the length computed from its header).</param>
/// <param name="VirtualSize">The disk's virtual size as the VHD footer gives it.</param>
/// <param name="BlocksCopied">Data blocks the stream carried (used BAT entries).</param>
/// <param name="BlockSize">VHD block size (2 MiB for xapi).</param>
/// <param name="Differencing">A delta over a base (VHD type 4) rather than the whole disk.</param>
/// <param name="Elapsed">From creating the tasks to both tasks finishing.</param>
/// <param name="ImportedVdiRef">The VDI the import task reports as its result.</param>
public sealed record TransferResult(long BytesCopied, long VirtualSize, int BlocksCopied, long BlockSize, bool Differencing,
    TimeSpan Elapsed, string ImportedVdiRef);

/// <summary>Which host a transfer failure belongs to.</summary>
public enum TransferSide
{
    /// <summary>The host exporting the VDI (<c>GET /export_raw_vdi</c>).</summary>
    Source,

    /// <summary>The host importing it (<c>PUT /import_raw_vdi</c>).</summary>
    Destination,
}

/// <summary>Tuning of <see cref="VdiTransfer"/>; the defaults suit real hosts.</summary>
public sealed class VdiTransferOptions
{
    public const int MinBufferSize = 64 * 1024;
    public const int MaxBufferSize = 16 * 1024 * 1024;

    /// <summary>Size of the one pooled buffer each copy moves data through.</summary>
    public int BufferSize { get; set; } = 1024 * 1024;

    /// <summary>A copy during which no byte moves for this long is abandoned.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>After the last byte, how long both hosts' tasks may take to finish.</summary>
    public TimeSpan TaskTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>While data flows, how often both tasks are checked (a failed task stops the copy at once).</summary>
    public TimeSpan TaskPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After a failure, how long a task still pending may take to end on its own (its error tells
    /// why) before it is cancelled.
    /// </summary>
    public TimeSpan FailureGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>After a cancellation (ours or the caller's), how long to wait for a task to end so it can be destroyed.</summary>
    public TimeSpan CleanupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Least time between two progress reports (the first and the last are always reported).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(BufferSize, MinBufferSize, nameof(BufferSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BufferSize, MaxBufferSize, nameof(BufferSize));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StallTimeout, TimeSpan.Zero, nameof(StallTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TaskTimeout, TimeSpan.Zero, nameof(TaskTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TaskPollInterval, TimeSpan.Zero, nameof(TaskPollInterval));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(FailureGrace, TimeSpan.Zero, nameof(FailureGrace));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CleanupTimeout, TimeSpan.Zero, nameof(CleanupTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(ProgressInterval, TimeSpan.Zero, nameof(ProgressInterval));
    }
}

/// <summary>
/// A VDI copy that did not complete: once data has been sent, the destination VDI holds partial
/// data and must not be used (nor reported as copied). Carries what each host's task said; never a
/// session ref.
/// </summary>
public sealed class VdiTransferException(string message, TransferSide? failedSide, long bytesCopied, long? expectedBytes,
    Exception? sourceTaskError, Exception? destinationTaskError, Exception? innerException)
    : Exception(message, innerException)
{
    /// <summary>The host at fault, when known (a failed import task wins over a failed export task).</summary>
    public TransferSide? FailedSide { get; } = failedSide;

    /// <summary>Bytes written to the import before the copy stopped.</summary>
    public long BytesCopied { get; } = bytesCopied;

    /// <summary>The VHD stream's computed length; null when its header was never read.</summary>
    public long? ExpectedBytes { get; } = expectedBytes;

    /// <summary>Why the export task failed (usually an <see cref="Xapi.XapiException"/>), if it did.</summary>
    public Exception? SourceTaskError { get; } = sourceTaskError;

    /// <summary>Why the import task failed (usually an <see cref="Xapi.XapiException"/>), if it did.</summary>
    public Exception? DestinationTaskError { get; } = destinationTaskError;
}
