using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// Nova's server bodies (nova/api/openstack/compute/views/servers.py) for every microversion up to
/// the advertised maximum. Fields appear exactly where Nova adds them.
/// </summary>
public static partial class ServerView
{
    /// <summary>Host facts only admins see: status of the server's host for <c>host_status</c> (2.16).</summary>
    public delegate string HostStatusLookup(string? host);

    /// <summary>
    /// Nova's <c>addresses</c> (views/addresses.py): each interface's network label, in the
    /// interfaces' order, with its IPs ({version, addr}, and in a server's detail the fixed type and
    /// the MAC); a network whose guest has reported no IP yet is listed with none.
    /// </summary>
    public static JsonObject Addresses(IEnumerable<ServerAddress> addresses, bool extended)
    {
        var networks = new JsonObject();
        foreach (var a in addresses)
        {
            if (networks[a.Network] is not JsonArray ips) networks[a.Network] = ips = [];
            if (a.Address is null || !System.Net.IPAddress.TryParse(a.Address, out var ip)) continue;
            var entry = new JsonObject
            {
                ["version"] = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 6 : 4,
                ["addr"] = a.Address,
            };
            if (extended)
            {
                entry["OS-EXT-IPS:type"] = "fixed";
                entry["OS-EXT-IPS-MAC:mac_addr"] = a.MacAddress;
            }

            ips.Add(entry);
        }

        return networks;
    }

    /// <summary>
    /// accessIPv4/accessIPv6 when the user set none, "may be automatically set by the provider" (Nova's api-ref): a
    /// XenServer guest sits on a bridged network with no NAT or floating IPs, so the address it
    /// reports first on its first interface is the one to reach it by (a link-local IPv6 is not).
    /// Clients that find no access address and no Neutron ask for a floating IP (openstacksdk's
    /// auto_ip) and fail.
    /// </summary>
    private static string AccessIp(IEnumerable<ServerAddress> addresses, System.Net.Sockets.AddressFamily family) =>
        addresses.Select(a => a.Address is not null && System.Net.IPAddress.TryParse(a.Address, out var ip) ? ip : null)
            .FirstOrDefault(ip => ip is not null && ip.AddressFamily == family && !ip.IsIPv6LinkLocal)?.ToString() ?? string.Empty;

    public static JsonObject Summary(Server s, NovaCaller caller) => new()
    {
        ["id"] = s.Id.ToString(),
        ["name"] = s.Name,
        ["links"] = Links(s, caller),
    };

