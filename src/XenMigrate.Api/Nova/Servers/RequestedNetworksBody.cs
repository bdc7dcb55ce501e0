using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Microversions;
using XenMigrate.Domain.Servers;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// A create body's <c>networks</c>, as Nova reads it: the schema (compute/schemas/servers.py
/// base_create, the 2.32 tag, from 2.37 required and also "auto" or "none"), then the checks of
/// servers.py _get_requested_networks. Each entry names a XenServer network by uuid; there are no
/// Neutron ports, and the guest takes its own address on the network, so neither a port nor a
/// fixed IP can be honoured and both are refused rather than ignored.
/// </summary>
internal static class RequestedNetworksBody
{
    public static RequestedNetworks Read(JsonObject server, ApiVersion version)
    {
        if (!server.TryGetPropertyValue("networks", out var networks))
        {
            if (version.AtLeast(37)) throw Invalid("server", server, "'networks' is a required property");
            return RequestedNetworks.AutoAllocate;
        }

        if (version.AtLeast(37) && networks is JsonValue word && word.GetValueKind() == JsonValueKind.String)
        {
            return word.GetValue<string>() switch
            {
                "auto" => RequestedNetworks.AutoAllocate,
                "none" => RequestedNetworks.None,
                _ => throw Invalid("networks", networks, $"{NovaValues.Repr(networks)} is not valid under any of the given schemas"),
            };
        }

        if (networks is not JsonArray list)
            throw Invalid("networks", networks, version.AtLeast(37)
                ? $"{NovaValues.Repr(networks)} is not valid under any of the given schemas"
                : $"{NovaValues.Repr(networks)} is not of type 'array'");

        // Every entry passes the schema before any is looked at (jsonschema runs before the controller).
        for (var i = 0; i < list.Count; i++) CheckSchema(list[i], i.ToString(System.Globalization.CultureInfo.InvariantCulture), version);

        var ids = new List<string>();
        foreach (var entry in list.Cast<JsonObject>())
        {
            if (entry["port"] is JsonValue port)
                throw NovaFaultException.BadRequest($"Port {port.GetValue<string>()} could not be found.");
            if (!entry.TryGetPropertyValue("uuid", out var uuid)) throw NovaFaultException.BadRequest("Bad network format: missing 'uuid'");
            var id = uuid!.GetValue<string>();
            if (!Guid.TryParse(id, out _))
                throw NovaFaultException.BadRequest($"Bad networks format: network uuid is not in proper format ({id})");
            if (entry["fixed_ip"] is JsonValue ip)
                throw NovaFaultException.BadRequest(
                    $"Fixed IP address {ip.GetValue<string>()} cannot be assigned: a XenServer guest takes its address on network {id} itself.");
            ids.Add(id.ToLowerInvariant());
        }

        // An empty list names no network, as no list at all does: the default (Nova allocates every available one).
        return ids.Count == 0 ? RequestedNetworks.AutoAllocate : RequestedNetworks.Of(ids);
    }

    private static void CheckSchema(JsonNode? item, string index, ApiVersion version)
    {
        if (item is not JsonObject entry) throw Invalid(index, item, $"{NovaValues.Repr(item)} is not of type 'object'");
        foreach (var (key, value) in entry)
        {
            switch (key)
            {
                case "uuid" when !NovaParameterTypes.IsString(value):
                    throw Invalid(key, value, $"{NovaValues.Repr(value)} is not of type 'string'");
                case "port" when !(value is null || (NovaParameterTypes.IsString(value) && Guid.TryParseExact(value.GetValue<string>(), "D", out _))):
                case "fixed_ip" when !NovaParameterTypes.IsString(value) || !IsIpAddress(value!.GetValue<string>()):
                    throw Invalid(key, value, key == "port" || NovaParameterTypes.IsString(value)
                        ? $"{NovaValues.Repr(value)} is not valid under any of the given schemas"
                        : $"{NovaValues.Repr(value)} is not of type 'string'");
                case "tag" when version.AtLeast(32):
                    if (!NovaParameterTypes.IsString(value)) throw Invalid(key, value, $"{NovaValues.Repr(value)} is not of type 'string'");
                    var tag = value!.GetValue<string>();
                    if (tag.Length > 60) throw Invalid(key, value, $"{NovaValues.Repr(value)} is too long");
                    if (tag.Contains(',', StringComparison.Ordinal) || tag.Contains('/', StringComparison.Ordinal))
                        throw Invalid(key, value, $"{NovaValues.Repr(value)} does not match '^[^,/]*$'");
                    break;
                case "uuid" or "port" or "fixed_ip":
                    break;
                default:
                    throw Invalid(index, entry, $"Additional properties are not allowed ('{key}' was unexpected)");
            }
        }
    }

    private static bool IsIpAddress(string text) =>
        IPAddress.TryParse(text, out var address) && address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
        && (address.AddressFamily == AddressFamily.InterNetworkV6 || text.Count(c => c == '.') == 3);

    private static NovaFaultException Invalid(string field, JsonNode? value, string detail) =>
        NovaFaultException.BadRequest(NovaMessages.InvalidInput(field, value, detail));
}
