using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Hosts;

/// <summary>
/// A XenServer host the gateway drives — a pool member or a standalone host: Nova's compute
/// service and hypervisor in one. A member's pool is its host aggregate.
/// </summary>
public sealed class ComputeHost
{
    private ComputeHost()
    {
        Name = string.Empty;
        XapiUrl = string.Empty;
    }

    public ComputeHost(Guid uuid, string name, string xapiUrl, DateTime now)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new InvalidComputeHostException("A host needs a name.");
        if (!Uri.TryCreate(xapiUrl, UriKind.Absolute, out _)) throw new InvalidComputeHostException($"'{xapiUrl}' is not an absolute XAPI URL.");
        Uuid = uuid;
        Name = name;
        XapiUrl = xapiUrl;
        Enabled = true;
        CreatedAt = now;
        UpdatedAt = now;
    }

    /// <summary>Nova's integer service id (os-services below 2.53).</summary>
    public int Id { get; private set; }

    public Guid Uuid { get; private set; }
    public string Name { get; private set; }
    public string XapiUrl { get; private set; }
    public bool Enabled { get; private set; }
    public string? DisabledReason { get; private set; }
    public bool ForcedDown { get; private set; }

    /// <summary>When XAPI last answered; null if it never has.</summary>
    public DateTime? LastSeenAt { get; private set; }

    /// <summary>False once the host stopped answering; up again at its next answer.</summary>
    public bool IsUp { get; private set; }

    public DateTime CreatedAt { get; private set; }
    public DateTime UpdatedAt { get; private set; }

    /// <summary>The XenServer pool the host belongs to (a standalone host is its own pool of one).</summary>
    public Guid? PoolUuid { get; private set; }

    /// <summary>The pool's name_label ("" for a standalone host's nameless pool).</summary>
    public string? PoolName { get; private set; }

    /// <summary>Whether the host's pool is shown as a host aggregate (a named pool, or one of several hosts).</summary>
    public bool InAggregate { get; private set; }

    /// <summary>Which pool the host is in, as XenServer last reported.</summary>
    public void ObservePool(Guid poolUuid, string poolName, bool aggregate, DateTime now)
    {
        if (PoolUuid == poolUuid && PoolName == poolName && InAggregate == aggregate) return;
        PoolUuid = poolUuid;
        PoolName = poolName;
        InAggregate = aggregate;
        UpdatedAt = now;
    }

    /// <summary>Whether the scheduler may place work here.</summary>
    public bool IsSchedulable => Enabled && IsUp && !ForcedDown;

    public void Disable(string? reason, DateTime now)
    {
        Enabled = false;
        DisabledReason = reason;
        UpdatedAt = now;
    }

    public void Enable(DateTime now)
    {
        Enabled = true;
        DisabledReason = null;
        UpdatedAt = now;
    }

    public void SetForcedDown(bool forcedDown, DateTime now)
    {
        ForcedDown = forcedDown;
        UpdatedAt = now;
    }

    public void MoveTo(string xapiUrl, DateTime now)
    {
        if (!Uri.TryCreate(xapiUrl, UriKind.Absolute, out _)) throw new InvalidComputeHostException($"'{xapiUrl}' is not an absolute XAPI URL.");
        XapiUrl = xapiUrl;
        UpdatedAt = now;
    }

    public void ReportAnswered(DateTime now)
    {
        LastSeenAt = now;
        if (!IsUp) UpdatedAt = now;
        IsUp = true;
    }

    public void ReportUnreachable(DateTime now)
    {
        if (IsUp) UpdatedAt = now;
        IsUp = false;
    }
}

public sealed class InvalidComputeHostException(string message) : DomainException(message);
