using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Infrastructure.Quotas;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class QuotaLimitConfiguration : IEntityTypeConfiguration<QuotaLimit>
{
    public void Configure(EntityTypeBuilder<QuotaLimit> b)
    {
        b.ToTable("QuotaLimits");
        b.HasKey(q => q.Id);
        b.Property(q => q.Id).ValueGeneratedOnAdd();
        b.Property(q => q.ProjectId).HasMaxLength(64).IsRequired();
        b.Property(q => q.Resource).HasMaxLength(64).IsRequired();
        b.HasIndex(q => new { q.ProjectId, q.Resource }).IsUnique();
    }
}

internal sealed class QuotaClassLimitConfiguration : IEntityTypeConfiguration<QuotaClassLimit>
{
    public void Configure(EntityTypeBuilder<QuotaClassLimit> b)
    {
        b.ToTable("QuotaClassLimits");
        b.HasKey(q => q.Id);
        b.Property(q => q.Id).ValueGeneratedOnAdd();
        b.Property(q => q.ClassName).HasMaxLength(255).IsRequired();
        b.Property(q => q.Resource).HasMaxLength(64).IsRequired();
        b.HasIndex(q => new { q.ClassName, q.Resource }).IsUnique();
    }
}
