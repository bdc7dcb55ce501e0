using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// The os-migrateLive body (nova/api/openstack/compute/migrate_server.py), checked as Nova's
/// schemas do (migrate_live, _v2_25, _v2_30, _v2_68), with Nova's messages. The move itself runs
/// asynchronously from any microversion, so a destination that cannot take the server shows as a
/// migration in error with the server ACTIVE where it was.
/// </summary>
public sealed record LiveMigrateRequest(string? Host, bool Force)
{
    private const string Key = "os-migrateLive";

    public static LiveMigrateRequest Parse(JsonNode? body, Microversions.ApiVersion version)
    {
        if (body is not JsonObject o) throw Invalid(Key, body, $"{NovaValues.Repr(body)} is not of type 'object'");
        var v25 = version.AtLeast(25);
        var withForce = version.AtLeast(30) && !version.AtLeast(68);
        var allowed = new List<string> { "block_migration", "host" };
        if (!v25) allowed.Add("disk_over_commit");
        if (withForce) allowed.Add("force");
        if (o.Select(p => p.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } extra)
            throw Invalid(Key, o, $"Additional properties are not allowed ('{extra}' was unexpected)");
        foreach (var required in allowed.Where(k => k != "force"))
            if (!o.ContainsKey(required)) throw Invalid(Key, o, $"'{required}' is a required property");

        var block = o["block_migration"];
        if (v25 ? !(IsBoolean(block) || IsAuto(block)) : !IsBoolean(block))
            throw Invalid("block_migration", block, v25 ? $"{NovaValues.Repr(block)} is not valid under any of the given schemas" : NovaParameterTypes.BooleanError(block));
        if (!v25 && !IsBoolean(o["disk_over_commit"])) throw Invalid("disk_over_commit", o["disk_over_commit"], NovaParameterTypes.BooleanError(o["disk_over_commit"]));
        var hostNode = o["host"];
        if (!IsHost(hostNode)) throw Invalid("host", hostNode, $"{NovaValues.Repr(hostNode)} does not match '^[a-zA-Z0-9-._]*$'");
        var host = hostNode is JsonValue h && h.GetValueKind() == JsonValueKind.String ? h.GetValue<string>() : null;

        var force = false;
        if (withForce && o.TryGetPropertyValue("force", out var forceNode))
        {
            if (!IsBoolean(forceNode)) throw Invalid("force", forceNode, NovaParameterTypes.BooleanError(forceNode));
            force = IsTrue(forceNode);
            if (force && host is null) throw NovaFaultException.BadRequest(NovaMessages.ForceWithoutHost);
        }

        // Before 2.30 a named host is forced (no scheduler check), as in Nova.
        if (!version.AtLeast(30) && host is not null) force = true;
        return new LiveMigrateRequest(host, force);
    }

    // Nova's parameter_types.boolean (block_migration, disk_over_commit, force).
    private static bool IsBoolean(JsonNode? node) => NovaParameterTypes.IsBoolean(node);

    private static bool IsTrue(JsonNode? node) => NovaParameterTypes.IsTrue(node);

    private static bool IsAuto(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "auto";

    /// <summary>Nova's host: null, or an fqdn of 1–255 of [a-zA-Z0-9-._].</summary>
    private static bool IsHost(JsonNode? node) => node is null
        || node is JsonValue v && v.GetValueKind() == JsonValueKind.String
        && v.GetValue<string>() is { Length: >= 1 and <= 255 } s && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_');


    private static NovaFaultException Invalid(string field, JsonNode? value, string detail) =>
        NovaFaultException.BadRequest(NovaMessages.InvalidInput(field, value, detail));

}
