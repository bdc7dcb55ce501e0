using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

// Live moves on what xapi gives: VM.pool_migrate on shared storage, Storage XenMotion inside a
// pool or across pools; the outcome only from the task's result (or, the task lost, from where
// the VM runs), progress only from the task's progress, the downtime measured from events.
public sealed partial class XapiDriver
{
    private const string PoolMigrateOperation = "pool_migrate";
    private const string MigrateSendOperation = "migrate_send";

    public async Task<LiveMove> StartLiveMigrationAsync(string source, string destination, string vmUuid, CancellationToken ct)
    {
        var plan = await PlanMoveAsync(source, destination, vmUuid, live: true, ct);
        var from = await OnAsync(source, ct);
        var to = await OnAsync(destination, ct);
        var vm = await RequireVmAsync(from.Session, vmUuid, ct);
        string task;
        if (plan.Path == MovePath.SharedStorage)
        {
            // Every disk is already where the destination sees it: only the memory moves.
            task = await from.Session.CallForStringAsync("Async.VM.pool_migrate", ct, vm, to.Member.HostRef, new Dictionary<string, string>());
        }
        else
        {
            var network = await ManagementNetworkAsync(to, ct);
            var token = XapiValues.Map(await to.Session.CallAsync("host.migrate_receive", ct, to.Member.HostRef, network, new Dictionary<string, string>()));
            var targetSr = await TargetSrAsync(to, ct);
            var record = await from.Session.VmAsync(vm, ct);
            var vbds = await from.Session.VbdsAsync(ct);
            var vdiMap = record.Vbds.Select(r => vbds.GetValueOrDefault(r)).Where(b => b is { IsDisk: true })
                .ToDictionary(b => b!.Vdi, _ => targetSr, StringComparer.Ordinal);
            // Inside the pool the VIFs keep their (pool-wide) networks; across pools they are mapped.
            var vifMap = plan.Path == MovePath.WithinPool
                ? new Dictionary<string, string>(StringComparer.Ordinal)
                : await VifMapAsync(from, to, record, ct);
            await from.Session.AssertCanMigrateAsync(vm, token, live: true, vdiMap, vifMap, ct);
            task = await from.Session.StartMigrateSendAsync(vm, token, live: true, vdiMap, vifMap, ct);
        }

        return new LiveMove(task, plan.Path, plan.DiskBytes, plan.MemoryBytes);
    }

