using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.KeyPairs;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class KeyPairConfiguration : IEntityTypeConfiguration<KeyPair>
{
    public void Configure(EntityTypeBuilder<KeyPair> b)
    {
        b.ToTable("KeyPairs");
        b.HasKey(k => k.Id);
        b.Property(k => k.Id).ValueGeneratedOnAdd();
        b.Property(k => k.UserId).HasMaxLength(64).IsRequired();
        b.Property(k => k.Name).HasMaxLength(255).IsRequired();
        b.Property(k => k.Type).HasMaxLength(8).IsRequired();
        b.Property(k => k.PublicKey).IsRequired();
        b.Property(k => k.Fingerprint).HasMaxLength(128).IsRequired();
        b.HasIndex(k => new { k.UserId, k.Name }).IsUnique(); // Nova's one name per user
    }
}
