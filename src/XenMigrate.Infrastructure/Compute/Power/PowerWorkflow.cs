using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Compute.Power;

/// <summary>
/// Carries out a power action on the VM's host over XAPI and records the outcome. Idempotent: a
/// re-run (a retry, a redelivery, the reconciler after a crash) finds the VM already in the target
/// power state and only records it; one that finds the task already finished does nothing.
/// </summary>
public sealed partial class PowerWorkflow(
    XenMigrateDbContext db,
    StepJournal journal,
    IHypervisorDriver driver,
    TimeProvider time,
    ILogger<PowerWorkflow> logger)
{
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>Nova's event name (compute manager's wrap_instance_event) and notification stem per action.</summary>
    private static (string Event, string Notification) NamesOf(PowerAction action) => action.Name switch
    {
        InstanceActionNames.Stop => (InstanceEventNames.StopInstance, "instance.power_off"),
        InstanceActionNames.Start => (InstanceEventNames.StartInstance, "instance.power_on"),
        InstanceActionNames.Reboot => (InstanceEventNames.RebootInstance, "instance.reboot"),
        _ => (InstanceEventNames.ForPowerAction(action.Name), $"instance.{action.Name}"),
    };

    /// <summary>The power state a finished action leaves the VM in.</summary>
    private static VmPower Target(PowerAction action) => action.ResultPower switch
    {
        PowerState.Shutdown => VmPower.Halted,
        PowerState.Paused => VmPower.Paused,
        PowerState.Suspended => VmPower.Suspended,
        _ => VmPower.Running,
    };

    public async Task RunAsync(int instanceActionId, CancellationToken ct)
    {
        if (await LoadAsync(instanceActionId, ct) is not { } loaded) return;
        var (record, server, action) = loaded;
        var (eventName, notification) = NamesOf(action);
        var steps = await journal.ForAsync(server, record.RequestId, ct);
        if (record.Events.All(e => e.EventName != eventName))
        {
            steps.Begin(eventName, server.Host, notification);
            await db.SaveChangesAsync(ct);
        }

        var vm = await driver.FindServerVmAsync(server.Host!, server.Id, ct) ?? throw new InvalidOperationException($"Server {server.Id} has no VM on {server.Host}.");
        // A reboot run again after a crash reboots again: the guest may have been restarted once more, never lost.
        if (vm.Power != Target(action) || action.Restarts) await DriveAsync(server.Host!, vm, action, ct);

        var observed = HostInventorySync.ToPowerState((await driver.FindVmAsync(server.Host!, vm.Uuid, ct))?.Power ?? VmPower.Unknown);
        if (observed != action.ResultPower)
            throw new InvalidOperationException($"VM {vm.Uuid} is {observed} after {action.Name}, not {action.ResultPower}.");

        server.FinishPowerAction(action, observed, Now);
        steps.End(eventName, notification);
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
            if (await driver.FindServerVmAsync(server.Host!, server.Id, ct) is { } vm) observed = HostInventorySync.ToPowerState(vm.Power);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or HttpRequestException or UnknownComputeHostException)
        {
            // the host is still away: the inventory records the power state once it answers again
        }

        (await journal.ForAsync(server, record.RequestId, ct)).Fail(NamesOf(action).Event, reason, server.Host);
        server.FailPowerAction(action, new ServerFault(500, reason, null, Now), observed, Now);
        await db.SaveChangesAsync(ct);
        LogFailed(logger, action.Name, server.Id, reason);
    }

    /// <summary>From the VM's current power state to the action's target, on the server's host.</summary>
    private Task DriveAsync(string host, GuestVm vm, PowerAction action, CancellationToken ct) => action.Name switch
    {
        InstanceActionNames.Stop => driver.ShutDownAsync(host, vm.Uuid, reason => LogHardShutdown(logger, vm.Uuid, reason), ct),
        InstanceActionNames.Start or InstanceActionNames.Resume => driver.StartAsync(host, vm.Uuid, paused: false, ct),
        InstanceActionNames.Pause => driver.PauseAsync(host, vm.Uuid, ct),
        InstanceActionNames.Unpause => driver.UnpauseAsync(host, vm.Uuid, ct),
        InstanceActionNames.Suspend => driver.SuspendAsync(host, vm.Uuid, ct),
        InstanceActionNames.Reboot => driver.RebootAsync(host, vm.Uuid, hard: action == PowerAction.HardReboot,
            reason => LogHardReboot(logger, vm.Uuid, reason), ct),
        _ => Task.CompletedTask,
    };

    /// <summary>The action and its server while the server still shows the action's task; null once it is done.</summary>
    private async Task<(InstanceAction, Server, PowerAction)?> LoadAsync(int instanceActionId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var record = await db.InstanceActions.SingleOrDefaultAsync(a => a.Id == instanceActionId, ct);
        if (record is null) return null;
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == record.ServerId, ct);
        if (server is null || PowerAction.Named(record.Action, server.TaskState) is not { } action || string.IsNullOrEmpty(server.Host)) return null;
        return (record, server, action);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Power action {Action} done for server {ServerId} on {Host}")]
    private static partial void LogDone(ILogger logger, string action, Guid serverId, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Power action {Action} failed for server {ServerId}: {Reason}")]
    private static partial void LogFailed(ILogger logger, string action, Guid serverId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {Vm} did not reboot cleanly ({Reason}); resetting it")]
    private static partial void LogHardReboot(ILogger logger, string vm, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {Vm} did not shut down cleanly ({Reason}); powering it off")]
    private static partial void LogHardShutdown(ILogger logger, string vm, string reason);
}
