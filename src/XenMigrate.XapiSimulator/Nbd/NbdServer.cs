using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator.Nbd;

/// <summary>
/// The host's NBD server, as xapi-nbd serves VDIs (ocaml/nbd/src/main.ml over the nbd library's
/// Server, xapi-project/nbd lib/server.ml): fixed-newstyle negotiation; the export name is
/// <c>/&lt;vdi uuid&gt;?session_id=&lt;session ref&gt;</c> as VDI.get_nbd_info gives it; the session must be
/// valid and the VDI is attached read-only in dom0 for the connection's length; reads only
/// (NBD_FLAG_READ_ONLY, writes answer EPERM). A connection is refused unless a network has purpose
/// insecure_nbd (no TLS) or nbd (TLS), never both (main.ml:100-122). TLS itself is not modelled:
/// with purpose nbd every option is answered NBD_REP_ERR_TLS_REQD and STARTTLS closes.
/// </summary>
internal sealed class NbdServer : IAsyncDisposable
{
    /// <summary>xapi-nbd's Consts.connection_limit.</summary>
    public const int ConnectionLimit = 16;

    private const ulong OptionMagic = 0x49484156454F5054UL; // "IHAVEOPT"
    private const ulong ReplyMagic = 0x3e889045565a9UL;
    private const uint RequestMagic = 0x25609513;
    private const uint SimpleReplyMagic = 0x67446698;
    private const uint StructuredReplyMagic = 0x668e33ef;
    private const uint OptExportName = 1, OptAbort = 2, OptList = 3, OptStartTls = 5, OptInfo = 6, OptGo = 7, OptStructuredReply = 8;
    private const uint RepAck = 1, RepInfo = 3;
    private const uint ErrUnsupported = 0x80000001, ErrPolicy = 0x80000002, ErrTlsRequired = 0x80000005;
    private const ushort FlagHasFlags = 1, FlagReadOnly = 2;
    private const ushort CmdRead = 0, CmdWrite = 1, CmdDisconnect = 2;
    private const uint Eperm = 1, Einval = 22;
    private const int MaxRead = 32 * 1024 * 1024;

    private readonly HostRuntime _host;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop;
    private readonly Task _accepting;
    private int _connections;

