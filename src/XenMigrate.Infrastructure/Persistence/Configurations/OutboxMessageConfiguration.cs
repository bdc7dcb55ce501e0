using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Infrastructure.Notifications;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> b)
    {
        b.ToTable("OutboxMessages");
        b.HasKey(m => m.Id);
        b.Property(m => m.Id).ValueGeneratedOnAdd();
        b.Property(m => m.EventType).HasMaxLength(255).IsRequired();
        b.Property(m => m.Priority).HasMaxLength(16).IsRequired();
        b.Property(m => m.PublisherId).HasMaxLength(255).IsRequired();
        b.Property(m => m.Payload).IsRequired();
        b.HasIndex(m => m.PublishedAt);
    }
}
