using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using XenMigrate.Api.Nova;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Servers;
using XenMigrate.Domain.Drains;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Drains;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Admin;

/// <summary>
/// XenMigrate's own admin extension, outside Nova's namespace: drain a host. <c>POST</c> disables
/// the host (as <c>os-services</c> would) and records every server on it; the workers then move
/// them off, live where they run and cold otherwise, a few at a time. <c>GET</c> shows progress
/// and, once finished, the report of what moved where and what failed.
/// </summary>
public static class HostDrainsApi
{
    public const string Prefix = "/xenmigrate/v1";

    /// <summary>The request body, for the OpenAPI document (the handler reads it itself to answer bad input in Nova's words).</summary>
    public sealed record DrainRequest(DrainSpec Drain);

    /// <param name="Host">The compute host (os-services "host") to empty.</param>
    /// <param name="MaxConcurrent">Moves at once, 1 to 20 (default 2).</param>
    /// <param name="Reason">Recorded as the service's disabled_reason.</param>
    public sealed record DrainSpec(string Host, int? MaxConcurrent, string? Reason);

    public static void MapHostDrains(this WebApplication app)
    {
        var drains = app.MapGroup(Prefix + "/host-drains").RequireAuthorization().WithTags("Host drains (XenMigrate extension)");
        drains.MapPost("", Create).Produces(StatusCodes.Status202Accepted).WithSummary("Drain a host: disable it and move every server off it (admin)")
            .WithDescription("""Body: {"drain":{"host":"xs-sim-1","max_concurrent":2,"reason":"failing PSU"}}. Answers 202 with the drain; poll GET /xenmigrate/v1/host-drains/{id}.""")
            .Accepts<DrainRequest>("application/json");
        drains.MapGet("", List).WithSummary("List host drains, newest first (admin)");
        drains.MapGet("/{drain_id}", Show).WithSummary("Show a drain: progress, and per server how it moved, where to, or why not (admin)");
        drains.MapPost("/{drain_id}/cancel", Cancel).Produces(StatusCodes.Status202Accepted)
            .WithSummary("Stop starting new moves; moves under way finish and are reported (admin)");
    }

    private static async Task<IResult> Create(NovaCaller caller, XenMigrateDbContext db, TimeProvider time, IOptions<HostDrainOptions> options,
        CancellationToken ct)
    {
        var spec = await ReadSpecAsync(caller.Http.Request, options.Value.DefaultMaxConcurrent, ct);
        caller.Authorize(DrainPolicy.Create);

        var host = await db.ComputeHosts.FirstOrDefaultAsync(h => h.Name == spec.Host, ct)
                   ?? throw new Domain.Hosts.ComputeHostNotFoundException(spec.Host);
        if (await ActiveDrainExistsAsync(db, host.Name, ct)) throw NovaFaultException.Conflict($"Host {host.Name} is already being drained.");

        var now = time.GetUtcNow().UtcDateTime;
        var drain = new HostDrain(Guid.NewGuid(), host.Name, spec.Reason, spec.MaxConcurrent!.Value, caller.UserId, caller.ProjectId, caller.RequestId, now);
        host.Disable(spec.Reason ?? $"drained by XenMigrate (drain {drain.Uuid})", now);

        // Every server whose VM is on this host: running there, or an old copy kept for a resize to confirm.
        var servers = await db.Servers.AsNoTracking()
            .Where(s => s.Host == host.Name || (s.PreviousHost == host.Name && s.VmState == VmState.Resized))
            .OrderBy(s => s.CreatedAt).ToListAsync(ct);
        foreach (var server in servers) drain.AddServer(server.Id, server.Name, PlannedMethod(server), now);
        drain.FinishIfSettled(now); // an empty host is drained at once
        db.HostDrains.Add(drain);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e is not DbUpdateConcurrencyException)
        {
            // A second drain of the host, committed by a racing request: the unique index refused this one.
            if (await ActiveDrainExistsAsync(db, host.Name, ct)) throw NovaFaultException.Conflict($"Host {host.Name} is already being drained.");
            throw;
        }

