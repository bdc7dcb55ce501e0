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

    /// <summary>The flavor the server runs with; during VERIFY_RESIZE it is already the new one.</summary>
    public FlavorSnapshot Flavor { get; private set; }

    /// <summary>The flavor before an open resize (kept for revert).</summary>
    public FlavorSnapshot? OldFlavor { get; private set; }

    /// <summary>The flavor an open resize moves to.</summary>
    public FlavorSnapshot? NewFlavor { get; private set; }

    public ServerFault? Fault { get; private set; }

    public DateTime CreatedAt { get; private set; }
    public DateTime UpdatedAt { get; private set; }
    public DateTime? LaunchedAt { get; private set; }
    public DateTime? TerminatedAt { get; private set; }

    public string Status => ServerStatus.From(VmState, TaskState);

    public void Rename(string name, DateTime now)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new InvalidServerException("A server's name cannot be empty.");
        Name = name;
        UpdatedAt = now;
    }

    public void Lock(string? reason, DateTime now)
    {
        Locked = true;
        LockedReason = reason;
        UpdatedAt = now;
    }

    public void Unlock(DateTime now)
    {
        Locked = false;
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

    public void RecordFault(int code, string message, string? details, DateTime now)
    {
        Fault = new ServerFault(code, message, details, now);
        UpdatedAt = now;
    }
}

public sealed class InvalidServerException(string message) : DomainException(message);
