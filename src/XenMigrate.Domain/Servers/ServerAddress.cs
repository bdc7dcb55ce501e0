namespace XenMigrate.Domain.Servers;

/// <summary>
/// One of a server's addresses as Nova's network info cache holds it: the interface's network (its
/// label in <c>addresses</c>), its MAC, and an IP the guest reports on it. A null
/// <see cref="Address"/> is an interface whose guest has reported no IP yet: the network is
/// listed with no addresses, as Nova lists a port without fixed IPs.
/// </summary>
public sealed record ServerAddress(string Network, string MacAddress, string? Address);

/// <summary>
/// The networks a build asked for (Nova's <c>networks</c>): <see cref="Auto"/> lets the host pick
/// its default network, <see cref="None"/> gives the server no interface, otherwise one interface
/// per listed network id, in order.
/// </summary>
public sealed record RequestedNetworks(bool Auto, IReadOnlyList<string> NetworkIds)
{
    public static readonly RequestedNetworks AutoAllocate = new(true, []);
    public static readonly RequestedNetworks None = new(false, []);

    public static RequestedNetworks Of(IReadOnlyList<string> networkIds) => new(false, networkIds);
}
