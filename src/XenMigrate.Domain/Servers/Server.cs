using XenMigrate.Domain.Common;
using XenMigrate.Domain.Flavors;

namespace XenMigrate.Domain.Servers;

/// <summary>
/// A Nova server: one VM on one XenServer host. State changes go through guarded methods so the
/// (vm_state, task_state) pair only ever holds combinations Nova itself produces.
/// </summary>
public sealed class Server
{
    private Server()
    {
        Name = string.Empty;
        ProjectId = string.Empty;
        UserId = string.Empty;
        Flavor = null!;
    }

    public Server(Guid id, string name, string projectId, string userId, FlavorSnapshot flavor,
        string? host, string? node, VmState vmState, PowerState powerState, DateTime now)
    {
        if (id == Guid.Empty) throw new InvalidServerException("A server needs an id.");
        if (string.IsNullOrWhiteSpace(projectId)) throw new InvalidServerException("A server belongs to a project.");
        ArgumentNullException.ThrowIfNull(flavor);

        Id = id;
        Name = name;
        ProjectId = projectId;
        UserId = userId;
        Flavor = flavor;
        Host = host;
        Node = node;
        VmState = vmState;
        PowerState = powerState;
        CreatedAt = now;
        UpdatedAt = now;
        LaunchedAt = vmState == VmState.Building ? null : now;
    }

    public Guid Id { get; private set; }
    public string Name { get; private set; }
    public string ProjectId { get; private set; }
    public string UserId { get; private set; }
    public string? Description { get; private set; }

    /// <summary>The compute host (Nova's <c>OS-EXT-SRV-ATTR:host</c>).</summary>
    public string? Host { get; private set; }

    /// <summary>The hypervisor node (Nova's <c>OS-EXT-SRV-ATTR:hypervisor_hostname</c>).</summary>
    public string? Node { get; private set; }

    public string AvailabilityZone { get; private set; } = "nova";

    public VmState VmState { get; private set; }
    public TaskState? TaskState { get; private set; }
    public PowerState PowerState { get; private set; }
    public int Progress { get; private set; }
    public bool Locked { get; private set; }
    public string? LockedReason { get; private set; }

    /// <summary>
    /// False for a VM found on a host that XenMigrate was not handed (XenServer:AdoptVms): shown
    /// to admins, never acted on.
    /// </summary>
    public bool Managed { get; private set; } = true;

    /// <summary>The flavor the server runs with; during VERIFY_RESIZE it is already the new one.</summary>
    public FlavorSnapshot Flavor { get; private set; }

    /// <summary>The flavor before an open resize (kept for revert).</summary>
    public FlavorSnapshot? OldFlavor { get; private set; }

    /// <summary>The flavor an open resize moves to.</summary>
    public FlavorSnapshot? NewFlavor { get; private set; }

    public ServerFault? Fault { get; private set; }

    /// <summary>Where the server ran before an open resize (restored on revert or failure).</summary>
    public string? PreviousHost { get; private set; }

    public string? PreviousNode { get; private set; }

    public DateTime CreatedAt { get; private set; }
    public DateTime UpdatedAt { get; private set; }
    public DateTime? LaunchedAt { get; private set; }
    public DateTime? TerminatedAt { get; private set; }

    public string Status => ServerStatus.From(VmState, TaskState);

    /// <summary>The image (a XenServer template published as one) the server was booted from; null for discovered VMs.</summary>
    public string? ImageId { get; private set; }

    /// <summary>Nova's server metadata (key/value pairs given at create).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    /// <summary>The key pair the server was booted with (Nova's key_name); null when none.</summary>
    public string? KeyName { get; private set; }

    /// <summary>The networks the build asked for; null for a server the inventory found.</summary>
    public RequestedNetworks? RequestedNetworks { get; private set; }

    /// <summary>Nova's reservation id: one per create request, shared by every server it booted (min_count/max_count); null for a found VM.</summary>
    public string? ReservationId { get; private set; }

