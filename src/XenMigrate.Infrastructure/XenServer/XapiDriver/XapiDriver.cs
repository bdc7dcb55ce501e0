using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

/// <summary>
/// <see cref="IHypervisorDriver"/> over XAPI. Each call borrows its pool's one session
/// (<see cref="XenServerPools"/>), so a member is driven through its master; VMs are placed on a
/// member explicitly (start_on, resume_on), disks are streamed to and from the member that sees
/// their SR, and operations on an object XenServer calls busy are retried with backoff. This file
/// holds the shared plumbing and the power operations; the other parts are beside it.
/// </summary>
public sealed partial class XapiDriver(
    XenServerPools pools,
    VdiTransfer transfer,
    IOptions<XenServerOptions> xenServerOptions,
    IOptions<WorkflowOptions> workflowOptions,
    TimeProvider time,
    ILogger<XapiDriver> logger) : IHypervisorDriver
{
    /// <summary>other_config key tying an object to the move that made it (so a re-run finds it instead of making a twin).</summary>
    public const string MoveTagKey = "xenmigrate_migration";

    /// <summary>other_config key of a destination disk: the userdevice it stands for.</summary>
    public const string UserdeviceTagKey = "xenmigrate_userdevice";

    private XenServerOptions Options => xenServerOptions.Value;

    private TimeSpan OpTimeout => workflowOptions.Value.OperationTimeout;

    /// <summary>The name a move gives its snapshot: how a snapshot taken but not yet tagged is found.</summary>
    public static string SnapshotName(string tag) => $"xenmigrate-{tag}";

    /// <summary>The name a build gives its clone until the VM is finished: how a clone made but not yet tagged is found.</summary>
    public static string BuildName(Guid serverId) => $"{BuildNamePrefix}{serverId}";

    public const string BuildNamePrefix = "xenmigrate-build-";

    /// <summary>A host's pool session and its member record.</summary>
    private sealed record On(XapiSession Session, PoolTopology Pool, PoolMember Member);

    private async Task<On> OnAsync(string host, CancellationToken ct)
    {
        var (pool, member) = await pools.ResolveAsync(host, ct);
        return new On(await pool.Connection.SessionAsync(ct), pool, member);
    }

    // ---- finding things --------------------------------------------------------------------

    public async Task<string> AddressAsync(string host, CancellationToken ct) => (await pools.ResolveAsync(host, ct)).Member.Address;

    public async Task<GuestVm?> FindServerVmAsync(string host, Guid serverId, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = (await on.Session.VmsAsync(ct)).Values.FirstOrDefault(v => v.IsGuest
            && v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == serverId.ToString() && !v.OtherConfig.ContainsKey(MoveTagKey));
        return vm is null ? null : await GuestAsync(on, vm, ct);
    }

    public async Task<GuestVm?> FindVmAsync(string host, string vmUuid, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        return await RefByUuidAsync(on.Session, "VM", vmUuid, ct) is { } vmRef ? await GuestAsync(on, await on.Session.VmAsync(vmRef, ct), ct) : null;
    }

    private async Task<GuestVm> GuestAsync(On on, XapiVm vm, CancellationToken ct) =>
        Guest(vm, await PlacementAsync(on, vm, ct), Options);

    /// <summary>The inventory's and the driver's one view of a VM record.</summary>
    internal static GuestVm Guest(XapiVm vm, string? computeHost, XenServerOptions options) =>
        new(vm.Uuid, vm.NameLabel, PowerOf(vm.PowerState), computeHost, vm.MemoryStaticMax, (int)Math.Max(1, vm.VcpusMax), vm.OtherConfig, vm.Tags,
            IsManaged(vm, options), vm.CurrentOperations.Values.ToList());

    /// <summary>
    /// A VM the gateway may act on: one it made or adopted (it carries a server id), or — when it
    /// may adopt — any guest (All) or one carrying the adoption tag (Tagged).
    /// </summary>
    internal static bool IsManaged(XapiVm vm, XenServerOptions options) =>
        vm.OtherConfig.ContainsKey(InventoryKeys.ServerId)
        || options.AdoptVms == AdoptVms.All
        || (options.AdoptVms == AdoptVms.Tagged && vm.Tags.Contains(options.AdoptTag, StringComparer.Ordinal));

    private static async Task<string?> PlacementAsync(On on, XapiVm vm, CancellationToken ct) =>
        on.Pool.IsStandalone || on.Pool.MemberByRef(vm.ResidentOn) is not null || on.Pool.MemberByRef(vm.Affinity) is not null
            ? PlacementOf(on.Pool, vm, new Dictionary<string, XapiVbd>(), new Dictionary<string, XapiVdi>(), [], current: null)
            : PlacementOf(on.Pool, vm, await on.Session.VbdsAsync(ct), await on.Session.VdisAsync(ct),
                await on.Session.PbdRecordsAsync(ct), current: null);

    /// <summary>
    /// The member a VM belongs to: where it runs; else its affinity host; else the member whose
    /// local SR holds its disks; else (shared storage, no affinity) the host it was last known on,
    /// or the master.
    /// </summary>
    internal static string? PlacementOf(PoolTopology pool, XapiVm vm, IReadOnlyDictionary<string, XapiVbd> vbds,
        IReadOnlyDictionary<string, XapiVdi> vdis, JsonObject pbds, string? current)
    {
        if (pool.MemberByRef(vm.ResidentOn) is { } resident) return resident.ComputeName;
        if (pool.MemberByRef(vm.Affinity) is { } affinity) return affinity.ComputeName;
        if (pool.IsStandalone) return pool.Members[0].ComputeName;
        foreach (var vbd in vm.Vbds.Select(r => vbds.GetValueOrDefault(r)).Where(b => b is { IsDisk: true }))
        {
            if (vdis.GetValueOrDefault(vbd!.Vdi) is not { } vdi) continue;
            var hostsSeeing = pbds.Select(p => p.Value as JsonObject).Where(p => XapiValues.String(p?["SR"]) == vdi.Sr)
                .Select(p => XapiValues.String(p!["host"])).Distinct().ToList();
            if (hostsSeeing.Count == 1 && pool.MemberByRef(hostsSeeing[0]) is { } owner) return owner.ComputeName;
        }

        if (current is not null && pool.Member(current) is not null) return current;
        return pool.Members.FirstOrDefault(m => m.IsMaster)?.ComputeName;
    }

    public static VmPower PowerOf(string xapiPowerState) => xapiPowerState switch
    {
        "Running" => VmPower.Running,
        "Halted" => VmPower.Halted,
        "Paused" => VmPower.Paused,
        "Suspended" => VmPower.Suspended,
        _ => VmPower.Unknown,
    };

    // ---- power -----------------------------------------------------------------------------

    public async Task StartAsync(string host, string vmUuid, bool paused, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = await RequireVmAsync(on.Session, vmUuid, ct);
        var record = await on.Session.VmAsync(vm, ct);
        // start_on / resume_on: the VM runs on the member Nova placed it on, not one xapi picks.
        if (record.PowerState == "Suspended")
            await BusyAsync(() => on.Session.CallAsyncTaskAsync("VM.resume_on", OpTimeout, ct, vm, on.Member.HostRef, paused, false), ct);
        else if (record.PowerState == "Halted")
            await BusyAsync(() => on.Session.CallAsyncTaskAsync("VM.start_on", OpTimeout, ct, vm, on.Member.HostRef, paused, false), ct);
    }

    public async Task ShutDownAsync(string host, string vmUuid, Action<string>? cleanFailed, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = await RequireVmAsync(on.Session, vmUuid, ct);
        var state = (await on.Session.VmAsync(vm, ct)).PowerState;
        if (state == "Halted") return;
        if (state == "Running")
        {
            try
            {
                await on.Session.CallAsyncTaskAsync("VM.clean_shutdown", workflowOptions.Value.CleanShutdownTimeout, ct, vm);
                return;
            }
            catch (Exception e) when (e is XapiException or TimeoutException)
            {
                cleanFailed?.Invoke(e.Message); // no PV drivers, or the guest ignored the request
            }
        }

        // xapi allows a hard shutdown while the clean one still runs (xapi_vm_lifecycle.is_allowed_concurrently).
        if ((await on.Session.VmAsync(vm, ct)).PowerState != "Halted")
            await BusyAsync(() => on.Session.CallAsyncTaskAsync("VM.hard_shutdown", OpTimeout, ct, vm), ct);
    }

    public async Task RebootAsync(string host, string vmUuid, bool hard, Action<string>? cleanFailed, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = await RequireVmAsync(on.Session, vmUuid, ct);
        var state = (await on.Session.VmAsync(vm, ct)).PowerState;
        if (!hard && state == "Running")
        {
            try
            {
                await on.Session.CallAsyncTaskAsync("VM.clean_reboot", workflowOptions.Value.CleanShutdownTimeout, ct, vm);
                return;
            }
            catch (Exception e) when (e is XapiException or TimeoutException)
            {
                cleanFailed?.Invoke(e.Message); // no PV drivers, or the guest ignored the request: reset it, as Nova's drivers do
            }
        }

        switch (state)
        {
            case "Running" or "Paused":
                // xapi allows a hard reboot while the clean one still runs (xapi_vm_lifecycle.is_allowed_concurrently).
                await BusyAsync(() => on.Session.CallAsyncTaskAsync("VM.hard_reboot", OpTimeout, ct, vm), ct);
                break;
            case "Suspended":
                // Resuming would bring back the old memory: a hard reboot boots afresh.
                await BusyAsync(() => on.Session.CallAsyncTaskAsync("VM.hard_shutdown", OpTimeout, ct, vm), ct);
                await StartAsync(host, vmUuid, paused: false, ct);
                break;
            case "Halted":
                await StartAsync(host, vmUuid, paused: false, ct);
                break;
        }
    }

    public Task PauseAsync(string host, string vmUuid, CancellationToken ct) => VmTaskAsync(host, vmUuid, "VM.pause", ct);

    public Task UnpauseAsync(string host, string vmUuid, CancellationToken ct) => VmTaskAsync(host, vmUuid, "VM.unpause", ct);

    public Task SuspendAsync(string host, string vmUuid, CancellationToken ct) => VmTaskAsync(host, vmUuid, "VM.suspend", ct);

    private async Task VmTaskAsync(string host, string vmUuid, string method, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = await RequireVmAsync(on.Session, vmUuid, ct);
        await BusyAsync(() => on.Session.CallAsyncTaskAsync(method, OpTimeout, ct, vm), ct);
    }

    public async Task BlockStartAsync(string host, string vmUuid, string reason, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = await RequireVmAsync(on.Session, vmUuid, ct);
        var blocked = XapiValues.Map((await RecordAsync(on.Session, "VM", vm, ct))["blocked_operations"]);
        foreach (var op in StartOperations.Where(op => !blocked.ContainsKey(op)))
            await on.Session.CallAsync("VM.add_to_blocked_operations", ct, vm, op, reason);
    }

    public async Task UnblockStartAsync(string host, string vmUuid, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        if (await RefByUuidAsync(on.Session, "VM", vmUuid, ct) is not { } vm) return;
        foreach (var op in StartOperations) await on.Session.CallAsync("VM.remove_from_blocked_operations", ct, vm, op);
    }

    /// <summary>Every way a halted VM can be made to run (xapi checks blocked_operations per operation).</summary>
    private static readonly string[] StartOperations = ["start", "start_on", "resume", "resume_on"];

    // ---- plumbing --------------------------------------------------------------------------

    /// <summary>
    /// Runs a call again while XenServer says the object is busy — VDI_IN_USE (a transfer's dom0
    /// attachment lingers after it ends) or OTHER_OPERATION_IN_PROGRESS — with doubling pauses,
    /// as Xen Orchestra retries VDI.destroy (xen-api index.mjs: 10 × 5 s).
    /// </summary>
    private async Task BusyAsync(Func<Task> call, CancellationToken ct)
    {
        var delay = Options.BusyRetryDelay;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await call();
                return;
            }
            catch (XapiException e) when (e.Code is XapiException.VdiInUse or XapiException.OtherOperationInProgress && attempt < Options.BusyRetries)
            {
                LogBusy(logger, e.Method, e.Code, attempt + 1);
                await Task.Delay(delay, time, ct);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task<T> BusyAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        var result = default(T);
        await BusyAsync(async () => { result = await call(); }, ct);
        return result!;
    }

    /// <summary>A ref from a uuid, or null when the object no longer exists.</summary>
    private static async Task<string?> RefByUuidAsync(XapiSession s, string cls, string? uuid, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(uuid)) return null;
        try
        {
            return await s.CallForStringAsync($"{cls}.get_by_uuid", ct, uuid);
        }
        catch (XapiException e) when (e.Code is XapiException.UuidInvalid or XapiException.HandleInvalid)
        {
            return null;
        }
    }

    private static async Task<string> RequireVmAsync(XapiSession s, string vmUuid, CancellationToken ct) =>
        await RefByUuidAsync(s, "VM", vmUuid, ct) ?? throw new XenServerObjectGoneException("VM", vmUuid);

    private static async Task<JsonObject> RecordAsync(XapiSession s, string cls, string reference, CancellationToken ct) =>
        await s.CallAsync($"{cls}.get_record", ct, reference) as JsonObject
        ?? throw new XapiTransportException(s.Host.Name, $"{cls}.get_record returned no record.");

    private static async Task<string> UuidAsync(XapiSession s, string cls, string reference, CancellationToken ct) =>
        await s.CallForStringAsync($"{cls}.get_uuid", ct, reference);

    private static JsonObject Map(IEnumerable<KeyValuePair<string, string>> pairs) =>
        new(pairs.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method}: XenServer says {Code}; trying again ({Attempt})")]
    private static partial void LogBusy(ILogger logger, string method, string code, int attempt);
}

/// <summary>An object a step needs is gone from its host (someone deleted it, or it never was).</summary>
public sealed class XenServerObjectGoneException(string cls, string uuid) : Exception($"The {cls} {uuid} is gone from its host.");
