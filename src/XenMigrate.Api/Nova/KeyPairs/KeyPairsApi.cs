using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Common;
using XenMigrate.Domain.KeyPairs;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.KeyPairs;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Quotas;

namespace XenMigrate.Api.Nova.KeyPairs;

/// <summary>
/// Nova's os-keypairs (compute/keypairs.py, schemas/keypairs.py, views/keypairs.py): a user's key
/// pairs, by name. Import a public key or (before 2.92) have one generated and get its private key
/// once; the type from 2.2 (ssh, x509; 201 and 204 from then on), another user's pairs for admins
/// from 2.10 (<c>user_id</c>), paging from 2.35. A server booted with <c>key_name</c> carries the
/// public key into its VM's xenstore (<c>vm-data/public-keys/0/openssh-key</c>).
/// </summary>
public static class KeyPairsApi
{
    private const string SafeChars = "_- ";

    public static void MapKeyPairs(this RouteGroupBuilder compute)
    {
        var keypairs = compute.MapGroup("/os-keypairs").WithTags("Key pairs");
        keypairs.MapGet("", List).WithSummary("List your key pairs (another user's as an admin, 2.10 user_id)");
        keypairs.MapPost("", Create).Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status201Created).WithSummary("Import a public key, or generate a key pair (before 2.92)")
            .WithDescription("""{"keypair":{"name":"mykey","public_key":"ssh-ed25519 AAAA… me@host"}}""");
        keypairs.MapGet("/{keypair_name}", Show).WithSummary("Show a key pair");
        keypairs.MapDelete("/{keypair_name}", Delete).Produces(StatusCodes.Status202Accepted).Produces(StatusCodes.Status204NoContent).WithSummary("Delete a key pair");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var query = caller.Http.Request.Query;
        if (caller.Version.AtLeast(75)) NovaQuery.RejectUnknown(query, new HashSet<string>(["user_id", "limit", "marker"]));
        var userId = TargetUser(caller, caller.Version.AtLeast(10) ? query["user_id"].FirstOrDefault() : null, "index");
        var pairs = await db.KeyPairs.AsNoTracking().Where(k => k.UserId == userId).OrderBy(k => k.Name).ToListAsync(ct);
        string? next = null;
        if (caller.Version.AtLeast(35))
        {
            var limit = NovaQuery.Limit(query);
            var marker = NovaQuery.Marker(query);
            if (marker is not null && pairs.All(p => p.Name != marker)) throw NovaFaultException.BadRequest($"Marker {marker} could not be found.");
            pairs = NovaQuery.Page(pairs, p => p.Name, marker, limit);
            if (pairs.Count > 0 && pairs.Count == limit) next = caller.NextLink("os-keypairs", NovaQuery.NextQuery(query, limit, pairs[^1].Name));
        }

