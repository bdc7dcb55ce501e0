using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;
using XenMigrate.XapiSimulator.Storage;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// <c>PUT /import_raw_vdi?session_id&amp;vdi|sr_id&amp;format=raw|vhd[&amp;chunked][&amp;task_id]</c> as xapi
/// serves it: a Content-Length is required and Transfer-Encoding refused; the 200 with the
/// task-id header goes out before the body is read, and the outcome is only in the task
/// (result <c>&lt;value&gt;OpaqueRef:VDI&lt;/value&gt;</c> or error_info). A VHD writes only the
/// sectors it carries; everything else on the VDI is left as it was.
/// </summary>
internal static class ImportRawVdiEndpoint
{
    public static Task HandleAsync(HttpContext context, HostRuntime host) =>
        HttpTransfer.WithSessionAsync(context, host, session => ImportAsync(context, host, session));

    private static async Task ImportAsync(HttpContext context, HostRuntime host, string session)
    {
        var request = context.Request;
        var query = request.Query;
        if (request.Headers.TransferEncoding.Count > 0)
        {
            // xapi: "Cannot handle encoding" — send Content-Length instead.
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status403Forbidden, $"Cannot handle encoding: {request.Headers.TransferEncoding}");
            return;
        }

        if (request.ContentLength is not { } length)
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status411LengthRequired, "Content-Length is required.");
            return;
        }

        var format = query["format"].FirstOrDefault() ?? "raw";
        var chunked = query.ContainsKey("chunked");
        if (format is not ("raw" or "vhd"))
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, $"Unknown format '{format}'.");
            return;
        }

        // A member that cannot see the SR sends the client to one that can, before it creates anything (import_raw_vdi.ml).
        if (TargetSr(host, query) is { } targetSr && await HttpTransfer.RedirectUnlessLocalAsync(context, host, targetSr)) return;
        var target = ResolveTarget(host, query, format, chunked, length);
        if (target is null)
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, "No such VDI or SR.");
            return;
        }

        var taskRef = HttpTransfer.TaskFor(context, host, "import_raw_vdi", session);
        if (taskRef is null)
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, "No such task.");
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers["task-id"] = taskRef;
        context.Response.ContentType = "text/plain";
        HttpTransfer.UseCloseDelimitedBody(context);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, host.Stopping);
        using var attachment = host.Tasks.Attach(taskRef, cancellation);
        try
        {
            // Headers first: the client learns the task before it sends a byte.
            await context.Response.StartAsync(cancellation.Token);
            await context.Response.Body.FlushAsync(cancellation.Token);
            if (host.Faults.TakeFailure(FaultInjector.ImportMethod) is { } injected) throw injected;
            var progress = new ProgressReporter(host, taskRef, length);
            host.CountCall(FaultInjector.ImportMethod);
            var hook = TransferHook.Take(host, FaultInjector.ImportMethod, session);
            var body = new MeteredStream(request.Body, host.Faults, progress: hook.Wrap(progress.Report));
            var (vdiRef, vdiUuid, size, store) = target.Value;
            if (format == "vhd") await new VhdStreamReader(body).ApplyAsync(size, Writer(store, vdiUuid), cancellation.Token);
            else if (chunked) await ApplyChunkedAsync(store, vdiUuid, size, body, cancellation.Token);
            else await ApplyRawAsync(store, vdiUuid, size, length, body, cancellation.Token);
            lock (host.Database.Sync) host.RefreshStorageUsage();
            host.Tasks.Succeed(taskRef, vdiRef);
        }
        catch (Exception e)
        {
            lock (host.Database.Sync) host.RefreshStorageUsage();
            host.Tasks.Fail(taskRef, e);
        }
    }

    /// <summary>The SR the import writes to: the named VDI's, or <c>sr_id</c>/<c>sr_uuid</c>.</summary>
    private static string? TargetSr(HostRuntime host, IQueryCollection query)
    {
        lock (host.Database.Sync)
        {
            if (HttpTransfer.FindVdi(host.Database, query["vdi"].FirstOrDefault()) is { } vdi) return vdi.GetString("SR");
            var srId = query["sr_id"].FirstOrDefault() ?? query["sr_uuid"].FirstOrDefault();
            return (srId is null ? null : host.Database.Find("SR", srId) ?? host.Database.FindByUuid("SR", srId))?.Ref;
        }
    }

    /// <summary>The VDI to write: <c>vdi</c> (ref or uuid), or a new one on <c>sr_id</c>/<c>sr_uuid</c> sized from the body (raw only).</summary>
    private static (string Ref, string Uuid, long Size, CowDiskStore Store)? ResolveTarget(HostRuntime host, IQueryCollection query, string format, bool chunked, long length)
    {
        lock (host.Database.Sync)
        {
            if (HttpTransfer.FindVdi(host.Database, query["vdi"].FirstOrDefault()) is { } vdi)
                return host.Pool.HasStore(vdi.GetString("SR")) ? (vdi.Ref, vdi.Uuid, vdi.GetLong("virtual_size"), host.Pool.StoreOf(vdi)) : null;
            var srId = query["sr_id"].FirstOrDefault() ?? query["sr_uuid"].FirstOrDefault();
            var sr = srId is null ? null : host.Database.Find("SR", srId) ?? host.Database.FindByUuid("SR", srId);
            if (sr is null || !host.Pool.HasStore(sr.Ref) || format != "raw" || chunked) return null;
            var created = VdiHandlers.AddVdi(host, new Dictionary<string, JsonNode?>
            {
                ["name_label"] = "import_raw_vdi",
                ["SR"] = sr.Ref,
                ["type"] = "user",
                ["sharable"] = false,
                ["read_only"] = false,
                ["other_config"] = new JsonObject(),
            }, VdiHandlers.RoundSize(length));
            return (created.Ref, created.Uuid, created.GetLong("virtual_size"), host.Pool.StoreOf(created));
        }
    }

    private static Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> Writer(CowDiskStore store, string vdiUuid) =>
        (offset, data, _) =>
        {
            store.Write(vdiUuid, offset, data.Span);
            return ValueTask.CompletedTask;
        };

    /// <summary>
    /// Plain raw: the body is the disk from offset 0. Runs of zeros over blocks that were never
    /// written are skipped (they already read as zeros), which keeps the disk sparse.
    /// </summary>
    private static async Task ApplyRawAsync(CowDiskStore store, string vdiUuid, long size, long length, Stream body, CancellationToken cancellationToken)
    {
        if (length > size) throw new XapiException(XapiErrors.VdiIoError, $"The upload ({length} bytes) is larger than the VDI ({size} bytes).");
        var buffer = ArrayPool<byte>.Shared.Rent(CowDiskStore.BlockSize);
        try
        {
            long offset = 0;
            while (offset < length)
            {
                var count = (int)Math.Min(CowDiskStore.BlockSize, length - offset);
                await body.ReadExactlyAsync(buffer.AsMemory(0, count), cancellationToken);
                var block = offset / CowDiskStore.BlockSize;
                var zeros = !buffer.AsSpan(0, count).ContainsAnyExcept((byte)0);
                if (!(zeros && store.IsUnallocated(vdiUuid, block))) store.Write(vdiUuid, offset, buffer.AsSpan(0, count));
                offset += count;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>vhd-tool's chunked raw format: [offset u64 LE][length u32 LE][data]…, ended by 12 zero bytes.</summary>
    private static async Task ApplyChunkedAsync(CowDiskStore store, string vdiUuid, long size, Stream body, CancellationToken cancellationToken)
    {
        var header = new byte[12];
        var buffer = ArrayPool<byte>.Shared.Rent(CowDiskStore.BlockSize);
        try
        {
            while (true)
            {
                await body.ReadExactlyAsync(header, cancellationToken);
                var offset = BinaryPrimitives.ReadInt64LittleEndian(header);
                var remaining = (long)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
                if (offset == 0 && remaining == 0) return;
                if (offset < 0 || offset + remaining > size)
                    throw new XapiException(XapiErrors.VdiIoError, $"Chunk [{offset}, +{remaining}) is outside the VDI.");
                while (remaining > 0)
                {
                    var count = (int)Math.Min(buffer.Length, remaining);
                    await body.ReadExactlyAsync(buffer.AsMemory(0, count), cancellationToken);
                    store.Write(vdiUuid, offset, buffer.AsSpan(0, count));
                    offset += count;
                    remaining -= count;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
