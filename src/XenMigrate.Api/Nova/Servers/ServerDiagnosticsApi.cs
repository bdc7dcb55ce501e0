using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// Nova's server diagnostics (server_diagnostics.py, admin): read from the VM's XAPI records on
/// its host. From 2.48 the standard shape (driver "xenapi", memory in MiB, one entry per vCPU,
/// NIC and disk); before it a flat map of the same facts, as Nova's drivers each had their own.
/// The counters (CPU time, bytes and packets) live in xcp-rrdd's RRDs and are null here, which
/// Nova's schema allows.
/// </summary>
public static class ServerDiagnosticsApi
{
    public static void MapServerDiagnostics(this RouteGroupBuilder compute) =>
        compute.MapGet("/servers/{server_id}/diagnostics", Show).WithTags("Servers")
            .WithSummary("A server's state, uptime, vCPUs, memory, NICs and disks as XenServer reports them (admin)");

    private static async Task<IResult> Show(string server_id, NovaCaller caller, ComputeApi compute, TimeProvider time, CancellationToken ct)
    {
        var d = await compute.DiagnosticsAsync(caller.Context, server_id, ct);
        var uptime = d.StartedAt is { } started ? (long?)Math.Max(0, (long)(time.GetUtcNow() - started).TotalSeconds) : null;
        long? Mib(long? bytes) => bytes is { } b ? b >> 20 : null;
        var state = d.Power switch
        {
            VmPower.Running => "running",
            VmPower.Paused => "paused",
            VmPower.Suspended => "suspended",
            _ => "shutdown",
        };
        if (!caller.Version.AtLeast(48))
        {
            var legacy = new JsonObject
            {
                ["state"] = state, ["uptime"] = uptime, ["num_cpus"] = d.Vcpus, ["memory_mb"] = Mib(d.MemoryMaxBytes),
                ["memory_used_mb"] = Mib(d.MemoryActualBytes), ["num_disks"] = d.Disks,
            };
            for (var i = 0; i < d.NicMacs.Count; i++) legacy[$"vif_{i}_mac"] = d.NicMacs[i];
            return Results.Json(legacy);
        }

        JsonObject Nic(string mac)
        {
            var nic = new JsonObject { ["mac_address"] = mac };
            foreach (var key in new[] { "rx_octets", "rx_errors", "rx_drop", "rx_packets", "rx_rate", "tx_octets", "tx_errors", "tx_drop", "tx_packets", "tx_rate" })
                nic[key] = null;
            return nic;
        }

        return Results.Json(new JsonObject
        {
            ["state"] = state,
            ["driver"] = "xenapi",
            ["hypervisor"] = "xen",
            ["hypervisor_os"] = null,
            ["uptime"] = uptime,
            ["config_drive"] = false,
            ["num_cpus"] = d.Vcpus,
            ["num_nics"] = d.NicMacs.Count,
            ["num_disks"] = d.Disks,
            ["memory_details"] = new JsonObject { ["maximum"] = Mib(d.MemoryMaxBytes), ["used"] = Mib(d.MemoryActualBytes) },
            ["cpu_details"] = new JsonArray(Enumerable.Range(0, d.Vcpus)
                .Select(i => (JsonNode)new JsonObject { ["id"] = i, ["time"] = null, ["utilisation"] = null }).ToArray()),
            ["nic_details"] = new JsonArray(d.NicMacs.Select(m => (JsonNode)Nic(m)).ToArray()),
            ["disk_details"] = new JsonArray(Enumerable.Range(0, d.Disks).Select(_ => (JsonNode)new JsonObject
            {
                ["read_bytes"] = null, ["read_requests"] = null, ["write_bytes"] = null, ["write_requests"] = null, ["errors_count"] = null,
            }).ToArray()),
        });
    }
}
