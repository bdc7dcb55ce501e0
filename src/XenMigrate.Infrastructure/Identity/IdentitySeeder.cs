using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Identity;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Identity;

/// <summary>
/// Makes the database hold the configured users, projects and role assignments. Ids, once made,
/// are kept; a changed password is re-hashed. Safe to run from several processes at once.
/// </summary>
public sealed class IdentitySeeder(XenMigrateDbContext db, IPasswordHasher<User> hasher, IOptions<KeystoneOptions> options)
{
    public async Task SeedAsync(CancellationToken ct)
    {
        foreach (var configured in options.Value.Users)
        {
            if (string.IsNullOrWhiteSpace(configured.Name) || string.IsNullOrEmpty(configured.Password))
                throw new InvalidOperationException("Every Identity:Users entry needs a Name and a Password.");

            var user = await db.Users.FirstOrDefaultAsync(u => u.Name == configured.Name && u.DomainId == Domains.DefaultId, ct);
            if (user is null)
            {
                user = new User(NewKeystoneId(), configured.Name, string.Empty);
                user.ChangePasswordHash(hasher.HashPassword(user, configured.Password));
                db.Users.Add(user);
            }
            else if (hasher.VerifyHashedPassword(user, user.PasswordHash, configured.Password) != PasswordVerificationResult.Success)
            {
                user.ChangePasswordHash(hasher.HashPassword(user, configured.Password));
            }

            foreach (var role in configured.Roles)
            {
                if (!Roles.All.Contains(role.Role))
                    throw new InvalidOperationException($"User '{configured.Name}': unknown role '{role.Role}' (admin, member or reader).");
                var project = await EnsureProjectAsync(role.Project, ct);
                var exists = await db.RoleAssignments.AnyAsync(r => r.UserId == user.Id && r.ProjectId == project.Id && r.Role == role.Role, ct)
                             || db.RoleAssignments.Local.Any(r => r.UserId == user.Id && r.ProjectId == project.Id && r.Role == role.Role);
                if (!exists) db.RoleAssignments.Add(new RoleAssignment(user.Id, project.Id, role.Role));
            }
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (!ct.IsCancellationRequested)
        {
            // Another process seeded the same rows at the same moment; theirs stand.
            db.ChangeTracker.Clear();
        }
    }

    private async Task<Project> EnsureProjectAsync(string name, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new InvalidOperationException("A role assignment needs a Project.");
        var project = db.Projects.Local.FirstOrDefault(p => p.Name == name)
                      ?? await db.Projects.FirstOrDefaultAsync(p => p.Name == name && p.DomainId == Domains.DefaultId, ct);
        if (project is not null) return project;
        project = new Project(NewKeystoneId(), name);
        db.Projects.Add(project);
        return project;
    }

    private static string NewKeystoneId() => Guid.NewGuid().ToString("N");
}
