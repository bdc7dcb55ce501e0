using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;
using XenMigrate.XapiSimulator.Qcow;
using XenMigrate.XapiSimulator.Storage;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// <c>PUT /import_raw_vdi?session_id&amp;vdi|sr_id&amp;format=raw|vhd|qcow2[&amp;chunked][&amp;task_id]</c>
/// in xapi's order (import_raw_vdi.ml): a 302 to a member that sees the SR; an unknown format,
/// <c>chunked</c> with a non-raw format, or any Transfer-Encoding answer 404 and fail the task
/// (:47-107); a VHD or qcow2 without a VDI answers 400 (:129-170). Then the <c>200</c> with the
/// task-id goes out before the body is read, the VDI is attached RW in dom0 (:193-205) and the
/// outcome is only in the task (result <c>&lt;value&gt;OpaqueRef:VDI&lt;/value&gt;</c> or
/// error_info, with xapi's 500 page in the body). A VHD or qcow2 writes only what it carries;
/// everything else on the VDI is left as it was, so a VHD needs a target SR that creates disks
/// full of zeroes (vhd-tool's "unimplemented: prezeroed", impl.ml:582-583).
/// </summary>
internal static class ImportRawVdiEndpoint
{
    public static Task HandleAsync(HttpContext context, HostRuntime host) =>
        HttpTransfer.WithSessionAsync(context, host, session => ImportAsync(context, host, session));

