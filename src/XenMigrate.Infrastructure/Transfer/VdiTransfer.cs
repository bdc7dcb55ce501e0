using System.Net.Sockets;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Transfer;

/// <summary>
/// Copies a VDI from one host to another without shared storage (xapi
/// ocaml/xapi/export_raw_vdi.ml and import_raw_vdi.ml, each under a task of its own): <c>GET /export_raw_vdi?format=…</c> on the source is piped straight into
/// <c>PUT /import_raw_vdi?format=…</c> on the destination, in a <see cref="TransferFormat"/> the
/// caller chooses (VHD unless told otherwise). The disk is never held in memory nor on the
/// gateway's disk: the stream's metadata (a VHD's footer, header and BAT; qcow2's header and
/// refcounts; for raw the virtual size) gives the exact stream length (xapi needs a
/// Content-Length), then the stream flows through one pooled buffer. Success means both hosts' tasks succeeded and every byte of the computed
/// length went through. One HTTP client per host is kept for all copies; dispose to close them.
/// </summary>
public sealed partial class VdiTransfer : IDisposable
{
    private const string ExportMethod = "export_raw_vdi";
    private const string ImportMethod = "import_raw_vdi";

    private readonly VdiTransferOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Lazy<HttpClient>> _clients = new(StringComparer.Ordinal);
    private int _disposed;

    public VdiTransfer(VdiTransferOptions? options = null, ILogger<VdiTransfer>? logger = null)
    {
        _options = options ?? new VdiTransferOptions();
        _options.Validate();
        _logger = logger ?? NullLogger<VdiTransfer>.Instance;
    }

