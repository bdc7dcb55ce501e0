using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// <c>PUT /servers/{id}</c> (Nova's servers.py update, schemas base_update, 2.19 description):
/// rename a server (its VMs are renamed with it), describe it, set the addresses to reach it by.
/// Answers 200 with the server; before 2.75 without the fields Nova's update leaves out.
/// </summary>
public static class ServerUpdateApi
{
    /// <summary>What Nova's update view leaves out before 2.75 (show_extended_attr, show_AZ, show_srv_usg, …: all False).</summary>
    private static readonly string[] OmittedBefore275 =
    [
        "OS-EXT-AZ:availability_zone", "config_drive", "key_name", "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at", "security_groups",
        "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state", "OS-EXT-STS:power_state", "os-extended-volumes:volumes_attached", "host_status", "server_groups",
    ];

    public static void MapServerUpdate(this RouteGroupBuilder compute)
    {
        compute.MapGroup("/servers").WithTags("Servers").MapPut("/{server_id}", Update)
            .WithSummary("Rename a server, set its description (2.19) or its access addresses")
            .WithDescription("""{"server":{"name":"web-2","description":"front end","accessIPv4":"192.0.2.10"}}""");
    }

    private static async Task<IResult> Update(string server_id, NovaCaller caller, ComputeApi compute, XenMigrateDbContext db, CancellationToken ct)
    {
        // "/servers/detail" is a collection, not a server id: a PUT there is the wrong method (as Nova's router has it).
        if (server_id == "detail") throw new NovaFaultException(StatusCodes.Status405MethodNotAllowed, NovaMessages.MethodNotAllowed);
        var update = Schema(await NovaRequestBody.ReadAsync(caller.Http.Request, ct), caller.Version);
        var server = await compute.UpdateServerAsync(caller.Context, server_id, update, ct);
        var hostStatus = await ServersApi.HostStatusLookupAsync(caller, db, ct);
        var body = ServerView.Detail(server, caller, hostStatus, isShow: true);
        if (caller.Version.AtLeast(71)) body["server_groups"] = await ServerGroups.ServerGroupsApi.OfServerAsync(db, server.Id, ct);
        if (!caller.Version.AtLeast(75))
        {
            foreach (var key in OmittedBefore275) body.Remove(key);
            foreach (var key in body.Select(p => p.Key).Where(k => k.StartsWith("OS-EXT-SRV-ATTR:", StringComparison.Ordinal)).ToList()) body.Remove(key);
            body["addresses"] = ServerView.Addresses(server.Addresses, extended: false);
        }

        return Results.Json(new JsonObject { ["server"] = body });
    }

    private static ServerUpdate Schema(JsonNode? json, Microversions.ApiVersion v)
    {
        var server = NovaRequestBody.Wrapped(json, "server");

        var known = new List<string> { "name", "OS-DCF:diskConfig", "accessIPv4", "accessIPv6" };
        if (v.AtLeast(19)) known.Add("description");
        if (server.FirstOrDefault(p => !known.Contains(p.Key)) is { Key: { } unexpected })
            throw Field("server", server, $"Additional properties are not allowed ('{unexpected}' was unexpected)");

        string? name = null;
        if (server.TryGetPropertyValue("name", out var nameNode))
        {
            if (!NovaParameterTypes.IsString(nameNode)) throw Field("name", nameNode, $"{NovaValues.Repr(nameNode)} is not of type 'string'");
            name = nameNode!.GetValue<string>();
            if (name.Length == 0) throw Field("name", nameNode, $"{NovaValues.Repr(nameNode)} is too short");
            if (name.Length > 255) throw Field("name", nameNode, $"{NovaValues.Repr(nameNode)} is too long");
            if (!NovaParameterTypes.IsPrintableName(name)) throw NovaFaultException.BadRequest(NovaMessages.InvalidServerName);
        }

        if (server.TryGetPropertyValue("OS-DCF:diskConfig", out var disk) && !(NovaParameterTypes.IsString(disk) && disk!.GetValue<string>() is "AUTO" or "MANUAL"))
            throw Field("OS-DCF:diskConfig", disk, $"{NovaValues.Repr(disk)} is not one of ['AUTO', 'MANUAL']");

        var description = server["description"];
        if (server.ContainsKey("description") && description is not null)
        {
            if (!NovaParameterTypes.IsString(description)) throw Field("description", description, $"{NovaValues.Repr(description)} is not of type 'string', 'null'");
            if (description.GetValue<string>().Length > 255) throw Field("description", description, $"{NovaValues.Repr(description)} is too long");
        }

        return new ServerUpdate(name, server.ContainsKey("description"), description?.GetValue<string>(),
            Address(server, "accessIPv4", AddressFamily.InterNetwork), Address(server, "accessIPv6", AddressFamily.InterNetworkV6));
    }

    /// <summary>parameter_types.accessIPv4 / accessIPv6: a string in the ipv4 / ipv6 format, kept in its canonical form.</summary>
    internal static string? Address(JsonObject server, string key, AddressFamily family)
    {
        if (!server.TryGetPropertyValue(key, out var node)) return null;
        if (!NovaParameterTypes.IsString(node)) throw Field(key, node, $"{NovaValues.Repr(node)} is not of type 'string'");
        var text = node!.GetValue<string>();
        var ok = IPAddress.TryParse(text, out var ip) && ip.AddressFamily == family
                 && (family == AddressFamily.InterNetworkV6 || text.Count(c => c == '.') == 3);
        // Nova keeps it as an IP address object, so it answers the canonical text (netaddr's str: "::babe:dc0c:1602").
        return ok ? ip!.ToString() : throw Field(key, node, $"{NovaValues.Repr(node)} is not a '{(family == AddressFamily.InterNetwork ? "ipv4" : "ipv6")}'");
    }

    private static NovaFaultException Field(string field, JsonNode? value, string detail) =>
        NovaFaultException.BadRequest(NovaMessages.InvalidInput(field, value, detail));
}
