using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Migrations;

/// <summary>Nova's MigrationNotFoundForInstance: the server has no migration of that id (404).</summary>
public sealed class MigrationNotFoundForInstanceException(int migrationId, Guid serverId)
    : DomainException($"Migration {migrationId} not found for instance {serverId}", FaultKind.NotFound);

/// <summary>Nova's InvalidMigrationState: the migration is not in a state the call applies to (400).</summary>
public sealed class InvalidMigrationStateException(int migrationId, Guid serverId, string state, string method)
    : DomainException($"Migration {migrationId} state of instance {serverId} is {state}. Cannot {method} while the migration is in this state.");

/// <summary>A cold migration asked for the host the server is on (Nova: 400).</summary>
public sealed class CannotMigrateToSameHostException() : DomainException("Cannot migrate to the host where the server exists.");

/// <summary>A live migration asked for the host the server is on (Nova's UnableToMigrateToSelf, 400).</summary>
public sealed class UnableToMigrateToSelfException(Guid serverId, string host)
    : DomainException($"Unable to migrate instance ({serverId}) to current host ({host}).");
