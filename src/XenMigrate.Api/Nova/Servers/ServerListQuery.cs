using System.Globalization;
using System.Text.RegularExpressions;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// Nova's GET /servers[/detail] query: which filters exist, who may use them, how they match, and
/// the sort order (nova/api/openstack/compute/servers.py, schemas/servers.py).
/// </summary>
public sealed class ServerListQuery
{
    private static readonly TimeSpan RegexBudget = TimeSpan.FromMilliseconds(100);

    /// <summary>Every parameter Nova's query schema lists; from 2.75 anything else is a 400.</summary>
    private static readonly HashSet<string> KnownParameters =
    [
        "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id", "ramdisk_id",
        "hostname", "key_name", "power_state", "vm_state", "task_state", "host", "node", "flavor", "reservation_id",
        "launched_at", "terminated_at", "availability_zone", "name", "display_name", "description",
        "display_description", "locked_by", "uuid", "root_device_name", "config_drive", "access_ip_v4",
        "access_ip_v6", "auto_disk_config", "progress", "sort_key", "sort_dir", "all_tenants", "soft_deleted",
        "deleted", "status", "changes-since", "changes-before", "ip", "ip6", "created_at", "block_device_mapping",
        "services", "metadata", "system_metadata", "info_cache", "security_groups", "pci_devices", "limit",
        "marker", "tags", "tags-any", "not-tags", "not-tags-any", "locked", "pinned_availability_zone",
    ];

    /// <summary>Filters only admins could use before 2.83 (silently dropped for others, as Nova does).</summary>
    private static readonly HashSet<string> AdminOnlyBefore283 =
        ["availability_zone", "config_drive", "key_name", "created_at", "launched_at", "terminated_at", "power_state",
         "task_state", "vm_state", "progress", "user_id"];

    private static readonly Dictionary<string, Func<Server, IComparable?>> SortKeys = new(StringComparer.Ordinal)
    {
        ["created_at"] = s => s.CreatedAt,
        ["updated_at"] = s => s.UpdatedAt,
        ["launched_at"] = s => s.LaunchedAt,
        ["display_name"] = s => s.Name,
        ["uuid"] = s => s.Id.ToString(),
        ["host"] = s => s.Host,
        ["node"] = s => s.Node,
        ["vm_state"] = s => s.VmState.ToNovaName(),
        ["task_state"] = s => s.TaskState?.ToNovaName(),
        ["power_state"] = s => (int)s.PowerState,
        ["project_id"] = s => s.ProjectId,
        ["user_id"] = s => s.UserId,
        ["availability_zone"] = s => s.AvailabilityZone,
        ["locked"] = s => s.Locked,
        ["instance_type_id"] = s => s.Flavor.FlavorInternalId,
        ["memory_mb"] = s => s.Flavor.MemoryMb,
        ["vcpus"] = s => s.Flavor.Vcpus,
        ["root_gb"] = s => s.Flavor.RootGb,
    };

    private readonly IQueryCollection _query;
    private readonly NovaCaller _caller;

    public ServerListQuery(NovaCaller caller)
    {
        _caller = caller;
        _query = caller.Http.Request.Query;
        if (caller.Version.AtLeast(75)) NovaQuery.RejectUnknown(_query, KnownParameters);
    }

    /// <summary>Whether the caller asked for every project's servers (and may).</summary>
    public bool AllTenants(NovaPolicy.Rule allTenantsRule)
    {
        if (!_query.TryGetValue("all_tenants", out var raw)) return false;
        var all = NovaQuery.Bool(raw.ToString()) ?? throw NovaFaultException.BadRequest($"Invalid all_tenants value: {raw}");
        if (all) _caller.Authorize(allTenantsRule);
        return all;
    }

    /// <summary>The project to restrict an all-tenants listing to, if named.</summary>
    public string? ProjectFilter => Value("project_id") ?? Value("tenant_id");

    public string? HostFilter => _caller.IsAdmin ? Value("host") : null;

    public string? NodeFilter => _caller.IsAdmin ? Value("node") : null;

