using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// Lets a handler send a body that ends when the connection closes, with no Transfer-Encoding
/// header, as xapi does (http.ml 44-55: <c>HTTP/1.1 200 OK</c>, <c>Connection: close</c>, no length).
/// <para>
/// Kestrel cannot do that by itself for an HTTP/1.1 request: with neither Content-Length nor
/// Transfer-Encoding it always chunks (HttpProtocol.CreateResponseHeaders; dotnet/aspnetcore#59055
/// asks for a switch and is open), and the request's version, which decides it, is no longer
/// settable (HttpRequest.Protocol only changes what the application reads). An explicit
/// non-chunked <c>Transfer-Encoding: identity</c> makes Kestrel frame nothing and close the
/// connection after the body, but then sends that header. So this connection middleware, which
/// sits between Kestrel's HTTP layer and the socket, takes that one header line out of the
/// response head a handler marks (<see cref="ICloseDelimitedResponseFeature"/>): the head is the
/// next thing Kestrel writes on the connection after the mark, so no body byte is ever inspected.
/// </para>
/// </summary>
internal static class CloseDelimitedResponses
{
    public static ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        var transport = connection.Transport;
        var filtered = new FilteredTransport(transport);
        connection.Transport = filtered;
        connection.Features.Set<ICloseDelimitedResponseFeature>(filtered.Writer);
        try
        {
            await next(connection);
        }
        finally
        {
            connection.Transport = transport;
        }
    };

    private sealed class FilteredTransport(IDuplexPipe inner) : IDuplexPipe
    {
        public HeadFilteringWriter Writer { get; } = new(inner.Output);

        public PipeReader Input => inner.Input;

        public PipeWriter Output => Writer;
    }

    /// <summary>
    /// Passes everything through to the socket's writer, except that once marked it holds the next
    /// response head (up to its blank line), drops its Transfer-Encoding line and sends the rest.
    /// </summary>
    internal sealed class HeadFilteringWriter(PipeWriter inner) : PipeWriter, ICloseDelimitedResponseFeature
    {
        private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
        private static readonly byte[] TransferEncodingLine = "\r\nTransfer-Encoding:"u8.ToArray();

        private readonly ArrayBufferWriter<byte> _head = new();
        private byte[]? _lease;
        private volatile bool _marked;

        public void DropTransferEncodingFromNextResponseHead() => _marked = true;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes + _head.WrittenCount;

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            if (!_marked) return inner.GetMemory(sizeHint);
            var size = Math.Max(sizeHint, 4096);
            if (_lease is null || _lease.Length < size)
            {
                if (_lease is not null) ArrayPool<byte>.Shared.Return(_lease);
                _lease = ArrayPool<byte>.Shared.Rent(size);
            }

            return _lease;
        }

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override void Advance(int bytes)
        {
            if (!_marked)
            {
                inner.Advance(bytes);
                return;
            }

            _head.Write(_lease.AsSpan(0, bytes));
            var written = _head.WrittenSpan;
            var end = written.IndexOf(HeadEnd);
            if (end < 0) return;
            // The head is complete: send it without its Transfer-Encoding line, then what followed.
            var head = written[..(end + 2)];
            var line = head.IndexOf(TransferEncodingLine);
            if (line >= 0)
            {
                var lineEnd = head[(line + 2)..].IndexOf("\r\n"u8) + line + 2;
                inner.Write(head[..line]);
                inner.Write(head[lineEnd..]);
            }
            else
            {
                inner.Write(head);
            }

            inner.Write(written[(end + 2)..]);
            _head.Clear();
            _marked = false;
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            if (!_marked) return inner.WriteAsync(source, cancellationToken);
            source.Span.CopyTo(GetSpan(source.Length));
            Advance(source.Length);
            return FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            ReleaseLease();
            inner.Complete(exception);
        }

        public override ValueTask CompleteAsync(Exception? exception = null)
        {
            ReleaseLease();
            return inner.CompleteAsync(exception);
        }

        private void ReleaseLease()
        {
            if (_lease is null) return;
            ArrayPool<byte>.Shared.Return(_lease);
            _lease = null;
        }
    }
}

/// <summary>Set by <see cref="CloseDelimitedResponses"/> on every connection.</summary>
internal interface ICloseDelimitedResponseFeature
{
    /// <summary>The response about to start goes out without its Transfer-Encoding header.</summary>
    void DropTransferEncodingFromNextResponseHead();
}
