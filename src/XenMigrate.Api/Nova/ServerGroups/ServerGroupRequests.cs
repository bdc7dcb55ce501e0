using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;
using FluentValidation.Results;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Microversions;
using XenMigrate.Domain.ServerGroups;

namespace XenMigrate.Api.Nova.ServerGroups;

/// <summary>The body of <c>POST /os-server-groups</c> at the request's microversion.</summary>
public sealed record ServerGroupCreateRequest(JsonNode? Body, ApiVersion Version)
{
    private JsonObject Group => Body!["server_group"]!.AsObject();

    public string Name => Group["name"]!.GetValue<string>();

    /// <summary>The one policy: <c>policies[0]</c> before 2.64, <c>policy</c> from then on.</summary>
    public string Policy => Version.AtLeast(64) ? Group["policy"]!.GetValue<string>() : Group["policies"]![0]!.GetValue<string>();

    /// <summary>The 2.64 rule max_server_per_host (an integer or a string of digits), when given.</summary>
    public int? MaxServerPerHost => Version.AtLeast(64) ? NovaParameterTypes.PositiveIntegerValue(Group["rules"]?["max_server_per_host"]) : null;

    /// <summary>Whether the 2.64 body carries any rule (Nova refuses rules on a policy other than anti-affinity).</summary>
    public bool HasRules => Version.AtLeast(64) && Group["rules"] is JsonObject { Count: > 0 };
}

/// <summary>
/// Nova's schemas/server_groups.py: <c>create</c> (2.1, policies ['anti-affinity'|'affinity']),
/// <c>create_v215</c> (the soft policies too) and <c>create_v264</c> (one <c>policy</c> and
/// <c>rules</c>), checked keyword by keyword in the schema's order as jsonschema reports them:
/// each object's properties, then its required keys, then what it does not allow.
/// </summary>
public sealed class ServerGroupCreateRequestValidator : AbstractValidator<ServerGroupCreateRequest>
{
    public ServerGroupCreateRequestValidator()
    {
        RuleFor(r => r).Custom((r, context) =>
        {
            if (FirstError(r) is { } message) context.AddFailure(new ValidationFailure("server_group", message));
        });
    }

    private static string? FirstError(ServerGroupCreateRequest r)
    {
        if (r.Body is not JsonObject body) return $"{NovaValues.Repr(r.Body)} is not of type 'object'";
        if (body.TryGetPropertyValue("server_group", out var node))
        {
            if (node is not JsonObject group) return NovaMessages.InvalidInput("server_group", node, $"{NovaValues.Repr(node)} is not of type 'object'");
            if (GroupError(group, r.Version) is { } error) return error;
        }
        else
        {
            return "'server_group' is a required property";
        }

        return body.FirstOrDefault(p => p.Key != "server_group") is { Key: { } extra }
            ? $"Additional properties are not allowed ('{extra}' was unexpected)"
            : null;
    }

    private static string? GroupError(JsonObject group, ApiVersion v)
    {
        var known = v.AtLeast(64) ? new[] { "name", "policy", "rules" } : ["name", "policies"];
        if (group.TryGetPropertyValue("name", out var name) && NovaParameterTypes.NameError("name", name) is { } nameError) return nameError;
        if (v.AtLeast(64))
        {
            if (group.TryGetPropertyValue("policy", out var policy) && !(NovaParameterTypes.IsString(policy) && ServerGroup.Policies.Contains(policy!.GetValue<string>())))
                return NovaMessages.InvalidInput("policy", policy, NovaParameterTypes.IsString(policy)
                    ? $"{NovaValues.Repr(policy)} is not one of {Listed(ServerGroup.Policies)}"
                    : $"{NovaValues.Repr(policy)} is not of type 'string'");
            if (group.TryGetPropertyValue("rules", out var rules) && RulesError(rules) is { } rulesError) return rulesError;
        }
        else if (group.TryGetPropertyValue("policies", out var policies) && PoliciesError(policies, v) is { } policiesError)
        {
            return policiesError;
        }

        foreach (var required in v.AtLeast(64) ? new[] { "name", "policy" } : ["name", "policies"])
            if (!group.ContainsKey(required)) return NovaMessages.InvalidInput("server_group", group, $"'{required}' is a required property");
        return group.FirstOrDefault(p => !known.Contains(p.Key)) is { Key: { } unexpected }
            ? NovaMessages.InvalidInput("server_group", group, $"Additional properties are not allowed ('{unexpected}' was unexpected)")
            : null;
    }

    /// <summary>Before 2.64: a one-item array of a known policy (2.1: the two hard ones; 2.15: all four).</summary>
    private static string? PoliciesError(JsonNode? policies, ApiVersion v)
    {
        if (policies is not JsonArray list) return NovaMessages.InvalidInput("policies", policies, $"{NovaValues.Repr(policies)} is not of type 'array'");
        var allowed = v.AtLeast(15) ? ServerGroup.Policies : ServerGroup.Policies.Take(2).ToList();
        if (list.Count > 0 && !(NovaParameterTypes.IsString(list[0]) && allowed.Contains(list[0]!.GetValue<string>())))
            return NovaMessages.InvalidInput("0", list[0], NovaParameterTypes.IsString(list[0])
                ? $"{NovaValues.Repr(list[0])} is not one of {Listed(allowed)}"
                : $"{NovaValues.Repr(list[0])} is not of type 'string'");
        if (list.Count > 1 && list.Select(p => p?.ToJsonString()).Distinct().Count() < list.Count)
            return NovaMessages.InvalidInput("policies", list, $"{NovaValues.Repr(list)} has non-unique elements");
        if (list.Count == 0) return NovaMessages.InvalidInput("policies", list, $"{NovaValues.Repr(list)} is too short");
        if (list.Count > 1) return NovaMessages.InvalidInput("policies", list, $"{NovaValues.Repr(list)} is too long");
        return null;
    }

    /// <summary>2.64 rules: an object with at most max_server_per_host, Nova's positive_integer (an integer ≥ 1, or a string of digits).</summary>
    private static string? RulesError(JsonNode? rules)
    {
        if (rules is not JsonObject items) return NovaMessages.InvalidInput("rules", rules, $"{NovaValues.Repr(rules)} is not of type 'object'");
        if (items.TryGetPropertyValue("max_server_per_host", out var max) && NovaParameterTypes.PositiveIntegerError("max_server_per_host", max) is { } error) return error;
        return items.FirstOrDefault(p => p.Key != "max_server_per_host") is { Key: { } unexpected }
            ? NovaMessages.InvalidInput("rules", items, $"Additional properties are not allowed ('{unexpected}' was unexpected)")
            : null;
    }

    private static string Listed(IEnumerable<string> values) => "[" + string.Join(", ", values.Select(p => $"'{p}'")) + "]";
}
