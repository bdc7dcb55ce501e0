using XenMigrate.Domain.Common;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>What a PUT /servers/{id} names: each field null when the request leaves it alone (the description may be set to null).</summary>
public sealed record ServerUpdate(string? Name, bool SetDescription, string? Description, string? AccessIPv4, string? AccessIPv6);

/// <summary>A server's host did not take its new name: nothing was renamed (409).</summary>
public sealed class ServerRenameRefusedException(Guid serverId, string host)
    : DomainException($"Cannot rename instance {serverId}: its host {host} is not answering. Try again once it is.", FaultKind.Conflict);
