using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Http;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Quotas;
using XenMigrate.Domain.ServerGroups;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Quotas;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// <c>POST /servers</c> and <c>DELETE /servers/{id}</c>. Create checks in Nova's order: the body's
/// schema (400), policy (403), the flavor (400 "Invalid flavorRef provided."), the image (400),
/// the quota (403); it answers 202 with the server in BUILD once the row is committed, and a job
/// boots it. Delete answers 204 with task_state deleting committed (or the server already gone
/// when it was on no host), and a job destroys the VMs.
/// </summary>
public static class ServerLifecycleApi
{
    /// <summary>The server keys Nova's create schema knows; those XenMigrate has no use for (user_data, security_groups, …) are accepted and ignored.</summary>
    private static readonly HashSet<string> ServerKeys =
    [
        "name", "imageRef", "flavorRef", "adminPass", "metadata", "networks", "OS-DCF:diskConfig", "availability_zone", "key_name",
        "user_data", "security_groups", "min_count", "max_count", "return_reservation_id", "config_drive", "block_device_mapping",
        "block_device_mapping_v2", "description", "tags", "trusted_image_certificates", "host", "hypervisor_hostname", "hostname",
        "accessIPv4", "accessIPv6", "personality",
    ];

    private static readonly HashSet<string> TopKeys = ["server", "os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"];

    public static void MapServerLifecycle(this RouteGroupBuilder compute)
    {
        // Under the same group as the read routes, so POST and GET share one pattern ("/servers/").
        var servers = compute.MapGroup("/servers").WithTags("Servers");
        servers.MapPost("", Create).Produces(StatusCodes.Status202Accepted).WithSummary("Create (boot) a server from an image (a XenServer template)")
            .WithDescription("""{"server":{"name":"vm1","imageRef":"<image id from GET /image/v2/images>","flavorRef":"1"}}""");
        servers.MapDelete("/{server_id}", Delete).Produces(StatusCodes.Status204NoContent).WithSummary("Delete a server");
    }

    private static async Task<IResult> Create(NovaCaller caller, XenMigrateDbContext db, ServerStarter starter, TemplateImages images,
        TimeProvider time, CancellationToken ct)
    {
        var json = await NovaRequestBody.ReadAsync(caller.Http.Request, ct);
        var server = ValidateSchema(json);
        var hints = SchedulerHintsBody.Read(json!.AsObject());
        // accessIPv4/6 given at boot are the addresses the server is shown with (otherwise the guest's own).
        var accessIPv4 = ServerUpdateApi.Address(server, "accessIPv4", System.Net.Sockets.AddressFamily.InterNetwork);
        var accessIPv6 = ServerUpdateApi.Address(server, "accessIPv6", System.Net.Sockets.AddressFamily.InterNetworkV6);
        var networks = RequestedNetworksBody.Read(server, caller.Version);

        caller.Authorize(NovaPolicy.ServersCreate);
        var name = server["name"]!.GetValue<string>();
        var flavorRef = server["flavorRef"] is JsonValue f ? f.ToString() : string.Empty;
        var flavor = await db.Flavors.AsNoTracking().VisibleTo(caller.Context).FirstOrDefaultAsync(x => x.FlavorId == flavorRef, ct);
        if (flavor is null || flavor.Disabled)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidFlavorRef);

        var imageRef = server["imageRef"]?.GetValue<string>() ?? string.Empty;
        if (imageRef.Length == 0) throw NovaFaultException.BadRequest(NovaMessages.MissingImageRef);
        // Image ids are lower-case, as Glance issues them: another spelling names no image.
        var imageId = Guid.Parse(imageRef);
        var image = (imageId.ToString() == imageRef ? await images.FindAsync(imageId, ct) : null)
                    ?? throw NovaFaultException.BadRequest(NovaMessages.ImageNotFound(imageRef));

        // Nova's availability_zone is "zone[:host[:node]]"; every host is in the one default zone.
        if (server["availability_zone"]?.GetValue<string>() is { } zone)
        {
            if (zone.Contains(':', StringComparison.Ordinal))
                throw NovaFaultException.BadRequest("XenMigrate does not take a host in availability_zone; every host is in zone 'nova'.");
            if (zone != AvailabilityZones.AvailabilityZonesApi.DefaultZone)
                throw NovaFaultException.BadRequest("The requested availability zone is not available");
        }

        // Nova looks the key pair up among the caller's own (compute/api.py _validate_and_build_base_options).
        var keyName = server["key_name"]?.GetValue<string>();
        if (keyName is not null && !await db.KeyPairs.AnyAsync(k => k.UserId == caller.UserId && k.Name == keyName, ct))
            throw NovaFaultException.BadRequest("Invalid key_name provided.");

