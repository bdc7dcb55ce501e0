using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.ServerGroups;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class ServerGroupConfiguration : IEntityTypeConfiguration<ServerGroup>
{
    public void Configure(EntityTypeBuilder<ServerGroup> b)
    {
        b.ToTable("ServerGroups");
        b.HasKey(g => g.Id);
        b.Property(g => g.Id).ValueGeneratedNever();
        b.Property(g => g.Name).HasMaxLength(255).IsRequired();
        b.Property(g => g.Policy).HasMaxLength(32).IsRequired();
        b.Property(g => g.ProjectId).HasMaxLength(64).IsRequired();
        b.Property(g => g.UserId).HasMaxLength(64).IsRequired();
        b.HasIndex(g => g.ProjectId);
        b.HasMany(g => g.Members).WithOne().HasForeignKey(m => m.GroupId).OnDelete(DeleteBehavior.Cascade);
        b.Navigation(g => g.Members).HasField("_members").UsePropertyAccessMode(PropertyAccessMode.Field);
    }
}

internal sealed class ServerGroupMemberConfiguration : IEntityTypeConfiguration<ServerGroupMember>
{
    public void Configure(EntityTypeBuilder<ServerGroupMember> b)
    {
        b.ToTable("ServerGroupMembers");
        b.HasKey(m => new { m.GroupId, m.ServerId });
        b.HasIndex(m => m.ServerId).IsUnique(); // a server is in at most one group, as in Nova
    }
}
