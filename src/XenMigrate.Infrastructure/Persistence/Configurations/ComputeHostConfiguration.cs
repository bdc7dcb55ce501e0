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
        b.Ignore(h => h.IsSchedulable);
    }
}
