using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Migrations;

/// <summary>
/// A Nova migration record: one resize, cold or live migration, or evacuation of one server,
/// moving through the statuses <see cref="MigrationLifecycle"/> allows.
/// </summary>
public sealed class Migration
{
    private Migration()
    {
        ProjectId = string.Empty;
        UserId = string.Empty;
    }

    public Migration(Guid uuid, Guid instanceUuid, MigrationType type, string sourceCompute, string? sourceNode,
        int oldInstanceTypeId, int newInstanceTypeId, string projectId, string userId, DateTime now)
    {
        if (uuid == Guid.Empty || instanceUuid == Guid.Empty)
            throw new InvalidMigrationException("A migration needs its own uuid and the server's.");

        Uuid = uuid;
        InstanceUuid = instanceUuid;
        Type = type;
        Status = MigrationLifecycle.InitialStatus(type);
        SourceCompute = sourceCompute;
        SourceNode = sourceNode;
        OldInstanceTypeId = oldInstanceTypeId;
        NewInstanceTypeId = newInstanceTypeId;
        ProjectId = projectId;
        UserId = userId;
        CreatedAt = now;
        UpdatedAt = now;
    }

    /// <summary>Nova's integer id (shown by the APIs); assigned by the database.</summary>
    public int Id { get; private set; }

    public Guid Uuid { get; private set; }
    public Guid InstanceUuid { get; private set; }
    public MigrationType Type { get; private set; }
    public MigrationStatus Status { get; private set; }

    public string? SourceCompute { get; private set; }
    public string? SourceNode { get; private set; }
    public string? DestCompute { get; private set; }
    public string? DestNode { get; private set; }

    /// <summary>The destination's address (Nova's <c>dest_host</c>).</summary>
    public string? DestHost { get; private set; }

    /// <summary>Internal flavor ids (<see cref="Flavors.Flavor.InternalId"/>), as Nova reports them.</summary>
    public int OldInstanceTypeId { get; private set; }

    public int NewInstanceTypeId { get; private set; }

    public long MemoryTotalBytes { get; private set; }
    public long MemoryProcessedBytes { get; private set; }
    public long MemoryRemainingBytes { get; private set; }
    public long DiskTotalBytes { get; private set; }
    public long DiskProcessedBytes { get; private set; }
    public long DiskRemainingBytes { get; private set; }

    public string ProjectId { get; private set; }
    public string UserId { get; private set; }
    public bool Hidden { get; private set; }

    /// <summary>How long the server was down: source halted until the destination ran (null if it never stopped).</summary>
    public long? DowntimeMilliseconds { get; private set; }

    public DateTime CreatedAt { get; private set; }
    public DateTime UpdatedAt { get; private set; }

    public bool IsInProgress => MigrationLifecycle.IsInProgress(Status);

    public void TransitionTo(MigrationStatus next, DateTime now)
    {
        if (!MigrationLifecycle.CanTransition(Type, Status, next))
            throw new InvalidMigrationTransitionException(Uuid, Type, Status, next);
        Status = next;
        UpdatedAt = now;
    }

    public void SetDestination(string destCompute, string? destNode, string? destHost, DateTime now)
    {
        if (!IsInProgress) throw new InvalidMigrationException($"Migration {Uuid} has settled; its destination is fixed.");
        DestCompute = destCompute;
        DestNode = destNode;
        DestHost = destHost;
        UpdatedAt = now;
    }

    public void RecordDiskProgress(long processedBytes, long totalBytes, DateTime now)
    {
        if (processedBytes < 0 || totalBytes < 0 || processedBytes > totalBytes)
            throw new InvalidMigrationException("Disk progress must satisfy 0 <= processed <= total.");
        DiskTotalBytes = totalBytes;
        DiskProcessedBytes = processedBytes;
        DiskRemainingBytes = totalBytes - processedBytes;
        UpdatedAt = now;
    }

    public void RecordDowntime(TimeSpan downtime, DateTime now)
    {
        DowntimeMilliseconds = (long)Math.Max(0, downtime.TotalMilliseconds);
        UpdatedAt = now;
    }

    public void RecordMemoryProgress(long processedBytes, long totalBytes, DateTime now)
    {
        if (processedBytes < 0 || totalBytes < 0 || processedBytes > totalBytes)
            throw new InvalidMigrationException("Memory progress must satisfy 0 <= processed <= total.");
        MemoryTotalBytes = totalBytes;
        MemoryProcessedBytes = processedBytes;
        MemoryRemainingBytes = totalBytes - processedBytes;
        UpdatedAt = now;
    }
}

public class InvalidMigrationException(string message) : DomainException(message);

public sealed class InvalidMigrationTransitionException(Guid uuid, MigrationType type, MigrationStatus from, MigrationStatus to)
    : InvalidMigrationException(
        $"Migration {uuid} ({type.ToNovaName()}) cannot go from '{from.ToNovaName()}' to '{to.ToNovaName()}'.")
{
    public MigrationStatus From { get; } = from;
    public MigrationStatus To { get; } = to;
}
