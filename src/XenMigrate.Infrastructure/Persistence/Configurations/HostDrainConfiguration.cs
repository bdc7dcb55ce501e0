using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.Drains;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class HostDrainConfiguration : IEntityTypeConfiguration<HostDrain>
{
    public const string ActiveHostIndex = "IX_HostDrains_ActiveHost";

    /// <summary>Running or cancelling (the statuses are stored by name); double-quoted identifiers are SQLite's, PostgreSQL's and SQL Server's alike.</summary>
    public const string ActiveFilter = "\"Status\" IN ('Running', 'Cancelling')";

    public void Configure(EntityTypeBuilder<HostDrain> b)
    {
        b.ToTable("HostDrains");
        b.HasKey(d => d.Id);
        b.Property(d => d.Id).ValueGeneratedOnAdd();
        b.HasIndex(d => d.Uuid).IsUnique();
        b.Property(d => d.Host).HasMaxLength(255).IsRequired();
        b.HasIndex(d => d.Host);
        // At most one active drain per host, whatever races: the database refuses a second one.
        b.HasIndex(d => d.Host, ActiveHostIndex).IsUnique().HasFilter(ActiveFilter);
        b.Property(d => d.Reason).HasMaxLength(255);
        b.Property(d => d.Status).HasMaxLength(32).HasConversion<string>();
        b.Property(d => d.UserId).HasMaxLength(64).IsRequired();
        b.Property(d => d.ProjectId).HasMaxLength(64).IsRequired();
        b.Property(d => d.RequestId).HasMaxLength(255).IsRequired();
        b.Ignore(d => d.IsFinished);
        b.Ignore(d => d.FreeSlots);
        b.Property<int>(XenMigrateDbContext.ConcurrencyVersion).IsConcurrencyToken();
        b.OwnsMany(d => d.Items, i =>
        {
            i.ToTable("HostDrainItems");
            i.WithOwner().HasForeignKey(x => x.HostDrainId);
            i.HasKey(x => x.Id);
            i.Property(x => x.Id).ValueGeneratedOnAdd();
            i.Property(x => x.ServerName).HasMaxLength(255).IsRequired();
            i.Property(x => x.Method).HasMaxLength(16).HasConversion<string>();
            i.Property(x => x.Status).HasMaxLength(16).HasConversion<string>();
            i.Property(x => x.DestinationHost).HasMaxLength(255);
            i.Property(x => x.Error).HasMaxLength(1024);
            i.Ignore(x => x.IsActive);
            i.Ignore(x => x.IsSettled);
        });
        b.Navigation(d => d.Items).HasField("_items").UsePropertyAccessMode(PropertyAccessMode.Field);
    }
}