        // The group hint names a group of the caller's project (any, for an admin): compute/api.py _get_requested_instance_group.
        ServerGroup? group = null;
        if (hints?.GroupId() is { } groupId)
            group = await db.ServerGroups.Include(g => g.Members).FirstOrDefaultAsync(g => g.Id == groupId && (caller.IsAdmin || g.ProjectId == caller.ProjectId), ct)
                    ?? throw NovaFaultException.BadRequest($"Instance group {groupId} could not be found.");

        // min_count / max_count: as many servers as the quota allows between the two, each named
        // "<name>-<n>" when there is more than one (Nova's multi_instance_display_name_template).
        var minCount = Count("min_count", server["min_count"]) ?? 1;
        var maxCount = Count("max_count", server["max_count"]) ?? minCount;
        if (minCount > maxCount) throw NovaFaultException.BadRequest("min_count must be <= max_count");
        var reservationId = "r-" + RandomNumberGenerator.GetString("0123456789abcdefghijklmnopqrstuvwxyz", 8);
        var metadata = server["metadata"] is JsonObject m ? m.ToDictionary(p => p.Key, p => p.Value!.GetValue<string>()) : [];
        var snapshot = flavor.Snapshot();
        var servers = await starter.CreateAsync(caller.ProjectId, snapshot, metadata.Count, minCount, maxCount,
            (index, count) => Server.ForBuild(Guid.NewGuid(), count > 1 ? $"{name}-{index + 1}" : name, caller.ProjectId, caller.UserId, snapshot,
                image.Id.ToString(), metadata, networks, keyName, hints, reservationId, index, time.GetUtcNow().UtcDateTime, accessIPv4, accessIPv6),
            group, caller.Context, ct);

        if (server["return_reservation_id"] is { } wanted && NovaParameterTypes.IsTrue(wanted))
            return Results.Json(new JsonObject { ["reservation_id"] = reservationId }, statusCode: StatusCodes.Status202Accepted);