    /// <summary>Applies the filters that are matched in memory (regexes, derived status, timestamps…).</summary>
    public IEnumerable<Server> Filter(IEnumerable<Server> servers)
    {
        if ((Value("name") ?? Value("display_name")) is { } pattern)
        {
            var regex = FilterRegex("name", pattern);
            servers = servers.Where(s => Matches(regex, s.Name));
        }

        var ipv4 = Value("ip") is { } ip ? FilterRegex("ip", ip) : null;
        var ipv6 = (_caller.IsAdmin || _caller.Version.AtLeast(5)) && Value("ip6") is { } ip6 ? FilterRegex("ip6", ip6) : null;
        if (ipv4 is not null || ipv6 is not null) servers = servers.Where(s => HasMatchingIp(s, ipv4, ipv6));

        if (Value("status") is { } status)
            servers = servers.Where(s => string.Equals(s.Status, status, StringComparison.OrdinalIgnoreCase));
        if (Value("flavor") is { } flavor) servers = servers.Where(s => s.Flavor.FlavorId == flavor);
        // Nova's image filter takes an id or an image URL (its last segment), matched against the server's image.
        if (Value("image") is { } image)
            servers = servers.Where(s => s.ImageId is not null && s.ImageId == image.TrimEnd('/').Split('/')[^1]);
        // Tags (2.26): all of tags, any of tags-any, not all of not-tags, none of not-tags-any (each comma-separated).
        if (_caller.Version.AtLeast(26))
        {
            if (TagList("tags") is { } all) servers = servers.Where(s => all.All(t => s.Tags.Contains(t)));
            if (TagList("tags-any") is { } any) servers = servers.Where(s => any.Any(t => s.Tags.Contains(t)));
            if (TagList("not-tags") is { } notAll) servers = servers.Where(s => !notAll.All(t => s.Tags.Contains(t)));
            if (TagList("not-tags-any") is { } notAny) servers = servers.Where(s => !notAny.Any(t => s.Tags.Contains(t)));
        }

        if (Value("reservation_id") is { } reservation) servers = servers.Where(s => ServerView.ReservationId(s) == reservation);
        if (Value("uuid") is { } uuid) servers = servers.Where(s => string.Equals(s.Id.ToString(), uuid, StringComparison.OrdinalIgnoreCase));
        if (_caller.Version.AtLeast(73) && Value("locked") is { } locked)
        {
            var wanted = NovaQuery.Bool(locked) ?? throw NovaFaultException.BadRequest($"Invalid locked value: {locked}");
            servers = servers.Where(s => s.Locked == wanted);
        }

        if (MayUse("vm_state") && Value("vm_state") is { } vmState) servers = servers.Where(s => s.VmState.ToNovaName() == vmState);
        if (MayUse("task_state") && Value("task_state") is { } taskState) servers = servers.Where(s => s.TaskState?.ToNovaName() == taskState);
        if (MayUse("power_state") && Value("power_state") is { } power)
        {
            var code = int.TryParse(power, NumberStyles.None, CultureInfo.InvariantCulture, out var p)
                ? p : throw NovaFaultException.BadRequest($"Invalid power_state value: {power}");
            servers = servers.Where(s => (int)s.PowerState == code);
        }

        if (MayUse("user_id") && Value("user_id") is { } userId) servers = servers.Where(s => s.UserId == userId);

        var since = NovaQuery.Timestamp(_query, "changes-since");
        var before = _caller.Version.AtLeast(66) ? NovaQuery.Timestamp(_query, "changes-before") : null;
        if (since is not null && before is not null && since > before)
            throw NovaFaultException.BadRequest("The value of changes-since must be less than or equal to changes-before.");
        if (since is { } s1) servers = servers.Where(s => s.UpdatedAt >= s1);
        if (before is { } b1) servers = servers.Where(s => s.UpdatedAt <= b1);
        return servers;
    }

    /// <summary>Nova's order: <c>sort_key</c>/<c>sort_dir</c> pairs, else newest first; the id breaks ties.</summary>
    public List<Server> Sort(IEnumerable<Server> servers)
    {
        var keys = _query["sort_key"].Where(k => !string.IsNullOrEmpty(k)).Select(k => k!).ToList();
        var dirs = _query["sort_dir"].Where(d => !string.IsNullOrEmpty(d)).Select(d => d!).ToList();
        if (keys.Count == 0) keys.Add("created_at");
        foreach (var d in dirs)
            if (d is not ("asc" or "desc")) throw NovaFaultException.BadRequest($"Invalid sort_dir [{d}]");

        IOrderedEnumerable<Server>? ordered = null;
        for (var i = 0; i < keys.Count; i++)
        {
            if (!SortKeys.TryGetValue(keys[i], out var selector))
                throw NovaFaultException.BadRequest($"Invalid sort_key [{keys[i]}]");
            var descending = (i < dirs.Count ? dirs[i] : "desc") == "desc";
            ordered = ordered is null
                ? descending ? servers.OrderByDescending(selector) : servers.OrderBy(selector)
                : descending ? ordered.ThenByDescending(selector) : ordered.ThenBy(selector);
        }

        return ordered!.ThenByDescending(s => s.Id.ToString()).ToList();
    }

    private bool MayUse(string filter) => _caller.IsAdmin || !AdminOnlyBefore283.Contains(filter) || _caller.Version.AtLeast(83);

    private string? Value(string name) =>
        _query.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v.ToString()) ? v.ToString() : null;

    /// <summary>
    /// Nova's <c>ip</c> and <c>ip6</c> filters: Python's <c>re.match</c> (anchored at the start)
    /// of each fixed IPv4 or IPv6 address; a server matching either is listed. ip6 is open to
    /// members from 2.5.
    /// </summary>
    private static bool HasMatchingIp(Server server, Regex? ipv4, Regex? ipv6) =>
        server.Addresses.Any(a => a.Address is { } address && System.Net.IPAddress.TryParse(address, out var parsed) &&
                                  (parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ipv4 : ipv6) is { } regex &&
                                  MatchesFromStart(regex, address));

    /// <summary>A filter's regular expression (Nova's name filter is searched anywhere in the name; ip and ip6 match from the start).</summary>
    private static Regex FilterRegex(string filter, string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, RegexBudget);
        }
        catch (ArgumentException)
        {
            throw NovaFaultException.BadRequest($"Invalid regular expression in {filter} filter: {pattern}");
        }
    }

    private static bool Matches(Regex regex, string text) => Within(() => regex.IsMatch(text));

    // The leftmost match is found first, so one at index 0 exists exactly when re.match would succeed.
    private static bool MatchesFromStart(Regex regex, string text) => Within(() => regex.Match(text) is { Success: true, Index: 0 });

    private static bool Within(Func<bool> match)
    {
        try
        {
            return match();
        }
        catch (RegexMatchTimeoutException)
        {
            throw NovaFaultException.BadRequest("A filter's regular expression took too long to evaluate.");
        }
    }

    private string[]? TagList(string name) =>
        Value(name) is { } raw ? raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;
}
