using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Servers;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// A create body's scheduler hints (<c>os:scheduler_hints</c>, or the older
/// <c>OS-SCH-HNT:scheduler_hints</c>), checked as Nova's <c>_hints</c> schema checks them
/// (compute/schemas/servers.py): <c>group</c> a uuid, <c>same_host</c> and
/// <c>different_host</c> a server uuid or a list of them, <c>query</c> a string or an object;
/// any other hint is allowed. Each is kept as a list of strings, as Nova's RequestSpec keeps it.
/// </summary>
internal static class SchedulerHintsBody
{
    public static SchedulerHints? Read(JsonObject body)
    {
        var node = body.TryGetPropertyValue("os:scheduler_hints", out var hints) ? hints
            : body.TryGetPropertyValue("OS-SCH-HNT:scheduler_hints", out var legacy) ? legacy : null;
        if (node is null) return null;
        var field = body.ContainsKey("os:scheduler_hints") ? "os:scheduler_hints" : "OS-SCH-HNT:scheduler_hints";
        if (node is not JsonObject given) throw Invalid(field, node, $"{NovaValues.Repr(node)} is not of type 'object'");

        if (given.TryGetPropertyValue(SchedulerHints.Group, out var group) && !IsUuid(group))
            throw Invalid(SchedulerHints.Group, group, NovaParameterTypes.IsString(group)
                ? $"{NovaValues.Repr(group)} is not a 'uuid'"
                : $"{NovaValues.Repr(group)} is not of type 'string'");
        foreach (var key in new[] { SchedulerHints.DifferentHost, SchedulerHints.SameHost })
        {
            if (given.TryGetPropertyValue(key, out var servers) && !(IsUuid(servers) || servers is JsonArray list && list.All(IsUuid)))
                throw Invalid(key, servers, $"{NovaValues.Repr(servers)} is not valid under any of the given schemas");
        }

        if (given.TryGetPropertyValue("query", out var query) && !(NovaParameterTypes.IsString(query) || query is JsonObject))
            throw Invalid("query", query, $"{NovaValues.Repr(query)} is not of type 'string', 'object'");

        return new SchedulerHints(given.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)Values(p.Value)));
    }

    private static List<string> Values(JsonNode? value) => value switch
    {
        JsonArray list => list.Select(Text).ToList(),
        _ => [Text(value)],
    };

    private static string Text(JsonNode? value) =>
        value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : value?.ToJsonString() ?? "null";

    /// <summary>jsonschema's "format": "uuid" as Nova registers it: anything uuid.UUID() accepts.</summary>
    private static bool IsUuid(JsonNode? node) => NovaParameterTypes.IsString(node) && Guid.TryParse(node!.GetValue<string>(), out _);

    private static NovaFaultException Invalid(string field, JsonNode? value, string detail) =>
        NovaFaultException.BadRequest(NovaMessages.InvalidInput(field, value, detail));
}