        var body = new JsonObject
        {
            ["keypairs"] = new JsonArray(pairs.Select(p => (JsonNode)new JsonObject
            {
                ["keypair"] = View(p, caller, "name", "public_key", "fingerprint"),
            }).ToArray()),
        };
        if (next is not null) body["keypairs_links"] = new JsonArray(new JsonObject { ["href"] = next, ["rel"] = "next" });
        return Results.Json(body);
    }

    private static async Task<IResult> Show(string keypair_name, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var userId = TargetUser(caller, caller.Version.AtLeast(10) ? caller.Http.Request.Query["user_id"].FirstOrDefault() : null, "show");
        var pair = await FindAsync(db, userId, keypair_name, ct);
        var view = View(pair, caller, "name", "public_key", "fingerprint", "user_id");
        view["deleted"] = false;
        view["deleted_at"] = null;
        view["created_at"] = pair.CreatedAt.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        view["updated_at"] = null;
        view["id"] = pair.Id;
        return Results.Json(new JsonObject { ["keypair"] = view });
    }

    private static async Task<IResult> Delete(string keypair_name, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var userId = TargetUser(caller, caller.Version.AtLeast(10) ? caller.Http.Request.Query["user_id"].FirstOrDefault() : null, "delete");
        db.KeyPairs.Remove(await FindAsync(db, userId, keypair_name, ct, tracked: true));
        await db.SaveChangesAsync(ct);
        return caller.Version.AtLeast(2) ? Results.NoContent() : Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> Create(NovaCaller caller, XenMigrateDbContext db, QuotaService quotas, TimeProvider time, CancellationToken ct)
    {
        var v = caller.Version;
        var keypair = Schema(await NovaRequestBody.ReadAsync(caller.Http.Request, ct), v);
        var name = keypair["name"]!.GetValue<string>().Trim();
        var type = keypair["type"]?.GetValue<string>() ?? KeyPair.Ssh;
        var userId = TargetUser(caller, keypair["user_id"]?.GetValue<string>(), "create");

        var safe = v.AtLeast(92) ? SafeChars + "@." : SafeChars;
        if (name.Any(c => !char.IsAsciiLetterOrDigit(c) && !safe.Contains(c, StringComparison.Ordinal)))
            throw Invalid("Keypair name contains unsafe characters");
        if (name.Length is 0 or > 255) throw Invalid("Keypair name must be string and between 1 and 255 characters long");

        string publicKey;
        string? privateKey = null;
        if (keypair["public_key"] is { } given)
        {
            publicKey = given.GetValue<string>();
        }
        else
        {
            (privateKey, publicKey) = type == KeyPair.X509 ? PublicKeys.GenerateX509(userId) : PublicKeys.Generate();
        }

        var fingerprint = PublicKeys.Fingerprint(type, publicKey)
                          ?? throw Invalid(type == KeyPair.X509 ? "failed to generate X509 fingerprint" : "failed to generate fingerprint");

        // The caller's project limits the target user's count, as Nova's Quotas.check_deltas(context, …, user_id) does.
        var allowed = (await quotas.LimitsAsync(caller.ProjectId, ct))["key_pairs"];
        if (allowed >= 0 && await db.KeyPairs.CountAsync(k => k.UserId == userId, ct) >= allowed)
            throw new QuotaExceededException("Quota exceeded, too many key pairs.");
        if (await db.KeyPairs.AnyAsync(k => k.UserId == userId && k.Name == name, ct)) throw Exists(name);

        var pair = new KeyPair(userId, name, type, publicKey, fingerprint, time.GetUtcNow().UtcDateTime);
        db.KeyPairs.Add(pair);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            throw Exists(name); // the same name, created by a concurrent request (a unique index per user)
        }

        var view = View(pair, caller, "name", "public_key", "fingerprint", "user_id");
        if (privateKey is not null) view["private_key"] = privateKey;
        return Results.Json(new JsonObject { ["keypair"] = view }, statusCode: v.AtLeast(2) ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    /// <summary>The user whose pairs are meant: one's own, or (admins) the one named; Nova's policy is admin or that user.</summary>
    private static string TargetUser(NovaCaller caller, string? named, string action)
    {
        var userId = string.IsNullOrEmpty(named) ? caller.UserId : named;
        if (userId != caller.UserId && !caller.IsAdmin) throw new PolicyNotAuthorizedException($"os_compute_api:os-keypairs:{action}");
        return userId;
    }

    private static async Task<KeyPair> FindAsync(XenMigrateDbContext db, string userId, string name, CancellationToken ct, bool tracked = false)
    {
        var pairs = tracked ? db.KeyPairs : db.KeyPairs.AsNoTracking();
        return await pairs.FirstOrDefaultAsync(k => k.UserId == userId && k.Name == name, ct)
               ?? throw NovaFaultException.NotFound($"Keypair {name} not found for user {userId}");
    }

    /// <summary>The view's keys, and the type from 2.2 (views/keypairs.py).</summary>
    private static JsonObject View(KeyPair pair, NovaCaller caller, params string[] keys)
    {
        var view = new JsonObject();
        foreach (var key in keys)
        {
            view[key] = key switch
            {
                "name" => pair.Name,
                "public_key" => pair.PublicKey,
                "fingerprint" => pair.Fingerprint,
                _ => pair.UserId,
            };
        }

        if (caller.Version.AtLeast(2)) view["type"] = pair.Type;
        return view;
    }

    /// <summary>schemas/keypairs.py create, create_v22 (type), create_v210 (user_id), create_v292 (public_key required).</summary>
    private static JsonObject Schema(JsonNode? json, Microversions.ApiVersion v)
    {
        var keypair = NovaRequestBody.Wrapped(json, "keypair");

        var known = new List<string> { "name", "public_key" };
        if (v.AtLeast(2)) known.Add("type");
        if (v.AtLeast(10)) known.Add("user_id");
        if (keypair.FirstOrDefault(p => !known.Contains(p.Key)) is { Key: { } unexpected })
            throw Field("keypair", keypair, $"Additional properties are not allowed ('{unexpected}' was unexpected)");
        foreach (var required in v.AtLeast(92) ? new[] { "name", "public_key" } : ["name"])
            if (!keypair.ContainsKey(required)) throw Field("keypair", keypair, $"'{required}' is a required property");

        var name = keypair["name"];
        if (!NovaParameterTypes.IsString(name)) throw Field("name", name, $"{NovaValues.Repr(name)} is not of type 'string'");
        var text = name!.GetValue<string>();
        if (text.Length == 0) throw Field("name", name, $"{NovaValues.Repr(name)} is too short");
        if (text.Length > 255) throw Field("name", name, $"{NovaValues.Repr(name)} is too long");
        foreach (var key in new[] { "public_key", "user_id" })
            if (keypair.TryGetPropertyValue(key, out var value) && !NovaParameterTypes.IsString(value))
                throw Field(key, value, $"{NovaValues.Repr(value)} is not of type 'string'");
        if (keypair.TryGetPropertyValue("type", out var type) && !(NovaParameterTypes.IsString(type) && type!.GetValue<string>() is KeyPair.Ssh or KeyPair.X509))
            throw Field("type", type, $"{NovaValues.Repr(type)} is not one of ['ssh', 'x509']");
        return keypair;
    }

    private static NovaFaultException Field(string field, JsonNode? value, string detail) =>
        NovaFaultException.BadRequest(NovaMessages.InvalidInput(field, value, detail));

    private static NovaFaultException Invalid(string reason) => NovaFaultException.BadRequest($"Keypair data is invalid: {reason}");

    private static NovaFaultException Exists(string name) => NovaFaultException.Conflict($"Key pair '{name}' already exists.");
}
