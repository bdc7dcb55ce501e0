using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.InstanceActions;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class InstanceActionConfiguration : IEntityTypeConfiguration<InstanceAction>
{
    public void Configure(EntityTypeBuilder<InstanceAction> b)
    {
        b.ToTable("InstanceActions");
        b.HasKey(a => a.Id);
        b.Property(a => a.Id).ValueGeneratedOnAdd();
        b.Property(a => a.Action).HasMaxLength(255).IsRequired();
        b.Property(a => a.RequestId).HasMaxLength(255).IsRequired();
        b.Property(a => a.UserId).HasMaxLength(64).IsRequired();
        b.Property(a => a.ProjectId).HasMaxLength(64).IsRequired();
        b.Property(a => a.Message).HasMaxLength(255);
        b.HasIndex(a => new { a.ServerId, a.RequestId }).IsUnique();
        b.OwnsMany(a => a.Events, e =>
        {
            e.ToTable("InstanceActionEvents");
            e.WithOwner().HasForeignKey("InstanceActionId");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedOnAdd();
            e.Property(x => x.EventName).HasMaxLength(255).IsRequired();
            e.Property(x => x.Host).HasMaxLength(255);
            e.Property(x => x.Result).HasMaxLength(32);
        });
        b.Navigation(a => a.Events).HasField("_events").UsePropertyAccessMode(PropertyAccessMode.Field);
    }
}
