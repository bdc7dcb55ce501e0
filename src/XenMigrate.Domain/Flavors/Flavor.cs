using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Flavors;

/// <summary>A Nova flavor (instance type): the size a server is given.</summary>
public sealed class Flavor
{
    private Dictionary<string, string> _extraSpecs = new(StringComparer.Ordinal);
    private readonly List<FlavorAccess> _access = [];

    private Flavor()
    {
        FlavorId = string.Empty;
        Name = string.Empty;
    }

    public Flavor(string flavorId, string name, int memoryMb, int vcpus, int rootGb,
        int ephemeralGb = 0, int swapMb = 0, bool isPublic = true, string? description = null, double rxtxFactor = 1.0)
    {
        if (string.IsNullOrWhiteSpace(flavorId)) throw new InvalidFlavorException("A flavor needs an id.");
        if (string.IsNullOrWhiteSpace(name)) throw new InvalidFlavorException("A flavor needs a name.");
        if (memoryMb < 1) throw new InvalidFlavorException("A flavor's ram must be at least 1 MB.");
        if (vcpus < 1) throw new InvalidFlavorException("A flavor's vcpus must be at least 1.");
        if (rootGb < 0 || ephemeralGb < 0 || swapMb < 0) throw new InvalidFlavorException("Disk sizes cannot be negative.");
        if (!(rxtxFactor > 0)) throw new InvalidFlavorException("A flavor's rxtx_factor must be positive.");

        FlavorId = flavorId;
        Name = name;
        MemoryMb = memoryMb;
        Vcpus = vcpus;
        RootGb = rootGb;
        EphemeralGb = ephemeralGb;
        SwapMb = swapMb;
        IsPublic = isPublic;
        Description = description;
        RxtxFactor = rxtxFactor;
    }

    /// <summary>Nova's internal integer id (instance_type id), used by migration records.</summary>
    public int InternalId { get; private set; }

    /// <summary>The public flavor id (a string; "1" … "5" for the standard flavors).</summary>
    public string FlavorId { get; private set; }

    public string Name { get; private set; }
    public int MemoryMb { get; private set; }
    public int Vcpus { get; private set; }
    public int RootGb { get; private set; }
    public int EphemeralGb { get; private set; }
    public int SwapMb { get; private set; }
    public bool IsPublic { get; private set; }
    public bool Disabled { get; private set; }
    public string? Description { get; private set; }
    public double RxtxFactor { get; private set; } = 1.0;

    public IReadOnlyDictionary<string, string> ExtraSpecs => _extraSpecs;

    public void SetExtraSpec(string key, string value)
    {
        if (string.IsNullOrWhiteSpace(key)) throw new InvalidFlavorException("An extra spec needs a key.");
        _extraSpecs = new Dictionary<string, string>(_extraSpecs, StringComparer.Ordinal) { [key] = value };
    }

    public bool RemoveExtraSpec(string key)
    {
        if (!_extraSpecs.ContainsKey(key)) return false;
        _extraSpecs = new Dictionary<string, string>(_extraSpecs.Where(p => p.Key != key), StringComparer.Ordinal);
        return true;
    }

    /// <summary>The projects a private flavor is shared with (Nova's flavor_projects).</summary>
    public IReadOnlyList<FlavorAccess> Access => _access;

    /// <summary>Whether a caller of this project finds the flavor: admins always, others a public one or one shared with their project.</summary>
    public bool IsVisibleTo(string projectId, bool isAdmin) => isAdmin || IsPublic || _access.Any(a => a.ProjectId == projectId);

    /// <summary>Shares the flavor with a project (Nova's add_access; a public flavor needs none from 2.7).</summary>
    /// <exception cref="FlavorAccessException">Public (when <paramref name="refusePublic"/>), or already shared with the project.</exception>
    public void GrantAccess(string projectId, bool refusePublic)
    {
        if (refusePublic && IsPublic) throw new FlavorAccessException("Can not add access to a public flavor.", FaultKind.Conflict);
        if (_access.Any(a => a.ProjectId == projectId))
            throw new FlavorAccessException($"Flavor access already exists for flavor {FlavorId} and project {projectId} combination.", FaultKind.Conflict);
        _access.Add(new FlavorAccess(projectId));
    }

    /// <exception cref="FlavorAccessException">The flavor is not shared with the project.</exception>
    public void RevokeAccess(string projectId)
    {
        var access = _access.FirstOrDefault(a => a.ProjectId == projectId)
                     ?? throw new FlavorAccessException($"Flavor access not found for {FlavorId} / {projectId} combination.", FaultKind.NotFound);
        _access.Remove(access);
    }

    public void Disable() => Disabled = true;

    /// <summary>The one attribute Nova lets change after creation (2.55).</summary>
    public void Describe(string? description) => Description = description;

    public FlavorSnapshot Snapshot() =>
        new(InternalId, FlavorId, Name, MemoryMb, Vcpus, RootGb, EphemeralGb, SwapMb,
            new Dictionary<string, string>(_extraSpecs, StringComparer.Ordinal));
}

public sealed class InvalidFlavorException(string message) : DomainException(message);

/// <summary>A request body names a flavor that does not exist or is disabled (Nova's FlavorNotFound, 400 from resize and create).</summary>
public sealed class FlavorNotFoundException(string flavorId) : DomainException($"Flavor {flavorId} could not be found.");

/// <summary>One project a private flavor is shared with.</summary>
public sealed class FlavorAccess(string projectId)
{
    public string ProjectId { get; private set; } = projectId;
}

/// <summary>Sharing a flavor with a project was refused (Nova's FlavorAccessExists, FlavorAccessNotFound, or a public flavor).</summary>
public sealed class FlavorAccessException(string message, FaultKind kind) : DomainException(message, kind);
