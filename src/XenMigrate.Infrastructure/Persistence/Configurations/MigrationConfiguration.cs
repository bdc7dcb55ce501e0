using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.Migrations;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class MigrationConfiguration : IEntityTypeConfiguration<Migration>
{
    public void Configure(EntityTypeBuilder<Migration> b)
    {
        b.ToTable("Migrations");
        b.HasKey(m => m.Id);
        b.Property(m => m.Id).ValueGeneratedOnAdd();
        b.HasIndex(m => m.Uuid).IsUnique();
        b.HasIndex(m => m.InstanceUuid);
        b.HasIndex(m => new { m.CreatedAt, m.Id });
        b.Property(m => m.Type).HasMaxLength(32)
            .HasConversion(v => v.ToNovaName(), s => MigrationNames.ParseType(s));
        b.Property(m => m.Status).HasMaxLength(32)
            .HasConversion(v => v.ToNovaName(), s => MigrationNames.ParseStatus(s));
        b.HasIndex(m => m.Status);
        b.Property(m => m.SourceCompute).HasMaxLength(255);
        b.Property(m => m.SourceNode).HasMaxLength(255);
        b.Property(m => m.DestCompute).HasMaxLength(255);
        b.Property(m => m.DestNode).HasMaxLength(255);
        b.Property(m => m.DestHost).HasMaxLength(255);
        b.Property(m => m.ProjectId).HasMaxLength(64).IsRequired();
        b.Property(m => m.UserId).HasMaxLength(64).IsRequired();
        b.Ignore(m => m.IsInProgress);
        b.Property<int>(XenMigrateDbContext.ConcurrencyVersion).IsConcurrencyToken();
    }
}