    private async Task<Dictionary<string, string>> VifMapAsync(On from, On to, XapiVm vm, CancellationToken ct)
    {
        var networks = await MapNetworksAsync(from, to, vm, ct);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var vif in vm.Vifs)
            map[vif] = networks[XapiValues.String((await RecordAsync(from.Session, "VIF", vif, ct))["network"])];
        return map;
    }

    /// <summary>The destination member's management network (its management PIF's): where migration traffic is received.</summary>
    private static async Task<string> ManagementNetworkAsync(On on, CancellationToken ct)
    {
        var pifs = await on.Session.CallAsync("PIF.get_all_records", ct) as JsonObject ?? [];
        var management = pifs.Select(p => p.Value as JsonObject)
            .FirstOrDefault(p => XapiValues.Bool(p?["management"]) && XapiValues.String(p?["host"]) == on.Member.HostRef);
        return management is not null
            ? XapiValues.String(management["network"])
            : throw new UnmovableVmException("PIF_NOT_FOUND", $"Host {on.Member.ComputeName} has no management interface.");
    }

    public async Task<string?> RunningLiveMigrationAsync(string source, string vmUuid, CancellationToken ct)
    {
        var on = await OnAsync(source, ct);
        if (await RefByUuidAsync(on.Session, "VM", vmUuid, ct) is not { } vm) return null;
        return (await on.Session.VmAsync(vm, ct)).CurrentOperations
            .Where(p => p.Value is MigrateSendOperation or PoolMigrateOperation).Select(p => p.Key).FirstOrDefault();
    }

    public async Task<LiveMoveStatus> LiveMigrationStatusAsync(string source, string destination, string vmUuid, string? taskRef, CancellationToken ct)
    {
        var from = await OnAsync(source, ct);
        if (taskRef is not null)
        {
            XapiTask? task = null;
            try
            {
                task = await from.Session.TaskRecordAsync(taskRef, ct);
            }
            catch (XapiException e) when (e.Code == XapiException.HandleInvalid)
            {
                // The task is gone (destroyed, or xapi restarted): where the VM runs tells the outcome.
            }

            if (task is not null)
            {
                switch (task.Status)
                {
                    case "success":
                        await DestroyTaskQuietlyAsync(from.Session, taskRef);
                        return new LiveMoveStatus(LiveMoveState.Succeeded, 1, await PowerOnAsync(destination, vmUuid, ct), []);
                    case "failure":
                        await DestroyTaskQuietlyAsync(from.Session, taskRef);
                        return new LiveMoveStatus(LiveMoveState.Failed, task.Progress, await PowerOnAsync(source, vmUuid, ct), task.ErrorInfo);
                    case "cancelled":
                        await DestroyTaskQuietlyAsync(from.Session, taskRef);
                        return new LiveMoveStatus(LiveMoveState.Cancelled, task.Progress, await PowerOnAsync(source, vmUuid, ct), task.ErrorInfo);
                    default:
                        return new LiveMoveStatus(LiveMoveState.Running, task.Progress, VmPower.Running, []);
                }
            }
        }

        return await StatusByLocationAsync(from, destination, vmUuid, ct);
    }

    /// <summary>
    /// No task to read: the move succeeded only if the VM runs on the destination and is gone from
    /// the source (across pools), or is resident there with no move in progress (inside a pool). Real
    /// xapi imports the VM's record on the destination before the memory moves, so a record there
    /// alone proves nothing.
    /// </summary>
    private async Task<LiveMoveStatus> StatusByLocationAsync(On from, string destination, string vmUuid, CancellationToken ct)
    {
        var to = await OnAsync(destination, ct);
        var samePool = ReferenceEquals(from.Pool.Connection, to.Pool.Connection);
        XapiVm? there = await RefByUuidAsync(to.Session, "VM", vmUuid, ct) is { } destRef ? await to.Session.VmAsync(destRef, ct) : null;
        XapiVm? here = samePool ? there : await RefByUuidAsync(from.Session, "VM", vmUuid, ct) is { } sourceRef ? await from.Session.VmAsync(sourceRef, ct) : null;
        var moving = here?.CurrentOperations.Values.Any(op => op is MigrateSendOperation or PoolMigrateOperation) == true;
        if (moving) return new LiveMoveStatus(LiveMoveState.Running, 0, VmPower.Running, []);
        var runsThere = there is { PowerState: "Running" or "Paused" } && there.ResidentOn == to.Member.HostRef;
        if (runsThere && (samePool || here is null)) return new LiveMoveStatus(LiveMoveState.Succeeded, 1, PowerOf(there!.PowerState), []);
        return new LiveMoveStatus(LiveMoveState.Failed, 0, here is null ? VmPower.Unknown : PowerOf(here.PowerState),
            ["INTERRUPTED", "The migration was interrupted; the server stayed on its host."]);
    }

    private async Task<VmPower> PowerOnAsync(string host, string vmUuid, CancellationToken ct)
    {
        try
        {
            return (await FindVmAsync(host, vmUuid, ct))?.Power ?? VmPower.Unknown;
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException)
        {
            return VmPower.Unknown; // the host does not answer: the inventory records the state once it does
        }
    }

    public async Task CancelLiveMigrationAsync(string source, string taskRef, CancellationToken ct)
    {
        var on = await OnAsync(source, ct);
        await on.Session.CallAsync("task.cancel", ct, taskRef);
    }

    private static async Task DestroyTaskQuietlyAsync(XapiSession s, string taskRef)
    {
        try
        {
            await s.CallAsync("task.destroy", CancellationToken.None, taskRef);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException)
        {
            // Finished tasks are xapi's to collect eventually.
        }
    }

    public IDowntimeWatch WatchDowntime(string source, string destination, string vmUuid) =>
        new DowntimeWatch(this, source, destination, vmUuid, time);

    /// <summary>
    /// Follows the VM on both sides with event.from while a live move runs: the blackout starts
    /// when the source stops showing it running and ends when the destination shows it running on
    /// the destination host. Inside a pool XenServer keeps the record Running throughout (only
    /// resident_on changes), so there is no gap to see and none is reported.
    /// </summary>
    private sealed class DowntimeWatch : IDowntimeWatch
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _watching;
        private readonly TimeProvider _time;
        private DateTimeOffset? _sourceStopped;
        private DateTimeOffset? _destinationRunning;

        public DowntimeWatch(XapiDriver driver, string source, string destination, string vmUuid, TimeProvider time)
        {
            _time = time;
            _watching = Task.Run(() => WatchAsync(driver, source, destination, vmUuid, _stop.Token));
        }

        public TimeSpan? Downtime =>
            _sourceStopped is { } stopped && _destinationRunning is { } running && running >= stopped ? running - stopped : null;

        private async Task WatchAsync(XapiDriver driver, string source, string destination, string vmUuid, CancellationToken ct)
        {
            try
            {
                var from = await driver.OnAsync(source, ct);
                var to = await driver.OnAsync(destination, ct);
                if (ReferenceEquals(from.Pool.Connection, to.Pool.Connection)) return;
                static bool Runs(XapiVm? vm) => vm is { PowerState: "Running" or "Paused" };
                await Task.WhenAll(
                    FollowAsync(from.Session, vmUuid, Runs, vm => !Runs(vm), t => _sourceStopped ??= t, ct),
                    FollowAsync(to.Session, vmUuid, null, vm => Runs(vm) && vm!.ResidentOn == to.Member.HostRef, t => _destinationRunning ??= t, ct));
            }
            catch (Exception e) when (e is OperationCanceledException or XapiException or XapiTransportException or TimeoutException or UnknownComputeHostException)
            {
                // Measuring is best effort: without it the move just records no downtime.
            }
        }

        /// <summary>
        /// Long-polls the pool's VM events until the condition holds for the VM of that uuid (after
        /// the precondition held once, when there is one).
        /// </summary>
        private async Task FollowAsync(XapiSession session, string vmUuid, Func<XapiVm?, bool>? precondition, Func<XapiVm?, bool> condition,
            Action<DateTimeOffset> seen, CancellationToken ct)
        {
            var token = string.Empty;
            var armed = precondition is null;
            var known = new Dictionary<string, XapiVm>(StringComparer.Ordinal);
            while (!ct.IsCancellationRequested)
            {
                var (events, next) = await session.EventsFromAsync(["vm"], token, TimeSpan.FromSeconds(5), ct);
                var now = _time.GetUtcNow();
                foreach (var e in events.OfType<JsonObject>())
                {
                    var reference = XapiValues.String(e["ref"]);
                    if (XapiValues.String(e["operation"]) == "del") known.Remove(reference);
                    else if (e["snapshot"] is JsonObject record) known[reference] = XapiVm.From(reference, record);
                }

                token = next;
                var vm = known.Values.FirstOrDefault(v => v.Uuid == vmUuid);
                if (!armed)
                {
                    armed = precondition!(vm);
                    continue;
                }

                if (condition(vm))
                {
                    seen(now);
                    return;
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _watching;
            }
            catch (OperationCanceledException)
            {
                // stopped
            }

            _stop.Dispose();
        }
    }
}
