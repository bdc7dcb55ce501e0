using System.Buffers;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Qcow;
using XenMigrate.XapiSimulator.Storage;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// <c>GET /export_raw_vdi?session_id&amp;vdi&amp;format=raw|vhd|qcow2[&amp;base][&amp;task_id]</c> in
/// xapi's order (export_raw_vdi.ml): the task, the format (unknown: 404 and the task fails), then
/// the <c>200 OK</c> with task-id, content type and file name and no length; only then the checks
/// that can fail (VDI_TOO_LARGE for a VHD over 2040 GiB, :84-93; the dom0 attach of the VDI and of
/// the base, :94-104; "Cannot compute differences on non-VHD images", vhd_tool_wrapper.ml:171-187),
/// each failing the task and putting xapi's 500 page into the 200's body. The stream comes from
/// the layer files, never whole in memory: <c>vhd</c> a dynamic VHD of the allocated blocks or,
/// with base, a differencing VHD of the blocks that may differ; <c>qcow2</c> the layout of
/// qcow2-to-stdout; <c>raw</c> the whole disk.
/// </summary>
internal static class ExportRawVdiEndpoint
{
    public static Task HandleAsync(HttpContext context, HostRuntime host) =>
        HttpTransfer.WithSessionAsync(context, host, session => ExportAsync(context, host, session));

