using System.Diagnostics;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>The transfer was cut on purpose (<see cref="FaultInjector.CutNextExportAfter"/>).</summary>
internal sealed class TransferCutException(long bytes) : IOException($"Transfer cut after {bytes} bytes (injected fault).")
{
    public long Bytes { get; } = bytes;
}

/// <summary>
/// Wraps one side of a disk transfer: counts bytes (task progress), holds the rate to the
/// injected throttle, and for exports stops dead after an injected number of bytes.
/// </summary>
internal sealed class MeteredStream : Stream
{
    private const int ThrottledChunk = 64 * 1024;

    private readonly Stream _inner;
    private readonly FaultInjector _faults;
    private readonly long? _cutAfter;
    private readonly Action<long>? _progress;
    private long _windowStart = Stopwatch.GetTimestamp();
    private long _windowBytes;
    private double? _windowRate;

    public MeteredStream(Stream inner, FaultInjector faults, long? cutAfter = null, Action<long>? progress = null)
    {
        _inner = inner;
        _faults = faults;
        _cutAfter = cutAfter;
        _progress = progress;
    }

    public long BytesTransferred { get; private set; }

    public override bool CanRead => _inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => _inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => BytesTransferred;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var throttled = _faults.ThrottleMegabytesPerSecond is not null;
        var slice = throttled && buffer.Length > ThrottledChunk ? buffer[..ThrottledChunk] : buffer;
        var n = await _inner.ReadAsync(slice, cancellationToken);
        if (n > 0) await AccountAsync(n, cancellationToken);
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var chunk = _faults.ThrottleMegabytesPerSecond is not null && buffer.Length > ThrottledChunk ? buffer[..ThrottledChunk] : buffer;
            if (_cutAfter is { } cut && BytesTransferred + chunk.Length > cut)
            {
                var allowed = (int)(cut - BytesTransferred);
                if (allowed > 0) await _inner.WriteAsync(chunk[..allowed], cancellationToken);
                await _inner.FlushAsync(cancellationToken);
                BytesTransferred += allowed;
                throw new TransferCutException(cut);
            }

            await _inner.WriteAsync(chunk, cancellationToken);
            await AccountAsync(chunk.Length, cancellationToken);
            buffer = buffer[chunk.Length..];
        }
    }

    private async Task AccountAsync(int bytes, CancellationToken cancellationToken)
    {
        BytesTransferred += bytes;
        _progress?.Invoke(BytesTransferred);
        var rate = _faults.ThrottleMegabytesPerSecond;
        if (rate != _windowRate)
        {
            _windowRate = rate;
            _windowStart = Stopwatch.GetTimestamp();
            _windowBytes = 0;
        }

        if (rate is not { } megabytesPerSecond) return;
        _windowBytes += bytes;
        var due = TimeSpan.FromSeconds(_windowBytes / (megabytesPerSecond * 1_000_000));
        var ahead = due - Stopwatch.GetElapsedTime(_windowStart);
        if (ahead > TimeSpan.Zero) await Task.Delay(ahead, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Asynchronous use only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Asynchronous use only.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
