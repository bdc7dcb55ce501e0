using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// Carries out a power action on the VM's host over XAPI and records the outcome. Idempotent: a
/// re-run (a retry, a redelivery, the reconciler after a crash) finds the VM already in the target
/// power state and only records it; one that finds the task already finished does nothing.
/// </summary>
public sealed partial class PowerWorkflow(
    XenMigrateDbContext db,
    XenServerHosts hosts,
    IOptions<WorkflowOptions> options,
    TimeProvider time,
    ILogger<PowerWorkflow> logger)
{
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>Nova's event name (compute manager's wrap_instance_event) and notification stem per action.</summary>
    private static (string Event, string Notification) NamesOf(PowerAction action) => action.Name switch
    {
        "stop" => ("compute_stop_instance", "instance.power_off"),
        "start" => ("compute_start_instance", "instance.power_on"),
        _ => ($"compute_{action.Name}_instance", $"instance.{action.Name}"),
    };

    /// <summary>The XAPI power_state a finished action leaves the VM in.</summary>
    private static string XapiTarget(PowerAction action) => action.ResultPower switch
    {
        PowerState.Shutdown => "Halted",
        PowerState.Paused => "Paused",
        PowerState.Suspended => "Suspended",
        _ => "Running",
    };

    public async Task RunAsync(int instanceActionId, CancellationToken ct)
    {
        if (await LoadAsync(instanceActionId, ct) is not { } loaded) return;
        var (record, server, action) = loaded;
        var (eventName, notification) = NamesOf(action);
        if (record.Events.All(e => e.EventName != eventName))
        {
            record.StartEvent(eventName, server.Host, Now);
            NovaNotifications.Add(db, notification + ".start", server, record.RequestId, Now);
            await db.SaveChangesAsync(ct);
        }

        await using var session = await hosts.OpenAsync(server.Host!, ct);
        var vm = await session.FindServerVmAsync(server.Id, ct) ?? throw new InvalidOperationException($"Server {server.Id} has no VM on {server.Host}.");
        if (vm.PowerState != XapiTarget(action)) await DriveAsync(session, vm, action, ct);

        var observed = HostInventorySync.ToPowerState((await session.VmAsync(vm.Ref, ct)).PowerState);
        if (observed != action.ResultPower)
            throw new InvalidOperationException($"VM {vm.Uuid} is {observed} after {action.Name}, not {action.ResultPower}.");

        server.FinishPowerAction(action, observed, Now);
        record.FinishEvent(eventName, succeeded: true, traceback: null, details: null, Now);
        NovaNotifications.Add(db, notification + ".end", server, record.RequestId, Now);
        await db.SaveChangesAsync(ct);
        LogDone(logger, action.Name, server.Id, server.Host!);
    }

    /// <summary>
    /// The retries are spent: the task is dropped with a fault and the event fails (Nova's
    /// reverts_task_state and wrap_instance_fault); vm_state follows the VM's real power state when the host answers.
    /// </summary>
    public async Task FailAsync(int instanceActionId, string reason, CancellationToken ct)
    {
        if (await LoadAsync(instanceActionId, ct) is not { } loaded) return;
        var (record, server, action) = loaded;
        PowerState? observed = null;
        try
        {
            await using var session = await hosts.OpenAsync(server.Host!, ct);
            if (await session.FindServerVmAsync(server.Id, ct) is { } vm) observed = HostInventorySync.ToPowerState(vm.PowerState);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or HttpRequestException)
        {
            // the host is still away: the inventory records the power state once it answers again
        }

        var (eventName, _) = NamesOf(action);
        record.StartEvent(eventName, server.Host, Now);
        record.FinishEvent(eventName, succeeded: false, traceback: reason, details: reason, Now);
        server.FailPowerAction(action, new ServerFault(500, reason, null, Now), observed, Now);
        await db.SaveChangesAsync(ct);
        LogFailed(logger, action.Name, server.Id, reason);
    }

    /// <summary>The XAPI calls from the VM's current power state to the action's target.</summary>
    private async Task DriveAsync(XapiSession s, XapiVm vm, PowerAction action, CancellationToken ct)
    {
        var timeout = options.Value.OperationTimeout;
        switch (action.Name)
        {
            case "stop":
                await s.ShutDownAsync(vm.Ref, options.Value.CleanShutdownTimeout, timeout, reason => LogHardShutdown(logger, vm.Uuid, reason), ct);
                break;
            case "start":
                await s.CallAsyncTaskAsync("VM.start", timeout, ct, vm.Ref, false, false);
                break;
            case "pause":
                await s.CallAsyncTaskAsync("VM.pause", timeout, ct, vm.Ref);
                break;
            case "unpause":
                await s.CallAsyncTaskAsync("VM.unpause", timeout, ct, vm.Ref);
                break;
            case "suspend":
                await s.CallAsyncTaskAsync("VM.suspend", timeout, ct, vm.Ref);
                break;
            case "resume":
                await s.CallAsyncTaskAsync("VM.resume", timeout, ct, vm.Ref, false, false);
                break;
        }
    }

    /// <summary>The action and its server while the server still shows the action's task; null once it is done.</summary>
    private async Task<(InstanceAction, Server, PowerAction)?> LoadAsync(int instanceActionId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var record = await db.InstanceActions.SingleOrDefaultAsync(a => a.Id == instanceActionId, ct);
        if (record is null || PowerAction.Named(record.Action) is not { } action) return null;
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == record.ServerId, ct);
        if (server is null || server.TaskState != action.Task || string.IsNullOrEmpty(server.Host)) return null;
        return (record, server, action);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Power action {Action} done for server {ServerId} on {Host}")]
    private static partial void LogDone(ILogger logger, string action, Guid serverId, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Power action {Action} failed for server {ServerId}: {Reason}")]
    private static partial void LogFailed(ILogger logger, string action, Guid serverId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {Vm} did not shut down cleanly ({Reason}); powering it off")]
    private static partial void LogHardShutdown(ILogger logger, string vm, string reason);
}
