using System.Buffers;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Storage;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// <c>GET /export_raw_vdi?session_id&amp;vdi&amp;format=raw|vhd[&amp;base][&amp;task_id]</c>: streams a disk
/// straight from its layer files (never whole in memory). <c>vhd</c> without base is a dynamic
/// VHD of the allocated blocks; with base, a differencing VHD of the blocks that may differ. The
/// reply has no Content-Length; the body ends when the connection closes.
/// </summary>
internal static class ExportRawVdiEndpoint
{
    public static Task HandleAsync(HttpContext context, HostRuntime host) =>
        HttpTransfer.WithSessionAsync(context, host, session => ExportAsync(context, host, session));

    private static async Task ExportAsync(HttpContext context, HostRuntime host, string session)
    {
        var query = context.Request.Query;
        var format = query["format"].FirstOrDefault() ?? "raw";
        if (format is not ("raw" or "vhd"))
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, $"Unknown format '{format}'.");
            return;
        }

        string vdiRef, vdiUuid, srRef = string.Empty;
        string? baseUuid = null;
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
                baseUuid = baseVdi?.Uuid;
                baseOnOtherSr = baseVdi is not null && baseVdi.GetString("SR") != srRef;
                virtualSize = vdi.GetLong("virtual_size");
                store = host.Pool.StoreFor(srRef);
            }
        }

        if (virtualSize < 0 || store is null || !store.Exists(vdiUuid))
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, "No such VDI.");
            return;
        }

        // xapi serves a VDI from a host that can see its SR; any other sends the client there (export_raw_vdi.ml).
        if (await HttpTransfer.RedirectUnlessLocalAsync(context, host, srRef)) return;

        if (baseUuid is not null && (format != "vhd" || baseOnOtherSr))
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status400BadRequest,
                baseOnOtherSr ? "'base' must be on the VDI's SR." : "'base' needs format=vhd.");
            return;
        }

        var taskRef = HttpTransfer.TaskFor(context, host, "export_raw_vdi", session);
        if (taskRef is null)
        {
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, "No such task.");
            return;
        }

        var refusal = host.Faults.TakeFailure(FaultInjector.ExportMethod)
            ?? (format == "vhd" && virtualSize > VhdLayout.MaxVirtualSize
                ? new XapiException(XapiErrors.VdiTooLarge, vdiRef, XapiErrors.Int(VhdLayout.MaxVirtualSize))
                : null);
        if (refusal is not null)
        {
            host.Tasks.Fail(taskRef, refusal);
            await HttpTransfer.ErrorAsync(context, StatusCodes.Status500InternalServerError, refusal.Message);
            return;
        }

        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, host.Stopping);
        using var attachment = host.Tasks.Attach(taskRef, cancellation);
        using var reader = store.OpenReader(vdiUuid);
        using var baseReader = baseUuid is null ? null : store.OpenReader(baseUuid);
        var vhd = format == "vhd" ? Plan(host, store, host.Pool.MountPathOf(srRef), baseUuid, reader, baseReader) : null;
        var total = vhd?.Length ?? reader.VirtualSize;

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers["task-id"] = taskRef;
        context.Response.ContentType = vhd is null ? "application/octet-stream" : "application/vhd";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{vdiUuid}.{format}\"";
        HttpTransfer.UseCloseDelimitedBody(context);
        var progress = new ProgressReporter(host, taskRef, total);
        host.CountCall(FaultInjector.ExportMethod);
        var hook = TransferHook.Take(host, FaultInjector.ExportMethod, session);
        var body = new MeteredStream(context.Response.Body, host.Faults, host.Faults.TakeExportCut(), hook.Wrap(progress.Report));
        try
        {
            await context.Response.StartAsync(cancellation.Token);
            if (vhd is not null) await vhd.WriteAsync(body, reader, cancellation.Token);
            else await WriteRawAsync(body, reader, cancellation.Token);
            await body.FlushAsync(cancellation.Token);
            host.Tasks.Succeed(taskRef, result: null);
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
