using System.Text.Json.Nodes;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Flavors;

/// <summary>
/// Nova's os-flavor-access (compute/flavor_access.py): which projects a private flavor is shared
/// with, and the flavor actions that share or unshare it (admin only). A member of a project it is
/// shared with finds the flavor in lists, boots with it and resizes to it; any other project does
/// not (<see cref="FlavorVisibility"/>).
/// </summary>
public static class FlavorAccessApi
{
    public const string Add = "addTenantAccess";
    public const string Remove = "removeTenantAccess";

    public static void MapFlavorAccess(this RouteGroupBuilder flavors)
    {
        flavors.MapGet("/{flavor_id}/os-flavor-access", List).WithSummary("List the projects a private flavor is shared with (admin)");
        flavors.MapPost("/{flavor_id}/action", Act).WithSummary("Share a private flavor with a project, or stop sharing it (admin)")
            .WithDescription("""{"addTenantAccess":{"tenant":"<project id>"}} or {"removeTenantAccess":{"tenant":"<project id>"}}; the answer is the access list.""");
    }

    private static async Task<IResult> List(string flavor_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.FlavorAccessIndex);
        var flavor = await FlavorsApi.Find(caller, db, flavor_id, ct);
        if (flavor.IsPublic) throw NovaFaultException.NotFound("Access list not available for public flavors.");
        return AccessList(flavor);
    }

    /// <summary>Nova's order: the schema (400), policy (403), the project with Keystone (400), the flavor (404), the access (409/404).</summary>
    private static async Task<IResult> Act(string flavor_id, NovaCaller caller, XenMigrateDbContext db, IValidator<FlavorAccessRequest> validator, CancellationToken ct)
    {
        var request = new FlavorAccessRequest(await NovaRequestBody.ReadAsync(caller.Http.Request, ct));
        var result = await validator.ValidateAsync(request, ct);
        if (!result.IsValid) throw NovaFaultException.BadRequest(result.Errors[0].ErrorMessage);
        caller.Authorize(request.Action == Add ? NovaPolicy.FlavorAccessAdd : NovaPolicy.FlavorAccessRemove);
        if (!await db.Projects.AnyAsync(p => p.Id == request.Tenant, ct))
            throw NovaFaultException.BadRequest($"Project ID {request.Tenant} is not a valid project.");

        var flavor = await FlavorsApi.Find(caller, db, flavor_id, ct, tracked: true);
        if (request.Action == Add) flavor.GrantAccess(request.Tenant, refusePublic: caller.Version.AtLeast(7));
        else flavor.RevokeAccess(request.Tenant);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (request.Action == Add)
        {
            // The same pair added by a concurrent request (the key is the pair).
            throw NovaFaultException.Conflict($"Flavor access already exists for flavor {flavor.FlavorId} and project {request.Tenant} combination.");
        }

        return AccessList(flavor);
    }

    private static IResult AccessList(Flavor flavor) => Results.Json(new JsonObject
    {
        ["flavor_access"] = new JsonArray(flavor.Access.OrderBy(a => a.ProjectId, StringComparer.Ordinal)
            .Select(a => (JsonNode)new JsonObject { ["flavor_id"] = flavor.FlavorId, ["tenant_id"] = a.ProjectId }).ToArray()),
    });
}

/// <summary>The body of a flavor action: exactly one of addTenantAccess or removeTenantAccess with its tenant.</summary>
public sealed record FlavorAccessRequest(JsonNode? Body)
{
    public string Action => Body!.AsObject().First().Key;
    public string Tenant => Body![Action]!["tenant"]!.GetValue<string>();
}

/// <summary>
/// Nova's schemas/flavor_access.py add_tenant_access and remove_tenant_access: the action's object
/// with a required <c>tenant</c> of 1–255 characters and nothing else. Another action key is
/// Nova's "There is no such action" (its action router answers before any schema).
/// </summary>
public sealed class FlavorAccessRequestValidator : AbstractValidator<FlavorAccessRequest>
{
    public FlavorAccessRequestValidator()
    {
        RuleFor(r => r).Custom((r, context) =>
        {
            if (FirstError(r.Body) is { } message) context.AddFailure(new ValidationFailure("tenant", message));
        });
    }

    private static string? FirstError(JsonNode? body)
    {
        if (body is not JsonObject actions || actions.Count == 0) return NovaMessages.MalformedBody;
        var action = actions.First().Key;
        if (action is not (FlavorAccessApi.Add or FlavorAccessApi.Remove)) return NovaMessages.NoSuchAction(action);
        var value = actions[action];
        if (value is not JsonObject args) return NovaMessages.InvalidInput(action, value, $"{NovaValues.Repr(value)} is not of type 'object'");
        if (args.TryGetPropertyValue("tenant", out var tenant))
        {
            if (!NovaParameterTypes.IsString(tenant)) return NovaMessages.InvalidInput("tenant", tenant, $"{NovaValues.Repr(tenant)} is not of type 'string'");
            var text = tenant!.GetValue<string>();
            if (text.Length == 0) return NovaMessages.InvalidInput("tenant", tenant, $"{NovaValues.Repr(tenant)} is too short");
            if (text.Length > 255) return NovaMessages.InvalidInput("tenant", tenant, $"{NovaValues.Repr(tenant)} is too long");
        }
        else
        {
            return NovaMessages.InvalidInput(action, args, "'tenant' is a required property");
        }

        if (args.FirstOrDefault(p => p.Key != "tenant") is { Key: { } extra })
            return NovaMessages.InvalidInput(action, args, $"Additional properties are not allowed ('{extra}' was unexpected)");
        return actions.Count > 1 ? $"Additional properties are not allowed ('{actions.Skip(1).First().Key}' was unexpected)" : null;
    }
}