    /// <summary>
    /// Copies <paramref name="sourceVdiRef"/> (a snapshot or a halted VM's disk) onto
    /// <paramref name="destinationVdiRef"/>, an unattached VDI at least as large. With
    /// <paramref name="baseVdiRef"/>, only the blocks that may differ from that earlier snapshot
    /// travel, and the destination must already hold the base's content (a previous copy).
    /// </summary>
    /// <exception cref="VdiTransferException">Either host failed, the export was cut short or malformed, or data stopped flowing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; both tasks are cancelled.</exception>
    /// <param name="sourceBase">The host to export from (a pool member that sees the VDI's SR); the session's host when null.</param>
    /// <param name="destinationBase">The host to import into, likewise.</param>
    /// <param name="format">The stream format; a base needs <see cref="TransferFormat.Vhd"/> or <see cref="TransferFormat.Qcow2"/>.</param>
    public async Task<TransferResult> CopyAsync(XapiSession source, string sourceVdiRef, string? baseVdiRef,
        XapiSession destination, string destinationVdiRef, IProgress<TransferProgress>? progress, CancellationToken cancellationToken,
        Uri? sourceBase = null, Uri? destinationBase = null, TransferFormat format = TransferFormat.Vhd)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceVdiRef);
        ArgumentException.ThrowIfNullOrWhiteSpace(destinationVdiRef);
        if (baseVdiRef is not null) ArgumentException.ThrowIfNullOrWhiteSpace(baseVdiRef);
        if (baseVdiRef is not null && format == TransferFormat.Raw)
            throw new ArgumentException("A raw stream carries the whole disk: it cannot be a delta over a base.", nameof(format));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        using var copy = new Copy(this, source, sourceVdiRef, baseVdiRef, destination, destinationVdiRef, progress,
            sourceBase ?? source.BaseUri, destinationBase ?? destination.BaseUri, format);
        return await copy.RunAsync(cancellationToken);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var client in _clients.Values)
            if (client.IsValueCreated) client.Value.Dispose();
        _clients.Clear();
    }

    /// <summary>One client per host (and pinned certificate), reused by every copy from or to it.</summary>
    private HttpClient ClientFor(XapiHostOptions host) =>
        _clients.GetOrAdd($"{host.Url}\n{host.Thumbprint}", _ => new Lazy<HttpClient>(() =>
            new HttpClient(XapiHttp.CreateHandler(host)) { Timeout = Timeout.InfiniteTimeSpan })).Value;

    /// <summary><c>{base}/{handler}?k=v&amp;…</c> with every value escaped. The URL carries the session ref: never log it.</summary>
    private static Uri HandlerUri(Uri baseUri, string handler, params (string Key, string? Value)[] query)
    {
        var path = new StringBuilder(handler);
        var separator = '?';
        foreach (var (key, value) in query)
        {
            if (value is null) continue;
            path.Append(separator).Append(key).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        return new Uri(baseUri, path.ToString());
    }

    /// <summary>The state of one copy, from creating its tasks to their outcome.</summary>
    private sealed class Copy : IDisposable
    {
        private static readonly Task<(bool Settled, string? Value, Exception? Error)> Unsent = Task.FromResult<(bool, string?, Exception?)>((false, null, null));

        private readonly VdiTransfer _owner;
        private readonly XapiSession _source;
        private readonly XapiSession _destination;
        private readonly string _sourceVdi;
        private readonly string? _baseVdi;
        private readonly string _destinationVdi;
        private readonly IProgress<TransferProgress>? _progress;
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly CancellationTokenSource _stall = new();
        private readonly Stack<IDisposable> _held = new();
        private string? _exportTask;
        private string? _importTask;
        private bool _exportSettled;
        private bool _importSettled;
        private long _total = -1;
        private long _copied;
        private long _lastReport;
        private volatile EarlyFailure? _taskFailedEarly;
        private bool _stalled;
        private bool _exportSent;
        private bool _importSent;
        private IExportPrefix? _prefix;
        private readonly TransferFormat _format;

        private readonly Uri _sourceBase;
        private readonly Uri _destinationBase;

        public Copy(VdiTransfer owner, XapiSession source, string sourceVdi, string? baseVdi, XapiSession destination,
            string destinationVdi, IProgress<TransferProgress>? progress, Uri sourceBase, Uri destinationBase, TransferFormat format)
        {
            _format = format;
            _sourceBase = sourceBase;
            _destinationBase = destinationBase;
            _owner = owner;
            _source = source;
            _sourceVdi = sourceVdi;
            _baseVdi = baseVdi;
            _destination = destination;
            _destinationVdi = destinationVdi;
            _progress = progress;
        }

        private VdiTransferOptions Options => _owner._options;

        private ILogger Logger => _owner._logger;

        public void Dispose()
        {
            ReleaseConnections();
            _stall.Dispose();
        }

        /// <summary>
        /// Keeps a request, response or stream until the tasks have settled: closing the import's
        /// connection right after the last byte could abort a host still writing it.
        /// </summary>
        private T Hold<T>(T disposable) where T : IDisposable
        {
            _held.Push(disposable);
            return disposable;
        }

        private void ReleaseConnections()
        {
            while (_held.TryPop(out var held)) held.Dispose();
        }

        private string Describe() =>
            $"Copying VDI {_sourceVdi}{(_baseVdi is null ? "" : $" (delta over {_baseVdi})")} as {FormatName} from {_source.Host.Name} to VDI {_destinationVdi} on {_destination.Host.Name}";

        public async Task<TransferResult> RunAsync(CancellationToken cancellationToken)
        {
            LogStarting(Logger, _sourceVdi, _source.Host.Name, _destinationVdi, _destination.Host.Name, _baseVdi ?? "none");
            try
            {
                _exportTask = await CreateTaskAsync(_source, TransferSide.Source,
                    "XenMigrate: export VDI", $"VDI {_sourceVdi} to {_destination.Host.Name}", cancellationToken);
                _importTask = await CreateTaskAsync(_destination, TransferSide.Destination,
                    "XenMigrate: import VDI", $"VDI {_destinationVdi} from {_source.Host.Name}", cancellationToken);

                var streamError = await StreamAsync(cancellationToken);
                // After a failure the connections are closed, so both tasks end soon and say why; one
                // still pending after the grace (its request may never have reached the host) is cancelled.
                var failed = streamError is not null;
                var timeout = failed ? Options.FailureGrace : Options.TaskTimeout;
                // A task whose request never went out has nobody working on it: it is just destroyed.
                var export = _exportSent ? SettleAsync(_source, _exportTask, ExportMethod, timeout, failed, cancellationToken) : Unsent;
                var import = _importSent ? SettleAsync(_destination, _importTask, ImportMethod, timeout, failed, cancellationToken) : Unsent;
                await Task.WhenAll(export, import);
                _exportSettled = export.Result.Settled;
                _importSettled = import.Result.Settled;
                ReleaseConnections();

                if (streamError is null && export.Result.Error is null && import.Result.Error is null)
                {
                    var prefix = _prefix!;
                    var elapsed = Stopwatch.GetElapsedTime(_started);
                    LogCopied(Logger, _sourceVdi, _destination.Host.Name, _copied, prefix.UsedBlocks, elapsed.TotalSeconds);
                    XenMigrateTelemetry.RecordBytesMoved(_copied, prefix.IsDifferencing);
                    return new TransferResult(_copied, prefix.VirtualSize, prefix.UsedBlocks, prefix.BlockSize, prefix.IsDifferencing,
                        elapsed, import.Result.Value ?? string.Empty);
                }

                var failure = Failure(streamError, export.Result.Error, import.Result.Error);
                LogFailed(Logger, _sourceVdi, _destination.Host.Name, failure.Message);
                throw failure;
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested)
            {
                ReleaseConnections();
                await AbandonTasksAsync();
                LogCancelled(Logger, _sourceVdi, _destination.Host.Name, Interlocked.Read(ref _copied));
                if (e is OperationCanceledException) throw;
                throw new OperationCanceledException("The VDI copy was cancelled.", e, cancellationToken);
            }
            finally
            {
                await DestroyUnsettledTasksAsync();
            }
        }

        private async Task<string> CreateTaskAsync(XapiSession session, TransferSide side, string label, string description,
            CancellationToken cancellationToken)
        {
            try
            {
                return await session.CallForStringAsync("task.create", cancellationToken, label, description);
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                throw new VdiTransferException($"{Describe()} failed before any data moved: no task could be created on {session.Host.Name} ({e.Message}).",
                    side, 0, null, null, null, e);
            }
        }

        /// <summary>
        /// Export → prefix → import with the computed length. Returns the failure (null when every
        /// byte went through); a cancellation by the caller is thrown instead.
        /// </summary>
        private async Task<Exception?> StreamAsync(CancellationToken cancellationToken)
        {
            using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stall.Token);
            using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(abort.Token);
            var watchers = Task.WhenAll(
                WatchTaskAsync(_source, _exportTask!, TransferSide.Source, abort, watchStop.Token),
                WatchTaskAsync(_destination, _importTask!, TransferSide.Destination, abort, watchStop.Token));
            try
            {
                await PipeAsync(abort.Token);
                return null;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _stalled = _stall.IsCancellationRequested;
                ReleaseConnections(); // closing them is how both hosts learn the copy is off
                return e;
            }
            catch
            {
                ReleaseConnections();
                throw;
            }
            finally
            {
                _stall.CancelAfter(Timeout.InfiniteTimeSpan); // disarmed: waiting for the tasks is not a stall
                await watchStop.CancelAsync();
                await watchers;
            }
        }

        private string FormatName => _format.ToString().ToLowerInvariant();

        private async Task PipeAsync(CancellationToken token)
        {
            Touch();
            // A raw stream does not say how long it is: the VDI's size does.
            var rawLength = _format == TransferFormat.Raw
                ? XapiValues.Int(await _source.CallAsync("VDI.get_virtual_size", token, _sourceVdi)) : 0;
            var exportUri = HandlerUri(_sourceBase, ExportMethod, ("session_id", _source.SessionRef), ("task_id", _exportTask),
                ("vdi", _sourceVdi), ("base", _baseVdi), ("format", FormatName));
            var get = Hold(new HttpRequestMessage(HttpMethod.Get, exportUri));
            _exportSent = true;
            var exported = Hold(await SendAsync(_source, get, TransferSide.Source, "opening the export", token));
            if (exported.StatusCode != HttpStatusCode.OK)
                throw new TransferFaultException(TransferSide.Source, $"export_raw_vdi answered HTTP {(int)exported.StatusCode}");
            var body = Hold(await exported.Content.ReadAsStreamAsync(token));

            Touch();
            IExportPrefix prefix;
            try
            {
                prefix = _format switch
                {
                    TransferFormat.Qcow2 => await Qcow2StreamPrefix.ReadAsync(body, _baseVdi is not null, token),
                    TransferFormat.Raw => await RawStreamPrefix.ReadAsync(body, rawLength, token),
                    _ => await VhdStreamPrefix.ReadAsync(body, token),
                };
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !token.IsCancellationRequested)
            {
                throw new TransferFaultException(TransferSide.Source, $"reading the export's {FormatName} header failed ({e.Message})", e);
            }

            _prefix = prefix;
            Interlocked.Exchange(ref _total, prefix.StreamLength);
            LogStream(Logger, _sourceVdi, FormatName, prefix.StreamLength, prefix.UsedBlocks, prefix.VirtualSize, prefix.IsDifferencing);
            Report(0, force: true);

            Touch();
            var importUri = HandlerUri(_destinationBase, ImportMethod, ("session_id", _destination.SessionRef), ("task_id", _importTask),
                ("vdi", _destinationVdi), ("format", FormatName));
            var content = Hold(new StreamedUploadContent(prefix.Bytes, body, prefix.StreamLength, Options.BufferSize,
                written =>
                {
                    Touch();
                    Report(written, force: written == prefix.StreamLength);
                },
                Touch));
            var put = Hold(new HttpRequestMessage(HttpMethod.Put, importUri) { Content = content });
            _importSent = true;
            // The request completes once the whole body is sent (xapi answers 200 before reading it).
            var imported = Hold(await SendAsync(_destination, put, TransferSide.Destination, "sending to the import", token));
            if (imported.StatusCode != HttpStatusCode.OK)
                throw new TransferFaultException(TransferSide.Destination, $"import_raw_vdi answered HTTP {(int)imported.StatusCode}");
            if (content.BytesWritten != prefix.StreamLength)
                throw new TransferFaultException(TransferSide.Destination,
                    $"only {content.BytesWritten} of {prefix.StreamLength} bytes reached the import");
        }

        private async Task<HttpResponseMessage> SendAsync(XapiSession session, HttpRequestMessage request, TransferSide side, string what,
            CancellationToken token)
        {
            try
            {
                return await _owner.ClientFor(session.Host).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
            }
            // A connection reset just after connect can escape HttpClient as a bare SocketException.
            catch (Exception e) when (e is HttpRequestException or SocketException or IOException
                                      && Find<TransferFaultException>(e) is null && !token.IsCancellationRequested)
            {
                // The message names the host and the failure, never the URL (it carries the session ref).
                throw new TransferFaultException(side, $"{what} on {session.Host.Name} failed ({Describe(e)})", e);
            }
        }

        /// <summary>Stops the copy as soon as either host's task fails, instead of waiting on a dead connection.</summary>
        private async Task WatchTaskAsync(XapiSession session, string task, TransferSide side, CancellationTokenSource abort, CancellationToken stop)
        {
            while (true)
            {
                try
                {
                    await Task.Delay(Options.TaskPollInterval, stop);
                    var status = await session.CallForStringAsync("task.get_status", stop, task);
                    if (status == "success") return;
                    if (status is "failure" or "cancelled")
                    {
                        _taskFailedEarly = new EarlyFailure(side, $"the {(side == TransferSide.Source ? "export" : "import")} task on {session.Host.Name} ended ({status}) while data was flowing");
                        await abort.CancelAsync();
                        return;
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException)
                {
                    // Not conclusive; the data connections and the final task check will tell.
                }
            }
        }

        private void Touch()
        {
            try
            {
                _stall.CancelAfter(Options.StallTimeout);
            }
            catch (ObjectDisposedException)
            {
                // The copy is over.
            }
        }

        private void Report(long written, bool force)
        {
            Interlocked.Exchange(ref _copied, written);
            if (_progress is null) return;
            var now = Stopwatch.GetTimestamp();
            if (!force && Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastReport), now) < Options.ProgressInterval) return;
            Interlocked.Exchange(ref _lastReport, now);
            _progress.Report(new TransferProgress(written, Interlocked.Read(ref _total)));
        }

        /// <summary>
        /// Waits for a task's end (AwaitTaskAsync destroys it then, success or not). With
        /// <paramref name="cancelIfPending"/>, a task still pending at the timeout has been cancelled by
        /// AwaitTaskAsync: its end is awaited too, and our own cancellation is not reported as its error.
        /// </summary>
        private async Task<(bool Settled, string? Value, Exception? Error)> SettleAsync(XapiSession session, string task, string method,
            TimeSpan timeout, bool cancelIfPending, CancellationToken cancellationToken)
        {
            try
            {
                return (true, await session.AwaitTaskAsync(task, method, timeout, cancellationToken), null);
            }
            catch (XapiException e)
            {
                return (e.Method == method, null, e);
            }
            catch (TimeoutException) when (cancelIfPending && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await session.AwaitTaskAsync(task, method, Options.CleanupTimeout, cancellationToken);
                    return (true, null, null);
                }
                catch (XapiException e) when (e.Method == method)
                {
                    return (true, null, e.Code == XapiException.TaskCancelled ? null : e);
                }
                catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    return (false, null, null);
                }
            }
            catch (Exception e) when (e is XapiTransportException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                return (false, null, e);
            }
        }

        private VdiTransferException Failure(Exception? streamError, Exception? exportError, Exception? importError)
        {
            // The side that broke first is the one at fault: a cut export also fails the import.
            var fault = Find<TransferFaultException>(streamError);
            var early = _taskFailedEarly;
            var side = early?.Side ?? fault?.Side
                ?? (importError is not null ? TransferSide.Destination : exportError is not null ? TransferSide.Source : null);
            var cause = early is not null ? early.Cause
                : _stalled ? $"no data moved for {Options.StallTimeout}"
                : fault is not null ? fault.Message
                : streamError is InvalidExportStreamException invalid ? $"the export is not a usable {FormatName} stream: {invalid.Message}"
                : streamError is not null ? Describe(streamError)
                : importError is not null ? $"the import task on {_destination.Host.Name} failed"
                : $"the export task on {_source.Host.Name} failed";
            var total = Interlocked.Read(ref _total);
            var copied = Interlocked.Read(ref _copied);
            var message = new StringBuilder()
                .Append(Describe()).Append(" failed after ").Append(copied.ToString(CultureInfo.InvariantCulture))
                .Append(total >= 0 ? $" of {total.ToString(CultureInfo.InvariantCulture)} bytes" : " bytes")
                .Append(": ").Append(cause).Append('.');
            if (importError is not null) message.Append(" Import task on ").Append(_destination.Host.Name).Append(": ").Append(importError.Message);
            if (exportError is not null) message.Append(" Export task on ").Append(_source.Host.Name).Append(": ").Append(exportError.Message);
            message.Append(_importSent
                ? " The destination VDI is incomplete and must not be used."
                : " Nothing was sent to the destination VDI.");
            return new VdiTransferException(message.ToString(), side, copied, total >= 0 ? total : null, exportError, importError,
                streamError ?? importError ?? exportError);
        }

        private static string Describe(Exception e)
        {
            var messages = new List<string>();
            for (var x = e; x is not null && messages.Count < 3; x = x.InnerException) messages.Add(x.Message);
            return string.Join(": ", messages.Distinct(StringComparer.Ordinal));
        }

        private static T? Find<T>(Exception? e) where T : Exception
        {
            for (var x = e; x is not null; x = x.InnerException)
                if (x is T found) return found;
            return null;
        }

        /// <summary>After a cancellation: ask both hosts to stop, and wait a little for the tasks to end.</summary>
        private async Task AbandonTasksAsync()
        {
            await Task.WhenAll(
                AbandonAsync(_source, _exportTask, _exportSettled || !_exportSent, ExportMethod, () => _exportSettled = true),
                AbandonAsync(_destination, _importTask, _importSettled || !_importSent, ImportMethod, () => _importSettled = true));
        }

        private async Task AbandonAsync(XapiSession session, string? task, bool skip, string method, Action markSettled)
        {
            if (task is null || skip) return; // settled already, or never used (destroyed below)
            try
            {
                using var cts = new CancellationTokenSource(Options.CleanupTimeout);
                await session.CallAsync("task.cancel", cts.Token, task);
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or OperationCanceledException or TimeoutException)
            {
                // It may have finished already; waiting below tells.
            }

            try
            {
                await session.AwaitTaskAsync(task, method, Options.CleanupTimeout, CancellationToken.None);
                markSettled();
            }
            catch (XapiException e) when (e.Method == method)
            {
                markSettled(); // finished (cancelled or failed) and destroyed
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or OperationCanceledException or TimeoutException)
            {
                // Left for the final clean-up.
            }
        }

        /// <summary>Tasks whose end was never seen are destroyed (xapi would keep them until its GC).</summary>
        private async Task DestroyUnsettledTasksAsync()
        {
            foreach (var (session, task, settled) in new[] { (_source, _exportTask, _exportSettled), (_destination, _importTask, _importSettled) })
            {
                if (task is null || settled) continue;
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await session.CallAsync("task.destroy", cts.Token, task);
                }
                catch (Exception e) when (e is XapiException or XapiTransportException or OperationCanceledException or TimeoutException)
                {
                    // Best effort.
                }
            }
        }
    }

    /// <summary>A host's task failed while data was still flowing.</summary>
    private sealed record EarlyFailure(TransferSide Side, string Cause);

    [LoggerMessage(Level = LogLevel.Information, Message = "Copying VDI {SourceVdi} from {SourceHost} to VDI {DestinationVdi} on {DestinationHost} (base {BaseVdi})")]
    private static partial void LogStarting(ILogger logger, string sourceVdi, string sourceHost, string destinationVdi, string destinationHost, string baseVdi);

    [LoggerMessage(Level = LogLevel.Information, Message = "Export of VDI {SourceVdi} as {Format}: {Length} bytes, {Blocks} blocks, virtual size {VirtualSize}, differencing {Differencing}")]
    private static partial void LogStream(ILogger logger, string sourceVdi, string format, long length, int blocks, long virtualSize, bool differencing);

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied VDI {SourceVdi} to {DestinationHost}: {Bytes} bytes ({Blocks} blocks) in {Seconds:F1} s")]
    private static partial void LogCopied(ILogger logger, string sourceVdi, string destinationHost, long bytes, int blocks, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VDI copy of {SourceVdi} to {DestinationHost} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string sourceVdi, string destinationHost, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "VDI copy of {SourceVdi} to {DestinationHost} cancelled after {Bytes} bytes")]
    private static partial void LogCancelled(ILogger logger, string sourceVdi, string destinationHost, long bytes);
}
