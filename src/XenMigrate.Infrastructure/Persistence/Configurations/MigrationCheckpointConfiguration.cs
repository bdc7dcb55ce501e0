using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.Migrations;
using XenMigrate.Infrastructure.Compute.Common;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class MigrationCheckpointConfiguration : IEntityTypeConfiguration<MigrationCheckpoint>
{
    public void Configure(EntityTypeBuilder<MigrationCheckpoint> b)
    {
        b.ToTable("MigrationCheckpoints");
        b.HasKey(c => c.MigrationId);
        b.Property(c => c.MigrationId).ValueGeneratedNever();
        b.HasOne<Migration>().WithOne().HasForeignKey<MigrationCheckpoint>(c => c.MigrationId).OnDelete(DeleteBehavior.Cascade);
        b.Property(c => c.SourceVmUuid).HasMaxLength(64);
        b.Property(c => c.SourcePowerState).HasMaxLength(32);
        b.Property(c => c.MovePath).HasMaxLength(32);
        b.Property(c => c.SnapshotVmUuid).HasMaxLength(64);
        b.Property(c => c.DestinationVmUuid).HasMaxLength(64);
        b.Property(c => c.RollbackReason).HasMaxLength(1024);
        b.Property(c => c.XapiTaskRef).HasMaxLength(128);
        b.Property(c => c.Disks)
            .HasConversion(JsonColumn.Converter<List<DiskCheckpoint>>(), JsonColumn.Comparer<List<DiskCheckpoint>>())
            .IsRequired();
    }
}
