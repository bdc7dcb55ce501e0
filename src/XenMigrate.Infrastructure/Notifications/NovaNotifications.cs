using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Notifications;

/// <summary>
/// Builds Nova's versioned instance notifications (nova doc/notification_samples) and adds them to
/// the outbox of the given context, so they commit, or not, with the transition they describe.
/// </summary>
public static class NovaNotifications
{
    public static void Add(XenMigrateDbContext db, string eventType, Server server, string? requestId, DateTime now,
        FlavorSnapshot? newFlavor = null, ServerFault? fault = null)
    {
        var data = new JsonObject
        {
            ["uuid"] = server.Id.ToString(),
            ["display_name"] = server.Name,
            ["host"] = server.Host,
            ["node"] = server.Node,
            ["state"] = server.VmState.ToNovaName(),
            ["task_state"] = server.TaskState?.ToNovaName(),
            ["power_state"] = PowerStateName(server.PowerState),
            ["flavor"] = Flavor(server.Flavor),
            ["tenant_id"] = server.ProjectId,
            ["user_id"] = server.UserId,
            ["request_id"] = requestId,
            ["action_initiator_user"] = server.UserId,
            ["action_initiator_project"] = server.ProjectId,
            ["launched_at"] = Time(server.LaunchedAt),
            ["updated_at"] = Time(server.UpdatedAt),
            ["locked"] = server.Locked,
            ["block_devices"] = new JsonArray(),
            ["ip_addresses"] = IpAddresses(server.Addresses),
            ["fault"] = fault is null ? null : new JsonObject
            {
                ["nova_object.name"] = "ExceptionPayload", ["nova_object.namespace"] = "nova", ["nova_object.version"] = "1.1",
                ["nova_object.data"] = new JsonObject
                {
                    ["exception"] = "MigrationError", ["exception_message"] = fault.Message, ["function_name"] = "_migrate", ["module_name"] = "xenmigrate",
                },
            },
        };
        var payloadName = "InstanceActionPayload";
        if (newFlavor is not null && eventType.StartsWith("instance.resize_prep", StringComparison.Ordinal))
        {
            payloadName = "InstanceActionResizePrepPayload";
            data["new_flavor"] = Flavor(newFlavor);
        }

        db.Set<OutboxMessage>().Add(new OutboxMessage
        {
            EventType = eventType,
            Priority = eventType.EndsWith(".error", StringComparison.Ordinal) ? "ERROR" : "INFO",
            PublisherId = "nova-compute:" + (server.Host ?? "unknown"),
            Payload = new JsonObject
            {
                ["nova_object.name"] = payloadName, ["nova_object.namespace"] = "nova", ["nova_object.version"] = "1.9",
                ["nova_object.data"] = data,
            }.ToJsonString(),
            CreatedAt = now,
        });
    }

    /// <summary>Nova's IpPayload list (notifications/objects/instance.py): one per address the guest reports.</summary>
    private static JsonArray IpAddresses(IEnumerable<Domain.Servers.ServerAddress> addresses) =>
        new(addresses.Where(a => a.Address is not null).Select(a => (JsonNode)new JsonObject
        {
            ["nova_object.name"] = "IpPayload", ["nova_object.namespace"] = "nova", ["nova_object.version"] = "1.0",
            ["nova_object.data"] = new JsonObject
            {
                ["label"] = a.Network, ["mac"] = a.MacAddress, ["meta"] = new JsonObject(), ["port_uuid"] = null,
                ["version"] = a.Address!.Contains(':', StringComparison.Ordinal) ? 6 : 4, ["address"] = a.Address, ["device_name"] = null,
            },
        }).ToArray());

    private static JsonObject Flavor(FlavorSnapshot f) => new()
    {
        ["nova_object.name"] = "FlavorPayload", ["nova_object.namespace"] = "nova", ["nova_object.version"] = "1.4",
        ["nova_object.data"] = new JsonObject
        {
            ["flavorid"] = f.FlavorId, ["name"] = f.Name, ["memory_mb"] = f.MemoryMb, ["vcpus"] = f.Vcpus, ["root_gb"] = f.RootGb,
            ["ephemeral_gb"] = f.EphemeralGb, ["swap"] = f.SwapMb, ["extra_specs"] = new JsonObject(f.ExtraSpecs.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
        },
    };

    private static string PowerStateName(PowerState p) => p switch
    {
        PowerState.Running => "running", PowerState.Paused => "paused", PowerState.Shutdown => "shutdown",
        PowerState.Crashed => "crashed", PowerState.Suspended => "suspended", _ => "pending",
    };

    private static string? Time(DateTime? t) => t?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