    private static async Task ExportAsync(HttpContext context, HostRuntime host, string session)
    {
        var query = context.Request.Query;
        var format = query["format"].FirstOrDefault() ?? "raw";

        string vdiRef, vdiUuid, srRef = string.Empty, vdiFormat = VdiFormats.Vhd, baseFormat = VdiFormats.Vhd;
        string? baseUuid = null, baseRef = null;
        long virtualSize;
        CowDiskStore? store = null;
        var baseOnOtherSr = false;
        lock (host.Database.Sync)
        {
            var vdi = HttpTransfer.FindVdi(host.Database, query["vdi"].FirstOrDefault());
            var baseVdi = HttpTransfer.FindVdi(host.Database, query["base"].FirstOrDefault());
            if (vdi is null || (query.ContainsKey("base") && baseVdi is null) || !host.Pool.HasStore(vdi.GetString("SR")))
            {
                vdiRef = string.Empty;
                vdiUuid = string.Empty;
                virtualSize = -1;
            }
            else
            {
                vdiRef = vdi.Ref;
                vdiUuid = vdi.Uuid;
                srRef = vdi.GetString("SR");
                vdiFormat = VdiFormats.Of(vdi);
                baseUuid = baseVdi?.Uuid;
                baseRef = baseVdi?.Ref;
                baseFormat = baseVdi is null ? VdiFormats.Vhd : VdiFormats.Of(baseVdi);
                baseOnOtherSr = baseVdi is not null && baseVdi.GetString("SR") != srRef;
                virtualSize = vdi.GetLong("virtual_size");
                store = host.Pool.StoreFor(srRef);
            }
        }

        if (virtualSize < 0 || store is null)
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, "No such VDI.");
            return;
        }

        // xapi serves a VDI from a host that can see its SR; any other sends the client there (export_raw_vdi.ml:124-137).
        if (await HttpTransfer.RedirectUnlessLocalAsync(context, host, srRef)) return;

        if (baseUuid is not null && (format == "raw" || baseOnOtherSr))
        {
            // Not modelled: a raw delta, and a base on another SR (the store computes differences within one SR).
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status400BadRequest,
                baseOnOtherSr ? "'base' must be on the VDI's SR." : "'base' needs format=vhd or qcow2.");
            return;
        }

        var taskRef = HttpTransfer.TaskFor(context, host, "export_raw_vdi", session);
        if (taskRef is null)
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, "No such task.");
            return;
        }

        if (format is not ("raw" or "vhd" or "qcow2"))
        {
            // export_raw_vdi.ml:28-36 (tar is not modelled and meets the same answer).
            host.Tasks.Fail(taskRef, new XapiException(XapiErrors.InternalError, $"Unknown format {format}"));
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, $"Unknown format '{format}'.");
            return;
        }

        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, host.Stopping);
        using var attachment = host.Tasks.Attach(taskRef, cancellation);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers["task-id"] = taskRef;
        context.Response.ContentType = format switch { "vhd" => "application/vhd", "qcow2" => "application/x-qemu-disk", _ => "application/octet-stream" };
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{vdiUuid}.{format}\"";
        HttpTransfer.UseCloseDelimitedBody(context);
        host.CountCall(FaultInjector.ExportMethod);

        Dom0Attachment? vdiAttach = null, baseAttach = null;
        var started = false;
        try
        {
            // The headers go out before anything that can fail (export_raw_vdi.ml:69-80).
            await context.Response.StartAsync(cancellation.Token);
            await context.Response.Body.FlushAsync(cancellation.Token);
            started = true;
            if (format == "vhd" && virtualSize > VhdLayout.MaxVirtualSize)
                throw new XapiException(XapiErrors.VdiTooLarge, vdiRef, XapiErrors.Int(VhdLayout.MaxVirtualSize));
            vdiAttach = Dom0Attachment.Attach(host, vdiRef, "RO", FaultInjector.ExportMethod, session);
            if (baseRef is not null) baseAttach = Dom0Attachment.Attach(host, baseRef, "RO", FaultInjector.ExportMethod, session);
            if (baseRef is not null && format == "vhd")
            {
                if (vdiFormat != VdiFormats.Vhd) throw new OcamlFailure("Cannot compute differences on non-VHD images");
                if (baseFormat != VdiFormats.Vhd)
                    throw new OcamlFailure("Vhd_tool_wrapper.send: base VDI is not a vhd; cannot compute differences: the device is not backed by a vhd file");
            }

            await SendAsync(context, host, session, taskRef, format, store, srRef, vdiUuid, baseUuid, cancellation.Token);
            host.Tasks.Succeed(taskRef, result: null);
        }
        catch (Exception e) when (started && e is not TransferCutException && !cancellation.IsCancellationRequested)
        {
            // The page, then an orderly close (the response has no length: it ends with the connection).
            await TransferFailure.FailAsync(context, host, taskRef, e);
        }
        catch (Exception e)
        {
            host.Tasks.Fail(taskRef, e);
            // An injected cut lets the bytes already written leave first: a reset discards what
            // the kernel still holds, and the cut is meant to happen after exactly that many bytes.
            if (e is TransferCutException) await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
            // The body has no length: dropping the connection is how a broken export shows.
            context.Abort();
        }
        finally
        {
            baseAttach?.Release();
            vdiAttach?.Release();
        }
    }

    private static async Task SendAsync(HttpContext context, HostRuntime host, string session, string taskRef, string format, CowDiskStore store,
        string srRef, string vdiUuid, string? baseUuid, CancellationToken cancellationToken)
    {
        using var reader = store.OpenReader(vdiUuid);
        using var baseReader = baseUuid is null ? null : store.OpenReader(baseUuid);
        VhdStreamWriter? vhd = null;
        QcowStreamWriter? qcow = null;
        if (format == "vhd") vhd = Plan(host, store, host.Pool.MountPathOf(srRef), baseUuid, reader, baseReader);
        if (format == "qcow2")
        {
            var candidates = baseReader is null ? store.AllocatedBlocks(reader) : store.DifferingBlocks(reader, baseReader);
            qcow = QcowStreamWriter.Plan(reader, baseReader, candidates);
        }

        var total = vhd?.Length ?? qcow?.Length ?? reader.VirtualSize;
        var progress = new ProgressReporter(host, taskRef, total);
        var hook = TransferHook.Take(host, FaultInjector.ExportMethod, session);
        var body = new MeteredStream(context.Response.Body, host.Faults, host.Faults.TakeExportCut(), hook.Wrap(progress.Report));
        if (vhd is not null) await vhd.WriteAsync(body, reader, cancellationToken);
        else if (qcow is not null) await qcow.WriteAsync(body, reader, cancellationToken);
        else await WriteRawAsync(body, reader, cancellationToken);
        await body.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// The VHD to send, from the pinned chains: a disk's unique id is its top layer's, so a
    /// differencing export names the same parent id that the base's own export carried.
    /// </summary>
    private static VhdStreamWriter Plan(HostRuntime host, CowDiskStore store, string mountPath, string? baseUuid, DiskReader reader, DiskReader? baseReader)
    {
        var now = host.Clock.GetUtcNow();
        var uniqueId = reader.LayerId;
        if (baseReader is null)
            return VhdStreamWriter.Dynamic(reader.VirtualSize, store.AllocatedBlocks(reader), uniqueId, now);
        var parentId = baseReader.LayerId;
        if (parentId == uniqueId) uniqueId = Guid.NewGuid(); // nothing written since the base: still a distinct child
        return VhdStreamWriter.Differencing(reader.VirtualSize, store.DifferingBlocks(reader, baseReader),
            uniqueId, parentId, $"{mountPath}/{baseUuid}.vhd", now);
    }

    private static async Task WriteRawAsync(Stream output, DiskReader reader, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CowDiskStore.BlockSize);
        try
        {
            for (long block = 0; block < reader.BlockCount; block++)
            {
                var length = reader.BlockLength(block);
                reader.ReadBlock(block, buffer.AsSpan(0, length));
                await output.WriteAsync(buffer.AsMemory(0, length), cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Moves a transfer task's progress forward in whole percents (each step is an event).</summary>
internal sealed class ProgressReporter(HostRuntime host, string taskRef, long total)
{
    private int _percent;

    public void Report(long bytes)
    {
        if (total <= 0) return;
        var percent = (int)Math.Min(99, bytes * 100 / total);
        if (percent <= _percent) return;
        _percent = percent;
        host.Tasks.SetProgress(taskRef, percent / 100.0);
    }
}
