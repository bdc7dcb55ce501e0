using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Identity;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Identity;

/// <summary>An authenticated caller, scoped to one project, with the roles they hold on it.</summary>
public sealed record AuthenticatedCaller(
    User User,
    Project Project,
    IReadOnlyList<string> Roles,
    TokenClaims Token)
{
    public bool IsAdmin => Roles.Contains(Domain.Identity.Roles.Admin);
}

/// <summary>How a project is named in an auth request: by id, or by name within a domain.</summary>
public sealed record ProjectScope(string? Id, string? Name, string? DomainId, string? DomainName);

/// <summary>How a user is named in an auth request: by id, or by name within a domain.</summary>
public sealed record UserReference(string? Id, string? Name, string? DomainId, string? DomainName);

/// <summary>Keystone's password authentication and token validation over the gateway's database.</summary>
public sealed class KeystoneIdentityService(
    XenMigrateDbContext db,
    TokenKeyProvider keys,
    IPasswordHasher<User> hasher,
    IOptions<KeystoneOptions> options,
    TokenValidationCache cache,
    TimeProvider time)
{
    /// <summary>Checks the password and scope and issues a token; null when either is wrong.</summary>
    public async Task<(string Token, AuthenticatedCaller Caller)?> IssueTokenAsync(
        UserReference userRef, string password, ProjectScope scope, CancellationToken ct)
    {
        var user = await FindUserAsync(userRef, ct);
        if (user is null || hasher.VerifyHashedPassword(user, user.PasswordHash, password) == PasswordVerificationResult.Failed)
            return null;

        var project = await FindProjectAsync(scope, ct);
        if (project is null) return null;

        var roles = await RolesAsync(user.Id, project.Id, ct);
        if (roles.Count == 0) return null; // Keystone refuses a scope the user has no role on

        var now = time.GetUtcNow().UtcDateTime;
        // Keystone's expires_at carries microseconds; truncate so the token and its body agree.
        now = new DateTime(now.Ticks - now.Ticks % 10, DateTimeKind.Utc);
        var claims = new TokenClaims(user.Id, project.Id, now, now + options.Value.TokenLifetime,
            Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));
        var sealer = await keys.GetSealerAsync(ct);
        return (sealer.Seal(claims), new AuthenticatedCaller(user, project, roles, claims));
    }

    /// <summary>The caller a token stands for, or null when it is malformed, forged, expired or revoked.</summary>
    public async Task<AuthenticatedCaller?> ValidateAsync(string token, CancellationToken ct)
    {
        // A token validated moments ago is the same string: no need to open it again.
        if (cache.Find(token) is { } known) return known;

        var sealer = await keys.GetSealerAsync(ct);
        var claims = sealer.Unseal(token);
        if (claims is null || claims.ExpiresAt <= time.GetUtcNow().UtcDateTime) return null;

        var generation = cache.Generation;
        if (await db.RevokedTokens.AsNoTracking().AnyAsync(r => r.AuditId == claims.AuditId, ct)) return null;
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == claims.UserId, ct);
        var project = await db.Projects.AsNoTracking().FirstOrDefaultAsync(p => p.Id == claims.ProjectId, ct);
        if (user is null || project is null) return null;

        var roles = await RolesAsync(user.Id, project.Id, ct);
        if (roles.Count == 0) return null;
        var caller = new AuthenticatedCaller(user, project, roles, claims);
        cache.Remember(token, caller, generation);
        return caller;
    }

    /// <summary>
    /// Revokes a token (Keystone's revoke by audit id): refused from the next request in this
    /// process, and in every other process once its cached validation ends (KeystoneOptions.TokenCacheTime).
    /// Revocations of tokens that have expired since are purged on the way.
    /// </summary>
    public async Task RevokeAsync(TokenClaims token, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        db.RevokedTokens.RemoveRange(await db.RevokedTokens.Where(r => r.ExpiresAt < now).ToListAsync(ct));
        if (!await db.RevokedTokens.AnyAsync(r => r.AuditId == token.AuditId, ct))
            db.RevokedTokens.Add(new RevokedToken { AuditId = token.AuditId, ExpiresAt = token.ExpiresAt, RevokedAt = now });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Revoked at the same moment by another request: it is revoked either way.
            if (!await db.RevokedTokens.AsNoTracking().AnyAsync(r => r.AuditId == token.AuditId, ct)) throw;
        }
    }

    /// <summary>Every project, as Keystone's project list reads them.</summary>
    public async Task<IReadOnlyList<Project>> ProjectsAsync(CancellationToken ct) =>
        await db.Projects.AsNoTracking().OrderBy(p => p.Name).ToListAsync(ct);

    /// <summary>The projects a user holds any role on; null when there is no such user.</summary>
    public async Task<IReadOnlyList<Project>?> ProjectsOfUserAsync(string userId, CancellationToken ct)
    {
        if (!await db.Users.AsNoTracking().AnyAsync(u => u.Id == userId, ct)) return null;
        var ids = await db.RoleAssignments.AsNoTracking().Where(r => r.UserId == userId).Select(r => r.ProjectId).Distinct().ToListAsync(ct);
        return await db.Projects.AsNoTracking().Where(p => ids.Contains(p.Id)).OrderBy(p => p.Name).ToListAsync(ct);
    }

    private async Task<User?> FindUserAsync(UserReference r, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(r.Id)) return await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == r.Id, ct);
        if (string.IsNullOrEmpty(r.Name) || !IsDefaultDomain(r.DomainId, r.DomainName)) return null;
        return await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Name == r.Name && u.DomainId == Domains.DefaultId, ct);
    }

    private async Task<Project?> FindProjectAsync(ProjectScope s, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(s.Id)) return await db.Projects.AsNoTracking().FirstOrDefaultAsync(p => p.Id == s.Id, ct);
        if (string.IsNullOrEmpty(s.Name) || !IsDefaultDomain(s.DomainId, s.DomainName)) return null;
        return await db.Projects.AsNoTracking().FirstOrDefaultAsync(p => p.Name == s.Name && p.DomainId == Domains.DefaultId, ct);
    }

    private async Task<List<string>> RolesAsync(string userId, string projectId, CancellationToken ct)
    {
        var roles = await db.RoleAssignments.AsNoTracking()
            .Where(r => r.UserId == userId && r.ProjectId == projectId)
            .Select(r => r.Role)
            .ToListAsync(ct);
        // Keystone's implied roles: admin implies member, member implies reader.
        if (roles.Contains(Roles.Admin)) roles.Add(Roles.Member);
        if (roles.Contains(Roles.Member)) roles.Add(Roles.Reader);
        return roles.Distinct().OrderBy(r => r, StringComparer.Ordinal).ToList();
    }

    private static bool IsDefaultDomain(string? id, string? name) =>
        (id is null || id == Domains.DefaultId) && (name is null || name == Domains.DefaultName)
        && (id is not null || name is not null);
}
