using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Drains;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.Identity;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Infrastructure.Persistence;

/// <summary>
/// The gateway's one database. Each provider has a subclass (see <c>Providers/</c>) only so that
/// each keeps its own migrations; the model is the same for all.
/// </summary>
public abstract class XenMigrateDbContext(DbContextOptions options) : DbContext(options)
{
    /// <summary>Shadow column bumped on every update of a row guarded by optimistic concurrency.</summary>
    public const string ConcurrencyVersion = "Version";

    public DbSet<Server> Servers => Set<Server>();
    public DbSet<Flavor> Flavors => Set<Flavor>();
    public DbSet<Migration> Migrations => Set<Migration>();
    public DbSet<InstanceAction> InstanceActions => Set<InstanceAction>();
    public DbSet<ComputeHost> ComputeHosts => Set<ComputeHost>();
    public DbSet<HostAggregate> HostAggregates => Set<HostAggregate>();
    public DbSet<Project> Projects => Set<Project>();
    public DbSet<User> Users => Set<User>();
    public DbSet<RoleAssignment> RoleAssignments => Set<RoleAssignment>();
    public DbSet<TokenSigningKey> TokenSigningKeys => Set<TokenSigningKey>();
    public DbSet<RevokedToken> RevokedTokens => Set<RevokedToken>();
    public DbSet<Domain.KeyPairs.KeyPair> KeyPairs => Set<Domain.KeyPairs.KeyPair>();
    public DbSet<MigrationCheckpoint> MigrationCheckpoints => Set<MigrationCheckpoint>();
    public DbSet<HostDrain> HostDrains => Set<HostDrain>();
    public DbSet<Quotas.QuotaLimit> QuotaLimits => Set<Quotas.QuotaLimit>();
    public DbSet<Quotas.QuotaClassLimit> QuotaClassLimits => Set<Quotas.QuotaClassLimit>();
    public DbSet<Domain.ServerGroups.ServerGroup> ServerGroups => Set<Domain.ServerGroups.ServerGroup>();
    public DbSet<Domain.ServerGroups.ServerGroupMember> ServerGroupMembers => Set<Domain.ServerGroups.ServerGroupMember>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(XenMigrateDbContext).Assembly);

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Every timestamp is UTC; SQLite and SQL Server hand DateTime back unspecified, so say so on the way out.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcDateTimeConverter>();
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        BumpConcurrencyVersions();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        BumpConcurrencyVersions();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    private void BumpConcurrencyVersions()
    {
        foreach (var entry in ChangeTracker.Entries())
        {
            if (entry.State != EntityState.Modified) continue;
            var version = entry.Metadata.FindProperty(ConcurrencyVersion);
            if (version is null) continue;
            var property = entry.Property(ConcurrencyVersion);
            property.CurrentValue = (int)(property.OriginalValue ?? 0) + 1;
        }
    }
}