    /// <summary>Its place among the servers of one create request, from 0 (Nova's launch_index).</summary>
    public int LaunchIndex { get; private set; }

    /// <summary>The scheduler hints of its boot; null when it gave none (or the inventory found it).</summary>
    public SchedulerHints? SchedulerHints { get; private set; }

    /// <summary>Nova's network info cache: the interfaces and guest IPs XenServer last reported.</summary>
    public IReadOnlyList<ServerAddress> Addresses { get; private set; } = [];

    /// <summary>
    /// What the host reports of the VM's interfaces now (the inventory, a build). Not an update of
    /// the server (Nova's info cache refresh leaves updated_at alone).
    /// </summary>
    public void ObserveAddresses(IReadOnlyList<ServerAddress> addresses)
    {
        if (!Addresses.SequenceEqual(addresses)) Addresses = addresses.ToList();
    }

    /// <summary>Whether XenMigrate may act on the server's VM, as the inventory last found it.</summary>
    public void ObserveManaged(bool managed, DateTime now)
    {
        if (Managed == managed) return;
        Managed = managed;
        UpdatedAt = now;
    }

    /// <summary>Nova's per-server tag limit (objects.instance.MAX_TAG_COUNT).</summary>
    public const int MaxTags = 50;

    /// <summary>Nova's server tags (2.26): short strings a user sorts servers by, no order, no duplicates.</summary>
    public IReadOnlyList<string> Tags { get; private set; } = [];

    /// <summary>Tags can change while the server rests (Nova's _check_instance_in_valid_state for server tags).</summary>
    public void EnsureTagsCanChange(string action)
    {
        if (VmState is not (VmState.Active or VmState.Paused or VmState.Suspended or VmState.Stopped))
            throw new InvalidServerStateException(action, Id, "vm_state", VmState.ToNovaName());
    }