    private NbdServer(HostRuntime host, TcpListener listener)
    {
        _host = host;
        _listener = listener;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(host.Stopping);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static NbdServer Start(HostRuntime host, IPAddress address, int port)
    {
        var listener = new TcpListener(address, port);
        listener.Start();
        return new NbdServer(host, listener);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var owned = socket;
        socket.NoDelay = true;
        Dom0Attachment? attachment = null;
        try
        {
            if (Interlocked.Increment(ref _connections) > ConnectionLimit) return; // "Server busy"
            if (TlsRequired() is not { } tls) return;
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var token = _stop.Token;
            var export = await NegotiateAsync(stream, tls, token);
            if (export is null) return;
            var (name, go, structured) = export.Value;
            // main.ml:55-81: the session must be valid, then the VDI is looked up by uuid and attached RO in dom0.
            if (Resolve(name) is not { } target) return;
            attachment = Dom0Attachment.Attach(_host, target.VdiRef, "RO", "nbd", target.Session);
            await FinishNegotiationAsync(stream, go, target.Size, token);
            await TransmitAsync(stream, target.Store, target.VdiUuid, target.Size, structured, token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or EndOfStreamException or XapiException
                                      or ObjectDisposedException or KeyNotFoundException or ArgumentOutOfRangeException)
        {
            // The connection closes, as xapi-nbd's does on any failure.
        }
        finally
        {
            attachment?.Release();
            Interlocked.Decrement(ref _connections);
        }
    }

    /// <summary>True for purpose nbd, false for insecure_nbd, null (refuse) for neither or both.</summary>
    private bool? TlsRequired()
    {
        lock (_host.Database.Sync)
        {
            var purposes = _host.Database.All("network").SelectMany(n => n.GetStrings("purpose")).ToHashSet(StringComparer.Ordinal);
            var tls = purposes.Contains("nbd");
            var noTls = purposes.Contains("insecure_nbd");
            return tls == noTls ? null : tls;
        }
    }

    /// <summary>Server.connect (lib/server.ml): the greeting, then options until an export is chosen.</summary>
    private static async Task<(string Name, bool Go, bool Structured)?> NegotiateAsync(NetworkStream stream, bool tls, CancellationToken token)
    {
        var greeting = new byte[18];
        "NBDMAGIC"u8.CopyTo(greeting);
        BinaryPrimitives.WriteUInt64BigEndian(greeting.AsSpan(8), OptionMagic);
        BinaryPrimitives.WriteUInt16BigEndian(greeting.AsSpan(16), 1); // NBD_FLAG_FIXED_NEWSTYLE only (no NO_ZEROES)
        await stream.WriteAsync(greeting, token);
        var clientFlags = new byte[4];
        await stream.ReadExactlyAsync(clientFlags, token);
        if (tls && (BinaryPrimitives.ReadUInt32BigEndian(clientFlags) & 1) == 0) return null;

        var structured = false;
        var header = new byte[16];
        while (true)
        {
            await stream.ReadExactlyAsync(header, token);
            if (BinaryPrimitives.ReadUInt64BigEndian(header) != OptionMagic) return null;
            var option = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
            var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
            if (length > 65536) return null;
            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, token);
            if (tls)
            {
                // FORCEDTLS: an export over cleartext or an abort closes; STARTTLS would upgrade (not modelled).
                if (option is OptExportName or OptAbort or OptStartTls) return null;
                await ReplyAsync(stream, option, ErrTlsRequired, [], token);
                continue;
            }

            switch (option)
            {
                case OptStartTls:
                    await ReplyAsync(stream, option, ErrPolicy, [], token);
                    break;
                case OptExportName:
                    return (Encoding.UTF8.GetString(payload), false, structured);
                case OptGo:
                    // The information requests are ignored; NBD_INFO_EXPORT is always sent (server.ml Go).
                    if (payload.Length < 4) return null;
                    var nameLength = (int)BinaryPrimitives.ReadUInt32BigEndian(payload);
                    if (nameLength > payload.Length - 4) return null;
                    return (Encoding.UTF8.GetString(payload, 4, nameLength), true, structured);
                case OptAbort:
                    await ReplyAsync(stream, option, RepAck, [], token);
                    return null;
                case OptStructuredReply:
                    await ReplyAsync(stream, option, RepAck, [], token);
                    structured = true;
                    break;
                case OptList:
                    await ReplyAsync(stream, option, ErrPolicy, [], token); // no exports are offered
                    break;
                default:
                    // NBD_OPT_INFO, meta contexts (so no block status) and unknown options.
                    _ = OptInfo;
                    await ReplyAsync(stream, option, ErrUnsupported, [], token);
                    break;
            }
        }
    }

    private static async Task ReplyAsync(NetworkStream stream, uint option, uint type, byte[] data, CancellationToken token)
    {
        var reply = new byte[20 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(reply, ReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(12), type);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(16), (uint)data.Length);
        data.CopyTo(reply, 20);
        await stream.WriteAsync(reply, token);
    }

    /// <summary>Server.negotiate_end: size and flags (read-only), after EXPORT_NAME or as NBD_INFO_EXPORT then ACK after GO.</summary>
    private static async Task FinishNegotiationAsync(NetworkStream stream, bool go, long size, CancellationToken token)
    {
        const ushort flags = FlagHasFlags | FlagReadOnly;
        if (!go)
        {
            var info = new byte[8 + 2 + 124];
            BinaryPrimitives.WriteUInt64BigEndian(info, (ulong)size);
            BinaryPrimitives.WriteUInt16BigEndian(info.AsSpan(8), flags);
            await stream.WriteAsync(info, token);
            return;
        }

        var export = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(export, 0); // NBD_INFO_EXPORT
        BinaryPrimitives.WriteUInt64BigEndian(export.AsSpan(2), (ulong)size);
        BinaryPrimitives.WriteUInt16BigEndian(export.AsSpan(10), flags);
        await ReplyAsync(stream, OptGo, RepInfo, export, token);
        await ReplyAsync(stream, OptGo, RepAck, [], token);
    }

    /// <summary>Server.serve: reads (sector-aligned, else EINVAL), writes refused, disconnect.</summary>
    private static async Task TransmitAsync(NetworkStream stream, CowDiskStore store, string vdiUuid, long size, bool structured, CancellationToken token)
    {
        var request = new byte[28];
        while (true)
        {
            await stream.ReadExactlyAsync(request, token);
            if (BinaryPrimitives.ReadUInt32BigEndian(request) != RequestMagic) return;
            var type = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(6));
            var handle = BinaryPrimitives.ReadUInt64BigEndian(request.AsSpan(8));
            var offset = (long)BinaryPrimitives.ReadUInt64BigEndian(request.AsSpan(16));
            var length = BinaryPrimitives.ReadUInt32BigEndian(request.AsSpan(24));
            switch (type)
            {
                case CmdDisconnect:
                    return;
                case CmdWrite:
                    // As server.ml does for a read-only export: EPERM, without taking the payload.
                    await SimpleReplyAsync(stream, Eperm, handle, token);
                    break;
                case CmdRead when offset % 512 != 0 || length % 512 != 0:
                    await SimpleReplyAsync(stream, Einval, handle, token);
                    break;
                case CmdRead:
                    if (length > MaxRead || offset + length > size) return; // a failed block read ends the session
                    var data = new byte[length];
                    store.Read(vdiUuid, offset, data);
                    if (structured)
                    {
                        var chunk = new byte[20 + 8];
                        BinaryPrimitives.WriteUInt32BigEndian(chunk, StructuredReplyMagic);
                        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(4), 1); // NBD_REPLY_FLAG_DONE
                        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(6), 1); // NBD_REPLY_TYPE_OFFSET_DATA
                        BinaryPrimitives.WriteUInt64BigEndian(chunk.AsSpan(8), handle);
                        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(16), 8 + length);
                        BinaryPrimitives.WriteUInt64BigEndian(chunk.AsSpan(20), (ulong)offset);
                        await stream.WriteAsync(chunk, token);
                    }
                    else
                    {
                        await SimpleReplyAsync(stream, 0, handle, token);
                    }

