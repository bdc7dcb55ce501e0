using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

// A server's interfaces: the VIFs a build gives it, and the addresses its guest reports on them.
public sealed partial class XapiDriver
{
    public async Task<(IReadOnlySet<string> Hosts, bool Answered)> HostsWithNetworksAsync(IEnumerable<string> hosts, IReadOnlyList<string> networkIds, CancellationToken ct)
    {
        var fitting = new HashSet<string>(StringComparer.Ordinal);
        var poolHasThem = new Dictionary<string, bool>(StringComparer.Ordinal);
        var answered = false;
        foreach (var host in hosts)
        {
            try
            {
                var on = await OnAsync(host, ct);
                if (!poolHasThem.TryGetValue(on.Pool.PoolUuid, out var has))
                {
                    var uuids = (await NetworksAsync(on.Session, ct)).Values.Select(n => n.Uuid).ToHashSet(StringComparer.OrdinalIgnoreCase);
                    poolHasThem[on.Pool.PoolUuid] = has = networkIds.All(uuids.Contains);
                }

                answered = true;
                if (has) fitting.Add(host);
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or UnknownComputeHostException)
            {
                // A host (or pool) that does not answer is no candidate; the scheduler says so if none is left.
            }
        }

        return (fitting, answered);
    }

    public async Task<IReadOnlyList<ServerAddress>> AddressesAsync(string host, string vmUuid, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var s = on.Session;
        var vm = await s.VmAsync(await RequireVmAsync(s, vmUuid, ct), ct);
        var vifs = new Dictionary<string, XapiVif>(StringComparer.Ordinal);
        foreach (var vifRef in vm.Vifs) vifs[vifRef] = XapiVif.From(vifRef, await RecordAsync(s, "VIF", vifRef, ct));
        var metricsRef = XapiValues.String(vm.Record["guest_metrics"]);
        var metrics = XapiValues.IsNullRef(metricsRef) ? new Dictionary<string, XapiGuestMetrics>()
            : new Dictionary<string, XapiGuestMetrics> { [metricsRef] = XapiGuestMetrics.From(metricsRef, await RecordAsync(s, "VM_guest_metrics", metricsRef, ct)) };
        return AddressesOf(vm, vifs, await s.NetworkLabelsAsync(ct), metrics);
    }

    /// <summary>
    /// Nova's network info of a VM: each VIF (by device number) on its network's name_label with
    /// its MAC and the IPs the guest agent reports for that device in VM_guest_metrics.networks
    /// ("0/ip" and "0/ipv4/n" for IPv4, "0/ipv6/n" for IPv6; xapi_guest_agent.ml). A VIF without
    /// a reported IP (no agent yet, a halted VM) still shows its network. Link-local IPv6 addresses,
    /// which every guest reports and Nova never lists (they are no fixed IPs, and reach nothing
    /// without a zone), are left out.
    /// </summary>
    internal static IReadOnlyList<ServerAddress> AddressesOf(XapiVm vm, IReadOnlyDictionary<string, XapiVif> vifs,
        IReadOnlyDictionary<string, string> networkLabels, IReadOnlyDictionary<string, XapiGuestMetrics> guestMetrics)
    {
        var reported = guestMetrics.GetValueOrDefault(XapiValues.String(vm.Record["guest_metrics"]))?.Networks
                       ?? new Dictionary<string, string>();
        var addresses = new List<ServerAddress>();
        foreach (var vif in vm.Vifs.Select(r => vifs.GetValueOrDefault(r)).OfType<XapiVif>().OrderBy(v => DeviceNumber(v.Device)))
        {
            var network = networkLabels.GetValueOrDefault(vif.Network) ?? vif.Network;
            var ips = IpsOfDevice(reported, vif.Device);
            if (ips.Count == 0) addresses.Add(new ServerAddress(network, vif.Mac, null));
            addresses.AddRange(ips.Select(ip => new ServerAddress(network, vif.Mac, ip)));
        }

        return addresses;
    }

