using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.Hosts;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class ComputeHostConfiguration : IEntityTypeConfiguration<ComputeHost>
{
    public void Configure(EntityTypeBuilder<ComputeHost> b)
    {
        b.ToTable("ComputeHosts");
        b.HasKey(h => h.Id);
        b.Property(h => h.Id).ValueGeneratedOnAdd();
        b.HasIndex(h => h.Uuid).IsUnique();
        b.Property(h => h.Name).HasMaxLength(255).IsRequired();
        b.HasIndex(h => h.Name).IsUnique();
        b.Property(h => h.XapiUrl).HasMaxLength(2048).IsRequired();
        b.Property(h => h.DisabledReason).HasMaxLength(255);
        b.Property(h => h.PoolName).HasMaxLength(255);
        b.Ignore(h => h.IsSchedulable);
    }
}

internal sealed class HostAggregateConfiguration : IEntityTypeConfiguration<HostAggregate>
{
    public void Configure(EntityTypeBuilder<HostAggregate> b)
    {
        b.ToTable("HostAggregates");
        b.HasKey(a => a.Id);
        b.Property(a => a.Id).ValueGeneratedOnAdd();
        b.HasIndex(a => a.Uuid).IsUnique();
        b.Property(a => a.Name).HasMaxLength(255).IsRequired();
        b.HasIndex(a => a.PoolUuid).IsUnique();
        b.Property(a => a.AvailabilityZone).HasMaxLength(255);
    }
}