    private static async Task ImportAsync(HttpContext context, HostRuntime host, string session)
    {
        var request = context.Request;
        var query = request.Query;
        var format = query["format"].FirstOrDefault() ?? "raw";
        var chunked = query.ContainsKey("chunked");

        // A member that cannot see the SR sends the client to one that can, before it creates anything (import_raw_vdi.ml:252-262).
        var targetSr = TargetSr(host, query);
        if (targetSr is not null && await HttpTransfer.RedirectUnlessLocalAsync(context, host, targetSr)) return;

        var taskRef = HttpTransfer.TaskFor(context, host, "import_raw_vdi", session);
        if (taskRef is null)
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, "No such task.");
            return;
        }

        if (targetSr is null)
        {
            // import_raw_vdi.ml:263-266: "Require an SR or VDI to import".
            await RefuseAsync(context, host, taskRef, StatusCodes.Status400BadRequest, new XapiException("VDI_MISSING"));
            return;
        }

        if (format is not ("raw" or "vhd" or "qcow2"))
        {
            await RefuseAsync(context, host, taskRef, StatusCodes.Status404NotFound, new XapiException(XapiErrors.InternalError, $"Unknown format {format}"));
            return;
        }

        if (chunked && format != "raw")
        {
            await RefuseAsync(context, host, taskRef, StatusCodes.Status404NotFound, new XapiException(XapiErrors.InternalError, "Cannot handle chunked VHD"));
            return;
        }

        if (request.Headers.TransferEncoding.Count > 0)
        {
            // import_raw_vdi.ml:96-107: send a Content-Length instead.
            await RefuseAsync(context, host, taskRef, StatusCodes.Status404NotFound,
                new XapiException(XapiErrors.InternalError, $"Cannot handle encoding: {request.Headers.TransferEncoding}"));
            return;
        }

        if (request.ContentLength is not { } length)
        {
            // Not modelled: xapi would read a raw or VHD body until the connection closes.
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status411LengthRequired, "Content-Length is required.");
            return;
        }

        (string Ref, string Uuid, long Size, CowDiskStore Store, bool MustWriteZeroes) target;
        try
        {
            target = ResolveTarget(host, query, format, length);
        }
        catch (XapiException refusal)
        {
            await RefuseAsync(context, host, taskRef, StatusCodes.Status400BadRequest, refusal);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers["task-id"] = taskRef;
        context.Response.ContentType = "text/plain";
        HttpTransfer.UseCloseDelimitedBody(context);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, host.Stopping);
        using var attachment = host.Tasks.Attach(taskRef, cancellation);
        Dom0Attachment? dom0 = null;
        var started = false;
        try
        {
            // Headers first: the client learns the task before it sends a byte.
            await context.Response.StartAsync(cancellation.Token);
            await context.Response.Body.FlushAsync(cancellation.Token);
            started = true;
            host.CountCall(FaultInjector.ImportMethod);
            dom0 = Dom0Attachment.Attach(host, target.Ref, "RW", FaultInjector.ImportMethod, session);
            var progress = new ProgressReporter(host, taskRef, length);
            var hook = TransferHook.Take(host, FaultInjector.ImportMethod, session);
            var body = new MeteredStream(request.Body, host.Faults, progress: hook.Wrap(progress.Report));
            var (vdiRef, vdiUuid, size, store, mustWriteZeroes) = target;
            if (format == "vhd")
            {
                // vhd-tool serve exits non-zero ("unimplemented: prezeroed") and xapi reports only that it failed
                // (vhd_tool_wrapper.ml:64-71).
                if (mustWriteZeroes) throw new XapiException(XapiErrors.VdiIoError, "Device I/O errors");
                await new VhdStreamReader(body).ApplyAsync(size, Writer(store, vdiUuid), cancellation.Token);
            }
            else if (format == "qcow2") await new QcowStreamReader(body).ApplyAsync(size, Writer(store, vdiUuid), cancellation.Token);
            else if (chunked) await ApplyChunkedAsync(store, vdiUuid, size, body, cancellation.Token);
            else await ApplyRawAsync(store, vdiUuid, size, length, body, mustWriteZeroes, cancellation.Token);
            lock (host.Database.Sync) host.RefreshStorageUsage();
            host.Tasks.Succeed(taskRef, vdiRef);
        }
        catch (Exception e)
        {
            lock (host.Database.Sync) host.RefreshStorageUsage();
            if (started && !cancellation.IsCancellationRequested) await TransferFailure.FailAsync(context, host, taskRef, e);
            else host.Tasks.Fail(taskRef, e);
        }
        finally
        {
            dom0?.Release();
        }
    }

    /// <summary>A refusal before the 200 (import_raw_vdi.ml HandleError): the task fails, the status goes out.</summary>
    private static async Task RefuseAsync(HttpContext context, HostRuntime host, string taskRef, int status, XapiException error)
    {
        host.Tasks.Fail(taskRef, error);
        await HttpTransfer.ErrorAsync(context, status, error.Message);
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

    /// <summary>
    /// The VDI to write: <c>vdi</c> (ref or uuid), or a new one on <c>sr_id</c>/<c>sr_uuid</c> sized
    /// from the body for a raw import (import_raw_vdi.ml:113-170; anything else answers 400).
    /// </summary>
    private static (string Ref, string Uuid, long Size, CowDiskStore Store, bool MustWriteZeroes) ResolveTarget(HostRuntime host, IQueryCollection query, string format, long length)
    {
        lock (host.Database.Sync)
        {
            if (HttpTransfer.FindVdi(host.Database, query["vdi"].FirstOrDefault()) is { } vdi)
            {
                var vdiSr = host.Database.Require("SR", vdi.GetString("SR"));
                if (!host.Pool.HasStore(vdiSr.Ref)) throw new XapiException(XapiErrors.InternalError, "Not enough info supplied to import");
                return (vdi.Ref, vdi.Uuid, vdi.GetLong("virtual_size"), host.Pool.StoreOf(vdi), VdiFormats.MustWriteZeroes(vdi, vdiSr));
            }

            if (format == "qcow2") throw new XapiException(XapiErrors.InternalError, "Importing a QCOW2 directly into an SR not yet supported");
            if (format == "vhd") throw new XapiException(XapiErrors.InternalError, "Importing a VHD directly into an SR not yet supported");
            var srId = query["sr_id"].FirstOrDefault() ?? query["sr_uuid"].FirstOrDefault();
            var sr = srId is null ? null : host.Database.Find("SR", srId) ?? host.Database.FindByUuid("SR", srId);
            if (sr is null || !host.Pool.HasStore(sr.Ref)) throw new XapiException(XapiErrors.InternalError, "Not enough info supplied to import");
            var created = VdiHandlers.AddVdi(host, new Dictionary<string, JsonNode?>
            {
                ["name_label"] = "Imported VDI",
                ["name_description"] = string.Empty,
                ["SR"] = sr.Ref,
                ["type"] = "user",
                ["sharable"] = false,
                ["read_only"] = false,
                ["other_config"] = new JsonObject(),
            }, VdiHandlers.RoundSize(length));
            return (created.Ref, created.Uuid, created.GetLong("virtual_size"), host.Pool.StoreOf(created), VdiFormats.MustWriteZeroes(created, sr));
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
    private static async Task ApplyRawAsync(CowDiskStore store, string vdiUuid, long size, long length, Stream body, bool mustWriteZeroes, CancellationToken cancellationToken)
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
                // A thick volume is not known to read as zeros: there they are written too.
                if (mustWriteZeroes || !(zeros && store.IsUnallocated(vdiUuid, block))) store.Write(vdiUuid, offset, buffer.AsSpan(0, count));
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