    /// <summary>The device's IPv4 addresses ("n/ip" first, then "n/ipv4/i"), then its IPv6 ones, each once.</summary>
    private static List<string> IpsOfDevice(IReadOnlyDictionary<string, string> networks, string device)
    {
        var prefix = device + "/";
        var keyed = networks.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal) && p.Value.Length > 0)
            .Select(p => (Field: p.Key[prefix.Length..], p.Value)).ToList();
        int Rank((string Field, string Value) p) => p.Field == "ip" ? -1 : p.Field.StartsWith("ipv4/", StringComparison.Ordinal) ? 0 : 1;
        int Index(string rest) => int.TryParse(rest[(rest.LastIndexOf('/') + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : 0;
        return keyed.Where(p => p.Field == "ip" || p.Field.StartsWith("ipv4/", StringComparison.Ordinal) || p.Field.StartsWith("ipv6/", StringComparison.Ordinal))
            .Where(p => !(System.Net.IPAddress.TryParse(p.Value, out var ip) && ip.IsIPv6LinkLocal))
            .OrderBy(Rank).ThenBy(p => Index(p.Field)).Select(p => p.Value).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    private static int DeviceNumber(string device) =>
        int.TryParse(device, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue;

    /// <summary>
    /// The VIFs a build asked for, made once each (a re-run finds the device already there):
    /// auto keeps a template's own VIFs, or gives one on the default network; none removes any the
    /// template had; a list gives device i on network i, and only those.
    /// </summary>
    private async Task EnsureVifsAsync(On on, XapiVm vm, RequestedNetworks requested, CancellationToken ct)
    {
        var s = on.Session;
        var existing = new Dictionary<string, XapiVif>(StringComparer.Ordinal);
        foreach (var vifRef in vm.Vifs)
        {
            var vif = XapiVif.From(vifRef, await RecordAsync(s, "VIF", vifRef, ct));
            existing[vif.Device] = vif;
        }

        var networks = await NetworksAsync(s, ct);
        List<string> wanted;
        if (requested.Auto)
        {
            if (existing.Count > 0) return;
            wanted = [DefaultNetwork(networks.Values, on).Ref];
        }
        else
        {
            wanted = requested.NetworkIds.Select(id => networks.Values.FirstOrDefault(n => string.Equals(n.Uuid, id, StringComparison.OrdinalIgnoreCase))?.Ref
                                                       ?? throw new NoValidHostException($"Network {id} could not be found on the pool of {on.Member.ComputeName}."))
                .ToList();
        }

        foreach (var (device, vif) in existing)
        {
            var index = DeviceNumber(device);
            if (index < wanted.Count && vif.Network == wanted[index]) continue;
            await s.CallAsync("VIF.destroy", ct, vif.Ref);
            existing.Remove(device);
        }

        for (var i = 0; i < wanted.Count; i++)
        {
            var device = i.ToString(CultureInfo.InvariantCulture);
            if (existing.ContainsKey(device)) continue;
            // An empty MAC: xapi generates one (and the VIF keeps it through every move).
            await s.CallAsync("VIF.create", ct, new JsonObject
            {
                ["device"] = device, ["network"] = wanted[i], ["VM"] = vm.Ref, ["MAC"] = "", ["MTU"] = 1500L,
                ["other_config"] = new JsonObject(), ["qos_algorithm_type"] = "", ["qos_algorithm_params"] = new JsonObject(),
            });
        }
    }

    /// <summary>
    /// The network a server gets when it names none: XenServer:DefaultNetwork (a name_label), else
    /// the network of the host's management interface (the one xe vm-install would pick).
    /// </summary>
    private NetworkInfo DefaultNetwork(IEnumerable<NetworkInfo> networks, On on)
    {
        var onHost = networks.Where(n => n.HostsWithPif.Contains(on.Member.HostRef)).ToList();
        if (Options.DefaultNetwork is { Length: > 0 } name)
            return onHost.FirstOrDefault(n => n.NameLabel == name)
                   ?? throw new NoValidHostException($"The default network '{name}' (XenServer:DefaultNetwork) has no interface on {on.Member.ComputeName}.");
        return onHost.FirstOrDefault(n => n.Management)
               ?? throw new NoValidHostException($"{on.Member.ComputeName} has no management network to give the server; set XenServer:DefaultNetwork.");
    }
}
