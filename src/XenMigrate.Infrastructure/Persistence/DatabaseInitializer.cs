using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Infrastructure.Persistence;

/// <summary>Brings a database up to date and seeds what a new deployment starts with.</summary>
public sealed class DatabaseInitializer(XenMigrateDbContext db, IdentitySeeder identity, ILogger<DatabaseInitializer> logger)
{
    public async Task MigrateAsync(CancellationToken ct)
    {
        var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
        if (pending.Count > 0)
        {
            logger.LogInformation("Applying {Count} database migration(s): {Migrations}", pending.Count, string.Join(", ", pending));
            await db.Database.MigrateAsync(ct);
        }
    }

    public async Task SeedAsync(CancellationToken ct)
    {
        await SeedStandardFlavorsAsync(ct);
        await identity.SeedAsync(ct);
    }

    /// <summary>Nova's m1.* flavors, into a deployment that has no flavors yet.</summary>
    private async Task SeedStandardFlavorsAsync(CancellationToken ct)
    {
        if (await db.Flavors.AnyAsync(ct)) return;
        db.Flavors.AddRange(StandardFlavors.Create());
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (!ct.IsCancellationRequested)
        {
            db.ChangeTracker.Clear(); // another process seeded them first
        }
    }
}