        caller.Http.Response.Headers.Location = $"{PublicUrls.Base(caller.Http)}{Prefix}/host-drains/{drain.Uuid}";
        return Results.Json(new JsonObject { ["drain"] = View(drain) }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(DrainPolicy.List);
        var drains = await db.HostDrains.AsNoTracking().OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id).ToListAsync(ct);
        return Results.Json(new JsonObject { ["drains"] = new JsonArray(drains.Select(d => (JsonNode)View(d, withServers: false)).ToArray()) });
    }

    private static async Task<IResult> Show(string drain_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(DrainPolicy.Show);
        var drain = await FindAsync(drain_id, db, tracked: false, ct);
        return Results.Json(new JsonObject { ["drain"] = View(drain) });
    }

    private static async Task<IResult> Cancel(string drain_id, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        caller.Authorize(DrainPolicy.Cancel);
        var drain = await FindAsync(drain_id, db, tracked: true, ct);
        if (drain.Status != HostDrainStatus.Running) throw NovaFaultException.Conflict($"Drain {drain.Uuid} is {StatusName(drain.Status)}, not running.");
        drain.Cancel(time.GetUtcNow().UtcDateTime);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            throw NovaFaultException.Conflict($"Drain {drain.Uuid} changed meanwhile; look at it and try again.");
        }

        return Results.Json(new JsonObject { ["drain"] = View(drain) }, statusCode: StatusCodes.Status202Accepted);
    }

    private static Task<bool> ActiveDrainExistsAsync(XenMigrateDbContext db, string host, CancellationToken ct) =>
        db.HostDrains.AsNoTracking().AnyAsync(d => d.Host == host && (d.Status == HostDrainStatus.Running || d.Status == HostDrainStatus.Cancelling), ct);

    private static DrainMethod PlannedMethod(Server server) => server.VmState switch
    {
        VmState.Resized => DrainMethod.Confirm,
        VmState.Active or VmState.Paused => DrainMethod.Live,
        _ => DrainMethod.Cold,
    };

    private static async Task<HostDrain> FindAsync(string id, XenMigrateDbContext db, bool tracked, CancellationToken ct)
    {
        var notFound = NovaFaultException.NotFound($"Drain {id} could not be found.");
        if (!Guid.TryParse(id, out var uuid)) throw notFound;
        var query = tracked ? db.HostDrains : db.HostDrains.AsNoTracking();
        return await query.FirstOrDefaultAsync(d => d.Uuid == uuid, ct) ?? throw notFound;
    }

    private static async Task<DrainSpec> ReadSpecAsync(HttpRequest request, int defaultMaxConcurrent, CancellationToken ct)
    {
        var json = await NovaRequestBody.ReadAsync(request, ct);
        if (json is not JsonObject body || body.Count != 1 || body["drain"] is not JsonObject drain)
            throw NovaFaultException.BadRequest("""The body must be {"drain":{"host":...}}.""");
        foreach (var key in drain.Select(p => p.Key))
        {
            if (key is not ("host" or "max_concurrent" or "reason"))
                throw NovaFaultException.BadRequest($"Invalid input for field/attribute drain. Additional properties are not allowed ('{key}' was unexpected)");
        }

        var host = drain["host"] is JsonValue h && h.TryGetValue<string>(out var name) && name.Length is > 0 and <= 255
            ? name
            : throw NovaFaultException.BadRequest("Invalid input for field/attribute host. 'host' must be a string of 1 to 255 characters");
        var max = defaultMaxConcurrent;
        if (drain.TryGetPropertyValue("max_concurrent", out var m))
        {
            // Given means given: null is not "the default" (leave the key out for that).
            if (m is not JsonValue mv || !mv.TryGetValue<int>(out max) || max is < HostDrain.MinConcurrent or > HostDrain.MaxConcurrentLimit)
                throw NovaFaultException.BadRequest(
                    $"Invalid input for field/attribute max_concurrent. Value: {m?.ToJsonString() ?? "null"}. It must be an integer from {HostDrain.MinConcurrent} to {HostDrain.MaxConcurrentLimit}");
        }

        string? reason = null;
        if (drain.TryGetPropertyValue("reason", out var r) && r is not null && (r is not JsonValue rv || !rv.TryGetValue(out reason) || reason!.Length is 0 or > 255))
            throw NovaFaultException.BadRequest("Invalid input for field/attribute reason. 'reason' must be a string of 1 to 255 characters");
        return new DrainSpec(host, max, reason);
    }

    public static JsonObject View(HostDrain drain, bool withServers = true)
    {
        var items = drain.Items;
        var view = new JsonObject
        {
            ["id"] = drain.Uuid.ToString(),
            ["host"] = drain.Host,
            ["reason"] = drain.Reason,
            ["status"] = StatusName(drain.Status),
            ["max_concurrent"] = drain.MaxConcurrent,
            ["user_id"] = drain.UserId,
            ["created_at"] = Time(drain.CreatedAt),
            ["updated_at"] = Time(drain.UpdatedAt),
            ["finished_at"] = drain.FinishedAt is { } f ? Time(f) : null,
            ["progress"] = new JsonObject
            {
                ["total"] = items.Count,
                ["pending"] = items.Count(i => i.Status == DrainItemStatus.Pending),
                ["moving"] = items.Count(i => i.IsActive),
                ["moved"] = items.Count(i => i.Status == DrainItemStatus.Moved),
                ["failed"] = items.Count(i => i.Status == DrainItemStatus.Failed),
                ["skipped"] = items.Count(i => i.Status == DrainItemStatus.Skipped),
                ["percent"] = items.Count == 0 ? 100 : 100 * items.Count(i => i.IsSettled) / items.Count,
            },
        };
        if (withServers)
        {
            view["servers"] = new JsonArray(items.OrderBy(i => i.Id).Select(i => (JsonNode)new JsonObject
            {
                ["server_id"] = i.ServerId.ToString(),
                ["name"] = i.ServerName,
                ["method"] = i.Method.ToString().ToLowerInvariant(),
                ["status"] = i.Status.ToString().ToLowerInvariant(),
                ["migration_uuid"] = i.MigrationUuid?.ToString(),
                ["source_host"] = drain.Host,
                ["destination_host"] = i.DestinationHost,
                ["attempts"] = i.Attempts,
                ["error"] = i.Error,
                ["started_at"] = i.StartedAt is { } s ? Time(s) : null,
                ["finished_at"] = i.FinishedAt is { } e ? Time(e) : null,
            }).ToArray());
        }

        return view;
    }

    private static string StatusName(HostDrainStatus status) => status switch
    {
        HostDrainStatus.CompletedWithErrors => "completed-with-errors",
        _ => status.ToString().ToLowerInvariant(),
    };

    private static string Time(DateTime t) => ServerView.Iso(t);

    /// <summary>The extension's policies: admin only, like os-services.</summary>
    private static class DrainPolicy
    {
        public static readonly NovaPolicy.Rule Create = new("xenmigrate:host-drains:create", NovaPolicy.Check.Admin);
        public static readonly NovaPolicy.Rule List = new("xenmigrate:host-drains:list", NovaPolicy.Check.Admin);
        public static readonly NovaPolicy.Rule Show = new("xenmigrate:host-drains:show", NovaPolicy.Check.Admin);
        public static readonly NovaPolicy.Rule Cancel = new("xenmigrate:host-drains:cancel", NovaPolicy.Check.Admin);
    }
}
