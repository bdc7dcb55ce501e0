using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Servers;

/// <summary>The server's VM is one XenMigrate was not handed (XenServer:AdoptVms): nothing may be done to it (409).</summary>
public sealed class ServerNotManagedException(Guid serverId)
    : DomainException($"Instance {serverId} is not managed by XenMigrate: its VM was found on a XenServer host but not handed over (tag it for adoption, see XenServer:AdoptVms).", FaultKind.Conflict)
{
    public Guid ServerId { get; } = serverId;
}

/// <summary>A locked server refuses actions from anyone but an admin (Nova: 409 "Instance … is locked").</summary>
public sealed class ServerLockedException(Guid serverId) : DomainException($"Instance {serverId} is locked", FaultKind.Conflict)
{
    public Guid ServerId { get; } = serverId;
}

/// <summary>
/// The server's state forbids the action; the message is Nova's own
/// (<c>raise_http_conflict_for_instance_invalid_state</c>).
/// </summary>
public sealed class InvalidServerStateException(string action, Guid serverId, string attribute, string state)
    : DomainException($"Cannot '{action}' instance {serverId} while it is in {attribute} {state}", FaultKind.Conflict)
{
    public string Action { get; } = action;
}

/// <summary>The server is on no host yet (Nova: 409 "Instance … is not ready").</summary>
public sealed class ServerNotReadyException(Guid serverId) : DomainException($"Instance {serverId} is not ready", FaultKind.Conflict);

/// <summary>A resize to the flavor the server already has (Nova: 400).</summary>
public sealed class ResizeToSameFlavorException() : DomainException("When resizing, instances must change flavor!");

/// <summary>A resize the disks cannot follow: XenServer disks only grow (Nova: 400 CannotResizeDisk).</summary>
public sealed class CannotResizeDiskException(string reason)
    : DomainException($"Server disk was unable to be resized because: {reason}");

/// <summary>Confirm or revert with no finished resize to act on (Nova: 400).</summary>
public sealed class NotResizedException() : DomainException("Instance has not been resized.");

/// <summary>The hypervisor cannot carry this server anywhere (a vGPU, a PCI or USB device passed through): refused before anything moves.</summary>
public sealed class ServerCannotMoveException(Guid serverId, string reason) : DomainException($"Instance {serverId} cannot be moved: {reason}", FaultKind.Conflict)
{
    public Guid ServerId { get; } = serverId;
}

/// <summary>No server by that id that the caller may see (Nova: 404; another project's server is not found either).</summary>
public sealed class InstanceNotFoundException(string serverId) : DomainException($"Instance {serverId} could not be found.", FaultKind.NotFound);
