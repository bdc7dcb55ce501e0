using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Migrations;

/// <summary>
/// Acting on a running live migration (nova server_migrations.py): abort
/// (<c>DELETE /servers/{id}/migrations/{migration_id}</c>, 2.24; queued and preparing ones too from
/// 2.65) and force-complete (<c>POST …/action {"force_complete": null}</c>, 2.22).
/// </summary>
public static class LiveMigrationControlApi
{
    /// <summary>Nova's osapi_max_request_body_size.</summary>
    private const int MaxBodyBytes = 114_688;

    public static void MapLiveMigrationControl(this RouteGroupBuilder compute)
    {
        compute.MapDelete("/servers/{server_id}/migrations/{migration_id}", Abort).WithTags("Migrations").Produces(StatusCodes.Status202Accepted)
            .WithSummary("Abort an in-progress live migration (2.24)");
        compute.MapPost("/servers/{server_id}/migrations/{migration_id}/action", ForceComplete).WithTags("Migrations").Produces(StatusCodes.Status202Accepted)
            .WithSummary("Force an in-progress live migration to complete (2.22)")
            .WithDescription("""Body {"force_complete": null}. XenServer's migrate_send always ends with its stop-and-copy, so this only records the action.""");
    }

    private static async Task<IResult> Abort(string server_id, string migration_id, NovaCaller caller, ComputeApi compute, CancellationToken ct)
    {
        EnsureVersion(caller, 24);
        await compute.AbortLiveMigrationAsync(caller.Context, server_id, MigrationId(migration_id, server_id), caller.Version.AtLeast(65), ct);
        return Results.Accepted();
    }

    private static async Task<IResult> ForceComplete(string server_id, string migration_id, NovaCaller caller, ComputeApi compute, CancellationToken ct)
    {
        EnsureVersion(caller, 22);
        var (outcome, json) = await Http.JsonBody.ReadAsync(caller.Http.Request, MaxBodyBytes, ct);
        if (outcome == Http.JsonBody.Outcome.TooLarge) throw new NovaFaultException(StatusCodes.Status413RequestEntityTooLarge, NovaMessages.RequestTooLarge);
        if (outcome == Http.JsonBody.Outcome.Malformed || json is not JsonObject body)
            throw NovaFaultException.BadRequest(NovaMessages.MalformedBody);
        if (body.Count != 1 || !body.ContainsKey("force_complete"))
        {
            var key = body.Select(p => p.Key).FirstOrDefault(k => k != "force_complete");
            throw NovaFaultException.BadRequest(key is null
                ? NovaMessages.InvalidInput("root", body, "'force_complete' is a required property")
                : NovaMessages.InvalidInput("root", body, $"Additional properties are not allowed ('{key}' was unexpected)"));
        }

        if (body["force_complete"] is not null)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("force_complete", body["force_complete"],
                $"{NovaValues.Repr(body["force_complete"])} is not of type 'null'"));
        await compute.ForceCompleteLiveMigrationAsync(caller.Context, server_id, MigrationId(migration_id, server_id), ct);
        return Results.Accepted();
    }

    /// <summary>A migration id that is not a number names no migration of the server (404).</summary>
    private static int MigrationId(string migrationId, string serverId) =>
        int.TryParse(migrationId, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : throw NovaFaultException.NotFound($"Migration {migrationId} not found for instance {serverId}");

    private static void EnsureVersion(NovaCaller caller, int minor)
    {
        if (!caller.Version.AtLeast(minor)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
    }
}