    public static JsonObject Detail(Server s, NovaCaller caller, HostStatusLookup hostStatus, bool isShow)
    {
        var v = caller.Version;
        var status = s.Status;
        var body = new JsonObject
        {
            ["id"] = s.Id.ToString(),
            ["name"] = s.Name,
            ["status"] = status,
            ["tenant_id"] = s.ProjectId,
            ["user_id"] = s.UserId,
            ["metadata"] = new JsonObject(s.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["hostId"] = HostIds.For(s.ProjectId, s.Host),
            ["image"] = Image(s, caller), // "" for a discovered VM: it was not booted from an image
            ["flavor"] = Flavor(s.Flavor, caller),
            ["created"] = Iso(s.CreatedAt),
            ["updated"] = Iso(s.UpdatedAt),
            ["addresses"] = Addresses(s.Addresses, extended: true),
            ["accessIPv4"] = s.AccessIPv4 ?? AccessIp(s.Addresses, System.Net.Sockets.AddressFamily.InterNetwork),
            ["accessIPv6"] = s.AccessIPv6 ?? AccessIp(s.Addresses, System.Net.Sockets.AddressFamily.InterNetworkV6),
            ["links"] = Links(s, caller),
            ["OS-DCF:diskConfig"] = "MANUAL",
            ["OS-EXT-AZ:availability_zone"] = s.AvailabilityZone,
            ["config_drive"] = string.Empty,
            ["key_name"] = s.KeyName,
            ["OS-SRV-USG:launched_at"] = Usage(s.LaunchedAt),
            ["OS-SRV-USG:terminated_at"] = Usage(s.TerminatedAt),
            ["OS-EXT-STS:task_state"] = s.TaskState?.ToNovaName(),
            ["OS-EXT-STS:vm_state"] = s.VmState.ToNovaName(),
            ["OS-EXT-STS:power_state"] = (int)s.PowerState,
            ["os-extended-volumes:volumes_attached"] = new JsonArray(),
            ["security_groups"] = new JsonArray(new JsonObject { ["name"] = "default" }),
        };

        if (ServerStatus.ShowsProgress(status)) body["progress"] = s.Progress;
        if (ServerStatus.ShowsFault(status) && s.Fault is { } fault)
        {
            var f = new JsonObject { ["code"] = fault.Code, ["created"] = Iso(fault.CreatedAt), ["message"] = fault.Message };
            if (caller.IsAdmin && fault.Details is not null) f["details"] = fault.Details;
            body["fault"] = f;
        }

        if (caller.Can(NovaPolicy.ExtendedServerAttributes, s.ProjectId))
        {
            body["OS-EXT-SRV-ATTR:host"] = s.Host;
            body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = s.Node;
            body["OS-EXT-SRV-ATTR:instance_name"] = InstanceName(s);
            if (v.AtLeast(3))
            {
                body["OS-EXT-SRV-ATTR:hostname"] = Hostname(s.Name);
                body["OS-EXT-SRV-ATTR:kernel_id"] = string.Empty;
                body["OS-EXT-SRV-ATTR:launch_index"] = s.LaunchIndex;
                body["OS-EXT-SRV-ATTR:ramdisk_id"] = string.Empty;
                body["OS-EXT-SRV-ATTR:reservation_id"] = ReservationId(s);
                body["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/xvda";
                body["OS-EXT-SRV-ATTR:user_data"] = null;
            }
        }
        else if (v.AtLeast(90))
        {
            body["OS-EXT-SRV-ATTR:hostname"] = Hostname(s.Name);
        }

        // A VM XenMigrate was not handed (XenServer:AdoptVms) refuses every action: Nova's lock says so to every client.
        if (v.AtLeast(9)) body["locked"] = s.Locked || !s.Managed;
        if (v.AtLeast(16) && caller.Can(NovaPolicy.ServersShowHostStatus, s.ProjectId)) body["host_status"] = hostStatus(s.Host);
        if (v.AtLeast(19)) body["description"] = s.Description;
        if (v.AtLeast(26)) body["tags"] = new JsonArray(s.Tags.Select(t => (JsonNode)t).ToArray());
        if (v.AtLeast(63)) body["trusted_image_certificates"] = null;
        if (v.AtLeast(71) && isShow) body["server_groups"] = new JsonArray(); // the caller fills in the server's group
        if (v.AtLeast(73)) body["locked_reason"] = s.Managed ? s.LockedReason : UnmanagedReason;
        if (v.AtLeast(96)) body["pinned_availability_zone"] = null;
        if (v.AtLeast(100)) body["scheduler_hints"] = SchedulerHints(s.SchedulerHints);
        return body;
    }

    /// <summary>2.100's scheduler_hints: each hint the boot gave, its values as a list (Nova's RequestSpec keeps lists of strings).</summary>
    private static JsonObject SchedulerHints(SchedulerHints? hints)
    {
        var view = new JsonObject();
        foreach (var (key, values) in hints?.Values ?? new Dictionary<string, IReadOnlyList<string>>())
            view[key] = new JsonArray(values.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        return view;
    }

    public const string UnmanagedReason = "Not managed by XenMigrate: found on a XenServer host but not handed over (see XenServer:AdoptVms).";

    private static JsonObject Flavor(FlavorSnapshot f, NovaCaller caller)
    {
        if (!caller.Version.AtLeast(47))
        {
            return new JsonObject
            {
                ["id"] = f.FlavorId,
                ["links"] = new JsonArray(new JsonObject { ["href"] = caller.BookmarkLink("flavors", f.FlavorId), ["rel"] = "bookmark" }),
            };
        }

        var body = new JsonObject
        {
            ["vcpus"] = f.Vcpus,
            ["ram"] = f.MemoryMb,
            ["disk"] = f.RootGb,
            ["ephemeral"] = f.EphemeralGb,
            ["swap"] = f.SwapMb,
            ["original_name"] = f.Name,
        };
        if (caller.Can(NovaPolicy.FlavorExtraSpecsIndex)) body["extra_specs"] = Flavors.FlavorView.ExtraSpecs(f.ExtraSpecs);
        return body;
    }

    /// <summary>The image a server was booted from as <c>{id, links}</c> (Nova's bookmark to /images/{id}), or "".</summary>
    private static JsonNode Image(Server s, NovaCaller caller) => s.ImageId is { } id
        ? new JsonObject
        {
            ["id"] = id,
            ["links"] = new JsonArray(new JsonObject { ["href"] = caller.BookmarkLink("images", id), ["rel"] = "bookmark" }),
        }
        : JsonValue.Create(string.Empty);

    private static JsonArray Links(Server s, NovaCaller caller) =>
    [
        new JsonObject { ["href"] = caller.SelfLink("servers", s.Id.ToString()), ["rel"] = "self" },
        new JsonObject { ["href"] = caller.BookmarkLink("servers", s.Id.ToString()), ["rel"] = "bookmark" },
    ];

    /// <summary><c>2013-09-03T04:01:33Z</c>: how Nova writes created/updated.</summary>
    public static string Iso(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary><c>2013-09-23T13:37:00.880302</c>: how Nova writes the usage timestamps (no zone).</summary>
    private static string? Usage(DateTime? t) =>
        t?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    public static string InstanceName(Server s) => "instance-" + s.Id.ToString("N")[..8];

    /// <summary>The create request's reservation id; a found VM (no request) gets one from its id, stable across reads.</summary>
    public static string ReservationId(Server s) => s.ReservationId ?? "r-" + s.Id.ToString("N")[^8..];

    /// <summary>Nova's sanitize_hostname: lowercase, spaces and underscores to dashes, nothing else odd.</summary>
    public static string Hostname(string name)
    {
        var h = HostnameJunk().Replace(name.ToLowerInvariant().Replace(' ', '-').Replace('_', '-'), string.Empty).Trim('.', '-');
        h = h.Length > 63 ? h[..63] : h;
        return h.Length == 0 ? "server" : h;
    }

    [GeneratedRegex("[^a-z0-9.-]", RegexOptions.CultureInvariant)]
    private static partial Regex HostnameJunk();
}
