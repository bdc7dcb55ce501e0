namespace XenMigrate.Domain.Hosts;

/// <summary>
/// A Nova host aggregate. Each XenServer pool is one (its members are its hosts, as XenServer
/// reports them); the gateway keeps it in step with the pool, so its id stays the same.
/// </summary>
public sealed class HostAggregate
{
    private HostAggregate()
    {
        Name = string.Empty;
    }

    public HostAggregate(Guid uuid, string name, Guid? poolUuid, DateTime now)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new InvalidComputeHostException("An aggregate needs a name.");
        Uuid = uuid;
        Name = name;
        PoolUuid = poolUuid;
        CreatedAt = now;
        UpdatedAt = now;
    }

    /// <summary>Nova's integer aggregate id.</summary>
    public int Id { get; private set; }

    public Guid Uuid { get; private set; }

    public string Name { get; private set; }

    /// <summary>The XenServer pool this aggregate stands for; its hosts are the pool's members.</summary>
    public Guid? PoolUuid { get; private set; }

    public string? AvailabilityZone { get; private set; }

    public DateTime CreatedAt { get; private set; }

    public DateTime UpdatedAt { get; private set; }

    public void Rename(string name, DateTime now)
    {
        if (string.IsNullOrWhiteSpace(name) || name == Name) return;
        Name = name;
        UpdatedAt = now;
    }
}
