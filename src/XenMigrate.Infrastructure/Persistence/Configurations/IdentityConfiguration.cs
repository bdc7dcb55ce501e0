using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.Identity;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class ProjectConfiguration : IEntityTypeConfiguration<Project>
{
    public void Configure(EntityTypeBuilder<Project> b)
    {
        b.ToTable("Projects");
        b.HasKey(p => p.Id);
        b.Property(p => p.Id).HasMaxLength(64);
        b.Property(p => p.Name).HasMaxLength(64).IsRequired();
        b.Property(p => p.DomainId).HasMaxLength(64).IsRequired();
        b.HasIndex(p => new { p.DomainId, p.Name }).IsUnique();
    }
}

internal sealed class UserConfiguration : IEntityTypeConfiguration<User>
{
    public void Configure(EntityTypeBuilder<User> b)
    {
        b.ToTable("Users");
        b.HasKey(u => u.Id);
        b.Property(u => u.Id).HasMaxLength(64);
        b.Property(u => u.Name).HasMaxLength(255).IsRequired();
        b.Property(u => u.DomainId).HasMaxLength(64).IsRequired();
        b.Property(u => u.PasswordHash).HasMaxLength(512).IsRequired();
        b.HasIndex(u => new { u.DomainId, u.Name }).IsUnique();
    }
}

internal sealed class RoleAssignmentConfiguration : IEntityTypeConfiguration<RoleAssignment>
{
    public void Configure(EntityTypeBuilder<RoleAssignment> b)
    {
        b.ToTable("RoleAssignments");
        b.HasKey(r => new { r.UserId, r.ProjectId, r.Role });
        b.Property(r => r.UserId).HasMaxLength(64);
        b.Property(r => r.ProjectId).HasMaxLength(64);
        b.Property(r => r.Role).HasMaxLength(32);
        b.HasOne<User>().WithMany().HasForeignKey(r => r.UserId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<Project>().WithMany().HasForeignKey(r => r.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class TokenSigningKeyConfiguration : IEntityTypeConfiguration<TokenSigningKey>
{
    public void Configure(EntityTypeBuilder<TokenSigningKey> b)
    {
        b.ToTable("TokenSigningKeys");
        b.HasKey(k => k.Id);
        b.Property(k => k.Id).ValueGeneratedNever();
        b.Property(k => k.Key).IsRequired();
    }
}

internal sealed class RevokedTokenConfiguration : IEntityTypeConfiguration<RevokedToken>
{
    public void Configure(EntityTypeBuilder<RevokedToken> b)
    {
        b.ToTable("RevokedTokens");
        b.HasKey(r => r.AuditId);
        b.Property(r => r.AuditId).HasMaxLength(64);
        b.HasIndex(r => r.ExpiresAt);
    }
}
