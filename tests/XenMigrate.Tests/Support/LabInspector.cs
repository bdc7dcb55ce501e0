using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Support;

/// <summary>Looks at simulated hosts over XAPI, as an operator's xe would: a server's VMs, leftovers, orphans.</summary>
public static class LabInspector
{
    /// <summary>The other_config key the workflow tags its XAPI objects with (an operator-visible contract).</summary>
    public const string MigrationTag = "xenmigrate_migration";

    public static async Task<XapiSession> OpenAsync(SimulatedHost host) =>
        await XapiSession.OpenAsync(new XapiHostOptions { Name = host.Name, Url = host.Url, Username = host.Username, Password = host.Password },
            TimeSpan.FromSeconds(10), CancellationToken.None);

    /// <summary>The guest VMs on a host carrying this server id (snapshots excluded).</summary>
    public static async Task<List<XapiVm>> VmsOfServerAsync(SimulatedHost host, string serverId)
    {
        await using var s = await OpenAsync(host);
        return (await s.VmsAsync(CancellationToken.None)).Values
            .Where(v => v.IsGuest && v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == serverId).ToList();
    }

    /// <summary>Every VDI on the host that belongs to no VM (an orphan).</summary>
    public static async Task<List<XapiVdi>> OrphanVdisAsync(SimulatedHost host)
    {
        await using var s = await OpenAsync(host);
        var vdis = await s.VdisAsync(CancellationToken.None);
        var used = (await s.VbdsAsync(CancellationToken.None)).Values.Where(b => b.IsDisk).Select(b => b.Vdi).ToHashSet();
        // A suspended VM's memory image belongs to it through VM.suspend_VDI, not a VBD.
        used.UnionWith((await s.VmsAsync(CancellationToken.None)).Values.Select(vm => XapiValues.String(vm.Record["suspend_VDI"])));
        // Discs in ISO libraries (tools, DVD) are never a VM's own disks.
        var isoSrs = (await s.SrsAsync(CancellationToken.None)).Values.Where(sr => sr.ContentType == "iso").Select(sr => sr.Ref).ToHashSet();
        return vdis.Values.Where(v => !used.Contains(v.Ref) && !isoSrs.Contains(v.Sr)).ToList();
    }

    /// <summary>VMs and snapshots a migration made and left behind (tagged, or named as its snapshots are).</summary>
    public static async Task<List<XapiVm>> MigrationLeftoversAsync(SimulatedHost host, string? migrationUuid = null)
    {
        var name = "xenmigrate-" + migrationUuid;
        await using var s = await OpenAsync(host);
        return (await s.VmsAsync(CancellationToken.None)).Values
            .Where(v => v.OtherConfig.TryGetValue(MigrationTag, out var tag) ? migrationUuid is null || tag == migrationUuid
                : v.NameLabel.StartsWith(name, StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>Seeds a running VM owned by demo on a host and waits until the gateway lists it as ACTIVE; returns the server id.</summary>
    public static async Task<string> SeedServerAsync(GatewayEndpoint gateway, string adminToken, SimulatedHost host, string name, long dataBytes)
    {
        await host.Control.SeedVmAsync(new SeedVmSpec
        {
            Name = name, MemoryBytes = 1024L << 20, DiskBytes = 1L << 30, DataBytes = dataBytes,
            OtherConfig = new Dictionary<string, string> { [InventoryKeys.Project] = "demo" },
        });
        var server = await Eventually.HoldsAsync(async () =>
            {
                var list = (await gateway.GetAsync("/v2.1/servers/detail?all_tenants=1", adminToken, "2.47")).Json?["servers"]?.AsArray();
                return list?.FirstOrDefault(s => s!["name"]!.GetValue<string>() == name);
            },
            s => s?["status"]?.GetValue<string>() == "ACTIVE", TimeSpan.FromSeconds(30), $"{name} listed as ACTIVE");
        return server!["id"]!.GetValue<string>();
    }
}
