namespace XenMigrate.Infrastructure.XenServer;

/// <summary>A XenServer network as a move sees it: its name, the VLAN of its PIFs, which hosts have one.</summary>
/// <param name="Vlan">The PIFs' VLAN tag; -1 untagged (or no PIF at all).</param>
/// <param name="HostsWithPif">Hosts with a PIF on it: a network without any (the host-internal management network, a private network) reaches nothing outside one host.</param>
public sealed record NetworkInfo(string Ref, string Uuid, string NameLabel, long Vlan, IReadOnlySet<string> HostsWithPif, bool Management);

/// <summary>
/// Which destination network a VIF goes on when a VM moves to another pool (Xen Orchestra's
/// rule, _incrementalVm.mjs): only networks with a PIF on the destination host, never a PIF-less
/// one; the same name_label (or the one an operator maps it to), preferring the same VLAN; else
/// the only network on the same VLAN. Null when nothing fits: the move is refused.
/// </summary>
public static class NetworkMapper
{
    public static NetworkInfo? Choose(NetworkInfo source, IEnumerable<NetworkInfo> destination, string destinationHostRef,
        IReadOnlyDictionary<string, string> operatorMap)
    {
        var usable = destination.Where(n => n.HostsWithPif.Contains(destinationHostRef)).ToList();
        var wanted = operatorMap.TryGetValue(source.NameLabel, out var mapped) ? mapped : source.NameLabel;
        var named = usable.Where(n => string.Equals(n.NameLabel, wanted, StringComparison.Ordinal)).ToList();
        if (named.Count > 0)
            return named.FirstOrDefault(n => n.Vlan == source.Vlan) ?? (mapped is not null || named.Count == 1 ? named[0] : null);
        if (mapped is not null || source.HostsWithPif.Count == 0) return null; // an explicit map, or a private network, is never guessed
        var sameVlan = usable.Where(n => n.Vlan == source.Vlan && n.Management == source.Management).ToList();
        return sameVlan.Count == 1 ? sameVlan[0] : null;
    }
}