    /// <summary>Replaces every tag (duplicates folded).</summary>
    /// <exception cref="InvalidServerException">More than <see cref="MaxTags"/>.</exception>
    public void SetTags(IEnumerable<string> tags, DateTime now)
    {
        var distinct = tags.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count > MaxTags) throw new InvalidServerException($"The number of tags exceeded the per-server limit {MaxTags}");
        Tags = distinct;
        UpdatedAt = now;
    }

    /// <summary>Adds one tag; false when the server had it already.</summary>
    public bool AddTag(string tag, DateTime now)
    {
        if (Tags.Contains(tag, StringComparer.Ordinal)) return false;
        SetTags(Tags.Append(tag), now);
        return true;
    }

    /// <summary>Removes one tag; false when the server did not have it.</summary>
    public bool RemoveTag(string tag, DateTime now)
    {
        if (!Tags.Contains(tag, StringComparer.Ordinal)) return false;
        SetTags(Tags.Where(t => t != tag), now);
        return true;
    }

    public void Rename(string name, DateTime now)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new InvalidServerException("A server's name cannot be empty.");
        Name = name;
        UpdatedAt = now;
    }

    /// <summary>The IPv4 and IPv6 addresses a user set as the ones to reach the server by (Nova's accessIPv4/6); null: the guest's own.</summary>
    public string? AccessIPv4 { get; private set; }

    public string? AccessIPv6 { get; private set; }

    /// <summary>Nova's update (PUT /servers/{id}): only what the request names changes.</summary>
    public void Update(string? name, bool setDescription, string? description, string? accessIPv4, string? accessIPv6, DateTime now)
    {
        if (name is not null) Rename(name, now);
        if (setDescription) Description = description;
        if (accessIPv4 is not null) AccessIPv4 = accessIPv4;
        if (accessIPv6 is not null) AccessIPv6 = accessIPv6;
        UpdatedAt = now;
    }

    /// <summary>
    /// Nova's os-resetState (admin): the server is said to be <paramref name="state"/> (active or
    /// error) with no task. Refused while a durable job is carrying out the server's build, delete
    /// or a migration (<paramref name="moving"/>): the job resumes after any crash and would act on
    /// a state the admin has rewritten, so there is nothing stuck to reset.
    /// </summary>
    public void ResetState(VmState state, bool moving, DateTime now)
    {
        if (state is not (VmState.Active or VmState.Error)) throw new InvalidServerStateException("os-resetState", Id, "vm_state", state.ToNovaName());
        if (moving) throw new InvalidServerStateException("os-resetState", Id, "task_state", TaskState?.ToNovaName() ?? "migrating");
        if (TaskState is Servers.TaskState.Scheduling or Servers.TaskState.Spawning or Servers.TaskState.Deleting)
            throw new InvalidServerStateException("os-resetState", Id, "task_state", TaskState.Value.ToNovaName());
        VmState = state;
        TaskState = null;
        UpdatedAt = now;
    }

    /// <summary>Who locked the server (Nova's locked_by): "owner" (its project) or "admin" (anyone else, an admin).</summary>
    public string? LockedBy { get; private set; }

    public const string LockedByOwner = "owner";
    public const string LockedByAdmin = "admin";

    /// <summary>
    /// Nova's compute_api.lock: the owner locking a server that is already locked changes nothing;
    /// otherwise it is locked by the owner or, for a caller of another project, by an admin.
    /// </summary>
    public void Lock(string? reason, DateTime now, bool byOwner = true)
    {
        if (Locked && byOwner) return;
        Locked = true;
        LockedBy = byOwner ? LockedByOwner : LockedByAdmin;
        LockedReason = reason;
        UpdatedAt = now;
    }

    /// <summary>Nova's is_expected_locked_by: an owner may not lift an admin's lock (nor an admin of another project an owner's, without the override).</summary>
    public bool IsLockedByOtherThan(bool byOwner) => LockedBy is { } by && by != (byOwner ? LockedByOwner : LockedByAdmin);

    public void Unlock(DateTime now)
    {
        Locked = false;
        LockedBy = null;
        LockedReason = null;
        UpdatedAt = now;
    }

    /// <summary>
    /// Records where the hypervisor reports the VM now runs. Ignored while a task owns the
    /// server: a migration step, not an observer, decides where it lives then.
    /// </summary>
    public bool ObservePlacement(string host, string node, DateTime now)
    {
        if (TaskState is not null || (Host == host && Node == node)) return false;
        Host = host;
        Node = node;
        UpdatedAt = now;
        return true;
    }

    /// <summary>
    /// Records the power state the hypervisor reports. With no task running, vm_state follows it
    /// (as Nova's power-state sync does for active/stopped/paused/suspended).
    /// </summary>
    public bool ObservePowerState(PowerState powerState, DateTime now)
    {
        if (PowerState == powerState) return false;
        PowerState = powerState;
        if (TaskState is null && VmState is VmState.Active or VmState.Stopped or VmState.Paused or VmState.Suspended)
        {
            VmState = powerState switch
            {
                PowerState.Running => VmState.Active,
                PowerState.Paused => VmState.Paused,
                PowerState.Suspended => VmState.Suspended,
                PowerState.Shutdown or PowerState.Crashed => VmState.Stopped,
                _ => VmState,
            };
        }

        UpdatedAt = now;
        return true;
    }

    // ---- Resize and cold migration (nova/compute/api.py resize, confirm_resize, revert_resize) ----
    // Guards run in Nova's order: lock, then vm_state, then task_state, then launched_at, then host.

    /// <summary>
    /// Starts a resize (or, with the same flavor, a cold migration): task_state resize_prep before the
    /// API answers, so clients polling for ACTIVE/VERIFY_RESIZE see RESIZE first.
    /// </summary>
    public void BeginResize(string action, FlavorSnapshot newFlavor, bool callerIsAdmin, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(newFlavor);
        Guard(action, callerIsAdmin, VmState.Active, VmState.Stopped);
        if (string.IsNullOrEmpty(Host)) throw new ServerNotReadyException(Id);

        if (KindOfMoveTo(newFlavor) == Migrations.MigrationType.Resize)
        {
            if (newFlavor.RootGb == 0 && Flavor.RootGb != 0)
                throw new CannotResizeDiskException("Resize to zero disk flavor is not allowed.");
            if (newFlavor.RootGb < Flavor.RootGb)
                throw new CannotResizeDiskException($"XenServer disks cannot shrink (root disk {Flavor.RootGb} GB, flavor {newFlavor.Name} has {newFlavor.RootGb} GB).");
            if (newFlavor.EphemeralGb < Flavor.EphemeralGb)
                throw new CannotResizeDiskException($"XenServer disks cannot shrink (ephemeral disk {Flavor.EphemeralGb} GB, flavor {newFlavor.Name} has {newFlavor.EphemeralGb} GB).");
        }

        PreviousHost = Host;
        PreviousNode = Node;
        OldFlavor = Flavor;
        NewFlavor = newFlavor;
        TaskState = Servers.TaskState.ResizePrep;
        Progress = 0;
        UpdatedAt = now;
    }

    /// <summary>The one rule for what a move to a flavor is: the same flavor is a cold migration, another a resize.</summary>
    public Migrations.MigrationType KindOfMoveTo(FlavorSnapshot newFlavor) =>
        newFlavor.FlavorInternalId == Flavor.FlavorInternalId ? Migrations.MigrationType.Migration : Migrations.MigrationType.Resize;

    /// <summary>Nova's decorators on resize/migrate: lock, state, a host to move from (checked before the flavor).</summary>
    public void EnsureCanResize(string action, bool callerIsAdmin)
    {
        Guard(action, callerIsAdmin, VmState.Active, VmState.Stopped);
        if (string.IsNullOrEmpty(Host)) throw new ServerNotReadyException(Id);
    }

    /// <summary>Refuses a resize to the flavor the server runs with (a cold migration names no flavor).</summary>
    public void EnsureFlavorChanges(FlavorSnapshot requested)
    {
        if (KindOfMoveTo(requested) != Migrations.MigrationType.Resize) throw new ResizeToSameFlavorException();
    }

    /// <summary>A step of the resize workflow moved on: the task_state Nova shows for it, and progress.</summary>
    public void AdvanceResize(TaskState step, int progress, DateTime now)
    {
        if (TaskState is not (Servers.TaskState.ResizePrep or Servers.TaskState.ResizeMigrating or Servers.TaskState.ResizeMigrated or Servers.TaskState.ResizeFinish)
            || step is not (Servers.TaskState.ResizeMigrating or Servers.TaskState.ResizeMigrated or Servers.TaskState.ResizeFinish))
            throw new InvalidServerStateException("resize", Id, "task_state", TaskState?.ToNovaName() ?? "None");
        TaskState = step;
        Progress = Math.Clamp(progress, 0, 100);
        UpdatedAt = now;
    }

    public void ReportProgress(int progress, DateTime now)
    {
        Progress = Math.Clamp(progress, 0, 100);
        UpdatedAt = now;
    }

    /// <summary>The resized server runs on the destination: VERIFY_RESIZE, already with the new flavor.</summary>
    public void FinishResize(string destHost, string? destNode, PowerState powerState, DateTime now)
    {
        if (TaskState is null || NewFlavor is null)
            throw new InvalidServerStateException("resize", Id, "task_state", "None");
        Host = destHost;
        Node = destNode;
        Flavor = NewFlavor;
        PowerState = powerState;
        VmState = VmState.Resized;
        TaskState = null;
        Progress = 100;
        UpdatedAt = now;
    }

    /// <summary>Confirm is accepted: Nova leaves the task_state alone (the server stays VERIFY_RESIZE).</summary>
    public void EnsureCanConfirmResize(bool callerIsAdmin) => Guard("confirmResize", callerIsAdmin, VmState.Resized);

    /// <summary>The source is gone for good: back to active (or stopped), the old flavor forgotten.</summary>
    public void FinishConfirmResize(DateTime now)
    {
        if (VmState != VmState.Resized) throw new InvalidServerStateException("confirmResize", Id, "vm_state", VmState.ToNovaName());
        VmState = PowerState == PowerState.Running ? VmState.Active : VmState.Stopped;
        ClearResize();
        UpdatedAt = now;
    }

    public void BeginRevertResize(bool callerIsAdmin, DateTime now)
    {
        Guard("revertResize", callerIsAdmin, VmState.Resized);
        TaskState = Servers.TaskState.ResizeReverting;
        UpdatedAt = now;
    }

    /// <summary>The untouched source runs again with the old flavor, where it was, as it was.</summary>
    public void FinishRevertResize(PowerState powerState, DateTime now)
    {
        if (TaskState != Servers.TaskState.ResizeReverting || OldFlavor is null)
            throw new InvalidServerStateException("revertResize", Id, "task_state", TaskState?.ToNovaName() ?? "None");
        Flavor = OldFlavor;
        Host = PreviousHost;
        Node = PreviousNode;
        PowerState = powerState;
        VmState = StableStateFor(powerState);
        ClearResize();
        UpdatedAt = now;
    }

    /// <summary>
    /// The resize failed and was rolled back: the server is where and as it was, with a fault
    /// explaining why (Nova keeps vm_state and clears task_state).
    /// </summary>
    public void FailResize(ServerFault fault, PowerState powerState, DateTime now)
    {
        if (OldFlavor is not null) Flavor = OldFlavor;
        if (PreviousHost is not null)
        {
            Host = PreviousHost;
            Node = PreviousNode;
        }

        VmState = StableStateFor(powerState);
        PowerState = powerState;
        Fault = fault;
        ClearResize();
        UpdatedAt = now;
    }

    /// <summary>
    /// After a revert or rollback the VM's real power state decides between active and stopped: the
    /// row may have lagged behind the hypervisor when the resize began.
    /// </summary>
    private static VmState StableStateFor(PowerState power) => power == PowerState.Shutdown ? VmState.Stopped : VmState.Active;

    private void ClearResize()
    {
        TaskState = null;
        OldFlavor = null;
        NewFlavor = null;
        PreviousHost = null;
        PreviousNode = null;
        Progress = 0;
    }

    // ---- Power actions (nova/compute/api.py stop, start, pause, unpause, suspend, resume) ----

    /// <summary>
    /// Starts a power action: its task_state is set before the API answers. Nova's order: lock, then
    /// (stop and start) a host, then vm_state, task_state and launched_at. Every action needs a host
    /// here, as XAPI runs it on the VM's host.
    /// </summary>
    public void BeginPowerAction(PowerAction action, bool callerIsAdmin, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (Locked && !callerIsAdmin) throw new ServerLockedException(Id);
        if (action.ChecksHost && string.IsNullOrEmpty(Host)) throw new ServerNotReadyException(Id);
        Guard(action.Name, callerIsAdmin, action.AllowedFrom);
        if (string.IsNullOrEmpty(Host)) throw new ServerNotReadyException(Id);
        TaskState = action.Task;
        if (action == PowerAction.Stop) Progress = 0; // as Nova's force_stop
        UpdatedAt = now;
    }

    /// <summary>The hypervisor did it: the action's vm_state, the power state XAPI reports, no task.</summary>
    public void FinishPowerAction(PowerAction action, PowerState powerState, DateTime now)
    {
        if (TaskState != action.Task) throw new InvalidServerStateException(action.Name, Id, "task_state", TaskState?.ToNovaName() ?? "None");
        VmState = action.Result;
        PowerState = powerState;
        TaskState = null;
        UpdatedAt = now;
    }

    /// <summary>
    /// The action failed for good: the task is dropped (Nova's reverts_task_state) and the fault kept;
    /// when the VM's real power state is known, vm_state follows it as the power-state sync would.
    /// </summary>
    public void FailPowerAction(PowerAction action, ServerFault fault, PowerState? observed, DateTime now)
    {
        if (TaskState != action.Task) return;
        TaskState = null;
        Fault = fault;
        if (observed is { } power)
        {
            PowerState = PowerState.NoState; // makes ObservePowerState apply even when the row already said so
            ObservePowerState(power, now);
        }

        UpdatedAt = now;
    }

    // ---- Live migration (nova/compute/api.py live_migrate, live_migrate_abort) ----

    /// <summary>
    /// Starts a live migration of an active or paused server: task_state migrating (status
    /// MIGRATING) before the API answers. vm_state stays as it is throughout.
    /// </summary>
    public void BeginLiveMigration(bool callerIsAdmin, DateTime now)
    {
        EnsureCanLiveMigrate(callerIsAdmin);
        TaskState = Servers.TaskState.Migrating;
        Progress = 0;
        UpdatedAt = now;
    }

    /// <summary>Nova's decorators on live_migrate: lock, then vm_state active or paused with no task, then a host.</summary>
    public void EnsureCanLiveMigrate(bool callerIsAdmin)
    {
        Guard("os-migrateLive", callerIsAdmin, VmState.Active, VmState.Paused);
        if (string.IsNullOrEmpty(Host)) throw new ServerNotReadyException(Id);
    }

    /// <summary>Nova's check_instance_state(task_state=[MIGRATING]) of an abort or force-complete.</summary>
    public void EnsureLiveMigrating(string action)
    {
        if (TaskState != Servers.TaskState.Migrating)
            throw new InvalidServerStateException(action, Id, "task_state", TaskState?.ToNovaName() ?? "None");
    }

    /// <summary>The VM runs on the destination now, in the power state it had (ACTIVE stays ACTIVE, PAUSED stays PAUSED).</summary>
    public void FinishLiveMigration(string destHost, string? destNode, PowerState powerState, DateTime now)
    {
        if (TaskState != Servers.TaskState.Migrating)
            throw new InvalidServerStateException("os-migrateLive", Id, "task_state", TaskState?.ToNovaName() ?? "None");
        Host = destHost;
        Node = destNode;
        PowerState = powerState;
        TaskState = null;
        Progress = 0;
        UpdatedAt = now;
    }

    /// <summary>The live migration failed or was aborted: the server runs where it was, as it was (Nova's rollback).</summary>
    public void EndLiveMigrationOnSource(PowerState powerState, DateTime now)
    {
        if (TaskState != Servers.TaskState.Migrating) return;
        PowerState = powerState;
        TaskState = null;
        Progress = 0;
        UpdatedAt = now;
    }

    /// <summary>Nova's check_instance_lock, check_instance_state(vm_state=…, task_state=[None]) and launched_at.</summary>
    private void Guard(string action, bool callerIsAdmin, params VmState[] allowed)
    {
        if (!Managed) throw new ServerNotManagedException(Id);
        if (Locked && !callerIsAdmin) throw new ServerLockedException(Id);
        if (!allowed.Contains(VmState)) throw new InvalidServerStateException(action, Id, "vm_state", VmState.ToNovaName());
        if (TaskState is { } task) throw new InvalidServerStateException(action, Id, "task_state", task.ToNovaName());
        if (LaunchedAt is null) throw new InvalidServerStateException(action, Id, "launched_at", "None");
    }

    // ---- Build and delete (nova/compute/api.py create, delete) ----

    /// <summary>A server Nova has accepted but not yet placed: BUILD, task_state scheduling, on no host.</summary>
    public static Server ForBuild(Guid id, string name, string projectId, string userId, FlavorSnapshot flavor, string imageId,
        IReadOnlyDictionary<string, string> metadata, RequestedNetworks networks, string? keyName, SchedulerHints? hints,
        string reservationId, int launchIndex, DateTime now, string? accessIPv4 = null, string? accessIPv6 = null) =>
        new(id, name, projectId, userId, flavor, host: null, node: null, VmState.Building, PowerState.NoState, now)
        {
            AccessIPv4 = accessIPv4,
            AccessIPv6 = accessIPv6,
            SchedulerHints = hints,
            ReservationId = reservationId,
            LaunchIndex = launchIndex,
            ImageId = imageId,
            Metadata = metadata,
            RequestedNetworks = networks,
            KeyName = keyName,
            TaskState = Servers.TaskState.Scheduling,
        };

    /// <summary>The build still runs (placed or not) and nobody asked to delete the server meanwhile.</summary>
    public bool IsBuilding => VmState == VmState.Building && TaskState is Servers.TaskState.Scheduling or Servers.TaskState.Spawning;

    /// <summary>The scheduler picked a host: the build spawns there (committed before anything is made on it).</summary>
    public void BeginSpawn(string host, string? node, DateTime now)
    {
        if (!IsBuilding) throw new InvalidServerStateException("create", Id, "task_state", TaskState?.ToNovaName() ?? "None");
        Host = host;
        Node = node;
        TaskState = Servers.TaskState.Spawning;
        UpdatedAt = now;
    }

    /// <summary>The VM runs: ACTIVE, task_state null, launched now.</summary>
    public void FinishBuild(PowerState powerState, DateTime now)
    {
        if (!IsBuilding) throw new InvalidServerStateException("create", Id, "task_state", TaskState?.ToNovaName() ?? "None");
        VmState = StableStateFor(powerState);
        PowerState = powerState;
        TaskState = null;
        LaunchedAt = now;
        UpdatedAt = now;
    }

    /// <summary>
    /// The build failed (Nova: vm_state error with a fault). When nothing is left on the host the
    /// server is on no host any more, so a delete needs no host to answer.
    /// </summary>
    public void FailBuild(ServerFault fault, bool hostCleaned, DateTime now)
    {
        VmState = VmState.Error;
        TaskState = null;
        PowerState = PowerState.NoState;
        Fault = fault;
        if (hostCleaned)
        {
            Host = null;
            Node = null;
        }

        UpdatedAt = now;
    }

    /// <summary>
    /// Nova's delete: allowed in any vm_state (VERIFY_RESIZE and ERROR included) and while building;
    /// refused (409) while another task owns the VM (a migration step, a power action), whose job
    /// would otherwise race the destruction. A locked server refuses non-admins.
    /// </summary>
    public void BeginDelete(bool callerIsAdmin, DateTime now)
    {
        if (!Managed) throw new ServerNotManagedException(Id);
        if (Locked && !callerIsAdmin) throw new ServerLockedException(Id);
        if (TaskState is { } task && task is not (Servers.TaskState.Scheduling or Servers.TaskState.Spawning or Servers.TaskState.Deleting))
            throw new InvalidServerStateException("delete", Id, "task_state", task.ToNovaName());
        TaskState = Servers.TaskState.Deleting;
        UpdatedAt = now;
    }

    /// <summary>Gone: Nova's soft-deleted row (vm_state deleted, terminated_at) that only history still points at.</summary>
    public void MarkDeleted(DateTime now)
    {
        VmState = VmState.Deleted;
        PowerState = PowerState.NoState;
        ClearResize();
        TerminatedAt = now;
        UpdatedAt = now;
    }

    /// <summary>The VM could not be destroyed (a host kept failing): ERROR with the cause; a later delete tries again.</summary>
    public void FailDelete(ServerFault fault, DateTime now)
    {
        VmState = VmState.Error;
        TaskState = null;
        Fault = fault;
        UpdatedAt = now;
    }

    public void RecordFault(int code, string message, string? details, DateTime now)
    {
        Fault = new ServerFault(code, message, details, now);
        UpdatedAt = now;
    }
}

public sealed class InvalidServerException(string message) : DomainException(message);
