namespace XenMigrate.Domain.ServerGroups;

/// <summary>
/// A Nova server group (nova/objects/instance_group.py): servers a project wants kept together
/// (affinity) or apart (anti-affinity) on hosts, strictly or as a preference (the soft policies).
/// A server joins one group at boot (the <c>group</c> scheduler hint) and stays in it until it is
/// deleted; every placement of a member — its build, resize, migration, live migration, a host
/// drain — honours the group's policy.
/// </summary>
public sealed class ServerGroup
{
    public const string Affinity = "affinity";
    public const string AntiAffinity = "anti-affinity";
    public const string SoftAffinity = "soft-affinity";
    public const string SoftAntiAffinity = "soft-anti-affinity";

    /// <summary>Nova's policies, in the order its schema lists them (2.1 knew the first two, 2.15 added the soft ones).</summary>
    public static readonly IReadOnlyList<string> Policies = [AntiAffinity, Affinity, SoftAntiAffinity, SoftAffinity];

    private readonly List<ServerGroupMember> _members = [];

    private ServerGroup()
    {
        Name = Policy = ProjectId = UserId = string.Empty;
    }

    /// <exception cref="InvalidServerGroupException">An unknown policy, or a rule on a policy other than anti-affinity.</exception>
    public ServerGroup(Guid id, string name, string policy, int? maxServerPerHost, string projectId, string userId, DateTime now)
    {
        if (!Policies.Contains(policy)) throw new InvalidServerGroupException($"Invalid server group policy: {policy}");
        // Nova's "Only anti-affinity policy supports rules." (server_groups.py create, 2.64)
        if (maxServerPerHost is not null && policy != AntiAffinity) throw new InvalidServerGroupException("Only anti-affinity policy supports rules.");
        if (maxServerPerHost is < 1) throw new InvalidServerGroupException("max_server_per_host must be a positive integer.");
        Id = id;
        Name = name;
        Policy = policy;
        MaxServerPerHost = maxServerPerHost;
        ProjectId = projectId;
        UserId = userId;
        CreatedAt = now;
    }

    /// <summary>The group's uuid (Nova's <c>id</c> in the API).</summary>
    public Guid Id { get; private set; }

    public string Name { get; private set; }
    public string Policy { get; private set; }

    /// <summary>Nova's 2.64 rule for anti-affinity: at most this many members on one host (1 when not given).</summary>
    public int? MaxServerPerHost { get; private set; }

    public string ProjectId { get; private set; }
    public string UserId { get; private set; }
    public DateTime CreatedAt { get; private set; }

    public IReadOnlyList<ServerGroupMember> Members => _members;

    /// <summary>A server booted into the group (its quota, server_group_members, is checked by the caller).</summary>
    public void Add(Guid serverId)
    {
        if (_members.All(m => m.ServerId != serverId)) _members.Add(new ServerGroupMember(Id, serverId));
    }

    /// <summary>How the group judges one candidate host for a member, given how many other members each host holds.</summary>
    public GroupVerdict Judge(string host, IReadOnlyDictionary<string, int> membersPerHost)
    {
        var here = membersPerHost.GetValueOrDefault(host);
        var anywhere = membersPerHost.Values.Sum();
        return Policy switch
        {
            // Nova's ServerGroupAffinityFilter: once a member is placed, only the hosts holding members.
            Affinity => anywhere == 0 || here > 0 ? GroupVerdict.Fits(0) : GroupVerdict.Refused($"server group {Id} (affinity) has its members elsewhere"),
            // ServerGroupAntiAffinityFilter: fewer than max_server_per_host members there.
            AntiAffinity => here < (MaxServerPerHost ?? 1) ? GroupVerdict.Fits(0)
                : GroupVerdict.Refused($"server group {Id} (anti-affinity) already has {here} member(s) there"),
            // The soft policies only weigh (ServerGroupSoftAffinityWeigher, …SoftAntiAffinityWeigher).
            SoftAffinity => GroupVerdict.Fits(here),
            _ => GroupVerdict.Fits(-here),
        };
    }
}

/// <summary>One server in a group (a server is in at most one).</summary>
public sealed class ServerGroupMember(Guid groupId, Guid serverId)
{
    public Guid GroupId { get; private set; } = groupId;
    public Guid ServerId { get; private set; } = serverId;
}

/// <summary>A group's answer for one host: refused (with why), or allowed with a preference (higher is better).</summary>
public readonly record struct GroupVerdict(bool Allowed, int Preference, string? Reason)
{
    public static GroupVerdict Fits(int preference) => new(true, preference, null);
    public static GroupVerdict Refused(string reason) => new(false, 0, reason);
}

public sealed class InvalidServerGroupException(string message) : Common.DomainException(message);