                    await stream.WriteAsync(data, token);
                    break;
                default:
                    await SimpleReplyAsync(stream, Einval, handle, token);
                    break;
            }
        }
    }

    private static async Task SimpleReplyAsync(NetworkStream stream, uint error, ulong handle, CancellationToken token)
    {
        var reply = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(reply, SimpleReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(4), error);
        BinaryPrimitives.WriteUInt64BigEndian(reply.AsSpan(8), handle);
        await stream.WriteAsync(reply, token);
    }

    private sealed record Target(string VdiRef, string VdiUuid, long Size, CowDiskStore Store, string Session);

    /// <summary>The export name parsed as xapi-nbd parses it: a URI path /uuid and a session_id query parameter.</summary>
    private Target? Resolve(string exportName)
    {
        var question = exportName.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? exportName : exportName[..question];
        var query = question < 0 ? string.Empty : exportName[(question + 1)..];
        string? session = null;
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && pair[..equals] == "session_id") session = Uri.UnescapeDataString(pair[(equals + 1)..]);
        }

        if (session is null) return null;
        var uuid = Uri.UnescapeDataString(path.StartsWith('/') ? path[1..] : path);
        lock (_host.Database.Sync)
        {
            if (_host.Database.Find("session", session) is null) return null;
            if (_host.Database.FindByUuid("VDI", uuid) is not { } vdi || !_host.Pool.HasStore(vdi.GetString("SR"))) return null;
            var store = _host.Pool.StoreOf(vdi);
            if (!store.Exists(vdi.Uuid)) return null;
            return new Target(vdi.Ref, vdi.Uuid, store.GetVirtualSize(vdi.Uuid), store, session);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }
}
