using System.Buffers;
using System.Net;

namespace XenMigrate.Infrastructure.Transfer;

/// <summary>
/// The body of <c>PUT /import_raw_vdi</c>: the already-read VHD prefix, then the rest of the export
/// stream, through one pooled buffer, with a fixed Content-Length (xapi refuses chunked bodies).
/// Exactly <c>length</c> bytes go out. An export that ends early fails the upload before the
/// last bytes are written; one that goes on past the computed length fails it before the final
/// chunk — either way the import sees a short body and fails, and never a wrong disk.
/// It is never buffered: it cannot be read back, and cannot be sent twice once the export has
/// been consumed.
/// </summary>
internal sealed class StreamedUploadContent : HttpContent
{
    private readonly ReadOnlyMemory<byte> _prefix;
    private readonly Stream _source;
    private readonly long _length;
    private readonly int _bufferSize;
    private readonly Action<long> _onProgress;
    private readonly Action _onActivity;
    private readonly byte[] _probe = new byte[1];
    private long _bytesWritten;
    private bool _sourceConsumed;

    /// <param name="prefix">Bytes already read from the export (sent first).</param>
    /// <param name="source">The rest of the export.</param>
    /// <param name="length">The exact length of the whole stream.</param>
    /// <param name="bufferSize">Size of the pooled copy buffer.</param>
    /// <param name="onProgress">Called with the running total after every write.</param>
    /// <param name="onActivity">Called whenever bytes arrive from the export, however few (stall detection).</param>
    public StreamedUploadContent(ReadOnlyMemory<byte> prefix, Stream source, long length, int bufferSize, Action<long> onProgress, Action onActivity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, prefix.Length);
        _prefix = prefix;
        _source = source;
        _length = length;
        _bufferSize = bufferSize;
        _onProgress = onProgress;
        _onActivity = onActivity;
        Headers.ContentLength = length;
    }

    /// <summary>Bytes written to the request so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Bytes read from the export so far (prefix included).</summary>
    public long BytesReceived { get; private set; }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // A retry by the handler (e.g. a stale pooled connection) is fine only while the export is untouched.
        if (_sourceConsumed)
            throw new InvalidOperationException("The upload cannot be sent again: part of the export has already been consumed.");
        Interlocked.Exchange(ref _bytesWritten, 0);
        BytesReceived = _prefix.Length;
        await stream.WriteAsync(_prefix, cancellationToken);
        // Out now, with the headers: the host starts its import (and its task) before the first block arrives.
        await stream.FlushAsync(cancellationToken);
        Advance(_prefix.Length);

        var buffer = ArrayPool<byte>.Shared.Rent(_bufferSize);
        try
        {
            var remaining = _length - _prefix.Length;
            while (remaining > 0)
            {
                _sourceConsumed = true;
                var chunk = buffer.AsMemory(0, (int)Math.Min(_bufferSize, remaining));
                var read = await ReadSourceAsync(chunk, cancellationToken);
                if (read < chunk.Length)
                    throw new TransferFaultException(TransferSide.Source,
                        $"the export ended after {BytesReceived} of {_length} bytes");
                remaining -= read;
                if (remaining == 0) await EnsureSourceEndedAsync(cancellationToken);
                await stream.WriteAsync(chunk, cancellationToken);
                Advance(read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override Task<Stream> CreateContentReadStreamAsync() =>
        throw new NotSupportedException("A VDI upload is streamed, never buffered.");

    private void Advance(long bytes) => _onProgress(Interlocked.Add(ref _bytesWritten, bytes));

    private async Task<int> ReadSourceAsync(Memory<byte> chunk, CancellationToken cancellationToken)
    {
        // Fills the chunk (fewer, larger writes to the import) unless the export ends first.
        var filled = 0;
        while (filled < chunk.Length)
        {
            int read;
            try
            {
                read = await _source.ReadAsync(chunk[filled..], cancellationToken);
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                throw new TransferFaultException(TransferSide.Source, $"reading the export failed after {BytesReceived} of {_length} bytes ({e.Message})", e);
            }

            if (read == 0) break;
            filled += read;
            BytesReceived += read;
            _onActivity();
        }

        return filled;
    }

    /// <summary>The footer is in hand: the export must end here, or the computed length was wrong.</summary>
    private async Task EnsureSourceEndedAsync(CancellationToken cancellationToken)
    {
        int extra;
        try
        {
            extra = await _source.ReadAsync(_probe, cancellationToken);
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            throw new TransferFaultException(TransferSide.Source, $"the export broke off after its last byte ({e.Message})", e);
        }

        if (extra > 0)
            throw new TransferFaultException(TransferSide.Source,
                $"the export is longer than the {_length} bytes its VHD header announces; refusing to import it");
    }
}

/// <summary>A transfer step failed on one side; turned into a <see cref="VdiTransferException"/> by <see cref="VdiTransfer"/>.</summary>
internal sealed class TransferFaultException(TransferSide side, string message, Exception? inner = null) : IOException(message, inner)
{
    public TransferSide Side { get; } = side;
}
