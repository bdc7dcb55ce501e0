using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Flavors;

/// <summary>
/// Nova's flavor-manage and extra-spec writes (admin only by default): create, delete, update the
/// description (2.55), and set or remove extra specs. Nova's order: the body's schema (400), then
/// policy (403), then the flavor (404) or a duplicate (409). A deleted flavor leaves the lists at
/// once; servers keep the copy of it they were given.
/// </summary>
public static class FlavorManageApi
{
    public static void MapFlavorManage(this RouteGroupBuilder flavors)
    {
        flavors.MapPost("", Create).WithSummary("Create a flavor (admin)")
            .WithDescription("""{"flavor":{"name":"m1.custom","ram":1024,"vcpus":1,"disk":10,"id":null}} → 200 with the flavor; an absent or null id gets a uuid.""");
        flavors.MapDelete("/{flavor_id}", Delete).Produces(StatusCodes.Status202Accepted).WithSummary("Delete a flavor (admin); servers keep theirs");
        flavors.MapPut("/{flavor_id}", Update).WithSummary("Update a flavor's description (admin, 2.55)");
        flavors.MapPost("/{flavor_id}/os-extra_specs", CreateExtraSpecs).WithSummary("Set extra specs (admin)");
        flavors.MapPut("/{flavor_id}/os-extra_specs/{key}", UpdateExtraSpec).WithSummary("Set one extra spec (admin)");
        flavors.MapDelete("/{flavor_id}/os-extra_specs/{key}", DeleteExtraSpec).WithSummary("Remove one extra spec (admin)");
    }

    private static async Task<IResult> Create(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var request = FlavorRequests.ReadCreate(await NovaRequestBody.ReadAsync(caller.Http.Request, ct), withDescription: caller.Version.AtLeast(55));
        caller.Authorize(NovaPolicy.FlavorCreate);

        var flavor = new Flavor(request.Id ?? Guid.NewGuid().ToString(), request.Name, request.Ram, request.Vcpus, request.Disk,
            request.Ephemeral, request.Swap, request.IsPublic, request.Description, request.RxtxFactor);
        await EnsureUniqueAsync(db, flavor, ct);
        db.Flavors.Add(flavor);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another create took the name or id in between: the unique indexes refused this one.
            db.ChangeTracker.Clear();
            await EnsureUniqueAsync(db, flavor, ct);
            throw;
        }

        return Results.Json(new JsonObject { ["flavor"] = FlavorView.Detail(flavor, caller) });
    }

    private static async Task<IResult> Delete(string flavor_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.FlavorDelete);
        var flavor = await FindAsync(db, flavor_id, ct);
        db.Flavors.Remove(flavor);
        await db.SaveChangesAsync(ct);
        return Results.Accepted();
    }

    private static async Task<IResult> Update(string flavor_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        // Before 2.55 the method does not exist for this resource: Nova's 404 for an unversioned method.
        if (!caller.Version.AtLeast(55)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
        var description = FlavorRequests.ReadUpdate(await NovaRequestBody.ReadAsync(caller.Http.Request, ct));
        caller.Authorize(NovaPolicy.FlavorUpdate);
        var flavor = await FindAsync(db, flavor_id, ct);
        flavor.Describe(description);
        await db.SaveChangesAsync(ct);
        return Results.Json(new JsonObject { ["flavor"] = FlavorView.Detail(flavor, caller) });
    }

    private static async Task<IResult> CreateExtraSpecs(string flavor_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var json = await NovaRequestBody.ReadAsync(caller.Http.Request, ct);
        var specs = FlavorRequests.ReadExtraSpecs(json);
        caller.Authorize(NovaPolicy.FlavorExtraSpecsCreate);
        var flavor = await FindAsync(db, flavor_id, ct);
        foreach (var (key, value) in specs) flavor.SetExtraSpec(key, value);
        await db.SaveChangesAsync(ct);
        return Results.Json(json); // Nova answers with the request body
    }

    private static async Task<IResult> UpdateExtraSpec(string flavor_id, string key, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var json = await NovaRequestBody.ReadAsync(caller.Http.Request, ct);
        var value = FlavorRequests.ReadExtraSpec(json, key);
        caller.Authorize(NovaPolicy.FlavorExtraSpecsUpdate);
        var flavor = await FindAsync(db, flavor_id, ct);
        flavor.SetExtraSpec(key, value);
        await db.SaveChangesAsync(ct);
        return Results.Json(json);
    }

    private static async Task<IResult> DeleteExtraSpec(string flavor_id, string key, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.FlavorExtraSpecsDelete);
        var flavor = await FindAsync(db, flavor_id, ct);
        if (!flavor.RemoveExtraSpec(key)) throw NovaFaultException.NotFound($"Flavor {flavor_id} has no extra specs with key {key}.");
        await db.SaveChangesAsync(ct);
        return Results.Ok(); // Nova answers 200 with no body (flavors_extraspecs.py delete)
    }

    /// <summary>Any flavor, public or not (the callers here are admins).</summary>
    private static async Task<Flavor> FindAsync(XenMigrateDbContext db, string flavorId, CancellationToken ct) =>
        await db.Flavors.FirstOrDefaultAsync(f => f.FlavorId == flavorId, ct)
        ?? throw NovaFaultException.NotFound(NovaMessages.FlavorNotFound(flavorId));

    /// <summary>Nova's FlavorIdExists, then FlavorExists (409).</summary>
    private static async Task EnsureUniqueAsync(XenMigrateDbContext db, Flavor flavor, CancellationToken ct)
    {
        if (await db.Flavors.AnyAsync(f => f.FlavorId == flavor.FlavorId, ct))
            throw new NovaFaultException(StatusCodes.Status409Conflict, $"Flavor with ID {flavor.FlavorId} already exists.");
        if (await db.Flavors.AnyAsync(f => f.Name == flavor.Name, ct))
            throw new NovaFaultException(StatusCodes.Status409Conflict, $"Flavor with name {flavor.Name} already exists.");
    }
}