        // Nova returns the password it set; XenMigrate has no guest agent to set it with, so it is only reported.
        var adminPass = server["adminPass"]?.GetValue<string>() ?? GeneratePassword();
        var id = servers[0].Id.ToString();
        var self = caller.SelfLink("servers", id);
        caller.Http.Response.Headers.Location = self;
        return Results.Json(new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["id"] = id,
                ["links"] = new JsonArray(
                    new JsonObject { ["href"] = self, ["rel"] = "self" },
                    new JsonObject { ["href"] = caller.BookmarkLink("servers", id), ["rel"] = "bookmark" }),
                ["OS-DCF:diskConfig"] = "MANUAL",
                ["security_groups"] = new JsonArray(new JsonObject { ["name"] = "default" }),
                ["adminPass"] = adminPass,
            },
        }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> Delete(string server_id, NovaCaller caller, ComputeApi compute, CancellationToken ct)
    {
        // "/servers/detail" is a collection, not a server id: a DELETE there is the wrong method (as for any route without DELETE).
        if (server_id == "detail") throw new NovaFaultException(StatusCodes.Status405MethodNotAllowed, NovaMessages.MethodNotAllowed);
        await compute.DeleteServerAsync(caller.Context, server_id, ct);
        return Results.NoContent();
    }

    /// <summary>Nova's server_create schema (compute/schemas/servers.py), with its messages.</summary>
    private static JsonObject ValidateSchema(JsonNode? json)
    {
        if (json is not JsonObject body) throw Invalid("", json, $"{NovaValues.Repr(json)} is not of type 'object'", topLevel: true);
        if (body.FirstOrDefault(p => !TopKeys.Contains(p.Key)) is { Key: { } extra })
            throw Invalid("", body, $"Additional properties are not allowed ('{extra}' was unexpected)", topLevel: true);
        if (!body.ContainsKey("server")) throw Invalid("", body, "'server' is a required property", topLevel: true);
        if (body["server"] is not JsonObject server) throw Invalid("server", body["server"], $"{NovaValues.Repr(body["server"])} is not of type 'object'");
        if (server.FirstOrDefault(p => !ServerKeys.Contains(p.Key)) is { Key: { } unexpected })
            throw Invalid("server", server, $"Additional properties are not allowed ('{unexpected}' was unexpected)");
        foreach (var required in new[] { "name", "flavorRef" })
            if (!server.ContainsKey(required)) throw Invalid("server", server, $"'{required}' is a required property");

        var name = server["name"];
        if (!NovaParameterTypes.IsString(name)) throw Invalid("name", name, $"{NovaValues.Repr(name)} is not of type 'string'");
        var text = name!.GetValue<string>();
        if (text.Length == 0) throw Invalid("name", name, $"{NovaValues.Repr(name)} is too short");
        if (text.Length > 255) throw Invalid("name", name, $"{NovaValues.Repr(name)} is too long");
        if (!NovaParameterTypes.IsPrintableName(text)) throw NovaFaultException.BadRequest(NovaMessages.InvalidServerName);

        var flavorRef = server["flavorRef"];
        var flavorOk = flavorRef is JsonValue fv && fv.GetValueKind() switch
        {
            JsonValueKind.String => fv.GetValue<string>().Length > 0,
            JsonValueKind.Number => fv.TryGetValue<long>(out _),
            _ => false,
        };
        if (!flavorOk) throw Invalid("flavorRef", flavorRef, $"{NovaValues.Repr(flavorRef)} is not valid under any of the given schemas");

        if (server.TryGetPropertyValue("imageRef", out var imageRef)
            && !(NovaParameterTypes.IsString(imageRef) && imageRef!.GetValue<string>() is var i && (i.Length == 0 || i == i.Trim() && Guid.TryParseExact(i, "D", out _))))
            throw Invalid("imageRef", imageRef, $"{NovaValues.Repr(imageRef)} is not valid under any of the given schemas");
        if (server.TryGetPropertyValue("adminPass", out var pass) && !NovaParameterTypes.IsString(pass))
            throw Invalid("adminPass", pass, $"{NovaValues.Repr(pass)} is not of type 'string'");
        if (server.TryGetPropertyValue("metadata", out var metadata))
        {
            if (metadata is not JsonObject items) throw Invalid("metadata", metadata, $"{NovaValues.Repr(metadata)} is not of type 'object'");
            foreach (var (key, value) in items)
            {
                if (key.Length is 0 or > 255 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is ' ' or '-' or '_' or '.' or ':'))
                    throw Invalid("metadata", metadata, $"Additional properties are not allowed ('{key}' was unexpected)");
                if (!NovaParameterTypes.IsString(value)) throw Invalid(key, value, $"{NovaValues.Repr(value)} is not of type 'string'");
                if (value!.GetValue<string>().Length > 255) throw Invalid(key, value, $"{NovaValues.Repr(value)} is too long");
            }
        }

        if (server.TryGetPropertyValue("availability_zone", out var zoneNode) && !NovaParameterTypes.IsString(zoneNode))
            throw Invalid("availability_zone", zoneNode, $"{NovaValues.Repr(zoneNode)} is not of type 'string'");
        // parameter_types.name_with_leading_trailing_spaces
        if (server.TryGetPropertyValue("key_name", out var keyName)
            && !(NovaParameterTypes.IsString(keyName) && keyName!.GetValue<string>().Length is > 0 and <= 255))
            throw Invalid("key_name", keyName, NovaParameterTypes.IsString(keyName)
                ? $"{NovaValues.Repr(keyName)} is too {(keyName!.GetValue<string>().Length == 0 ? "short" : "long")}"
                : $"{NovaValues.Repr(keyName)} is not of type 'string'");

        foreach (var key in new[] { "min_count", "max_count" })
            if (server.TryGetPropertyValue(key, out var count) && NovaParameterTypes.PositiveIntegerError(key, count) is { } countError)
                throw NovaFaultException.BadRequest(countError);
        if (server.TryGetPropertyValue("return_reservation_id", out var reservation) && !NovaParameterTypes.IsBoolean(reservation))
            throw Invalid("return_reservation_id", reservation, NovaParameterTypes.BooleanError(reservation));

        if (server.TryGetPropertyValue("OS-DCF:diskConfig", out var disk)
            && !(NovaParameterTypes.IsString(disk) && disk!.GetValue<string>() is "AUTO" or "MANUAL"))
            throw Invalid("OS-DCF:diskConfig", disk, $"{NovaValues.Repr(disk)} is not one of ['AUTO', 'MANUAL']");
        return server;
    }

    /// <summary>Nova's validation error: with a field path "Invalid input for field/attribute …", at the top the bare message.</summary>
    private static NovaFaultException Invalid(string field, JsonNode? value, string detail, bool topLevel = false) =>
        NovaFaultException.BadRequest(topLevel ? detail : NovaMessages.InvalidInput(field, value, detail));


    /// <summary>A schema-checked min_count / max_count (an integer, or a string of digits); at least 1.</summary>
    private static int? Count(string field, JsonNode? node)
    {
        if (NovaParameterTypes.PositiveIntegerValue(node) is not { } count) return null;
        if (count < 1) throw Invalid(field, node, $"{NovaValues.Repr(node)} is less than the minimum of 1");
        return Math.Min(count, NovaQuery.MaxLimit * 10);
    }

    /// <summary>Nova's generate_password: 12 characters from an alphabet without look-alikes.</summary>
    private static string GeneratePassword() =>
        RandomNumberGenerator.GetString("23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ", 12);
}
