using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Hosts;

/// <summary>No host can take the server (Nova's NoValidHost): a move or build gives up at once, with this as its fault.</summary>
public sealed class NoValidHostException(string message) : DomainException(message);

/// <summary>A request names a compute host that does not exist (Nova's ComputeHostNotFound, 400 in a request body).</summary>
public sealed class ComputeHostNotFoundException(string host) : DomainException($"Compute host {host} could not be found.");

/// <summary>The server's compute host is down or forced down (Nova's check_instance_host: ServiceUnavailable, 409).</summary>
public sealed class ComputeServiceUnavailableException() : DomainException("Service is unavailable at this time.", FaultKind.Conflict);
