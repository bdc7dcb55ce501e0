using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;

namespace XenMigrate.Infrastructure.Persistence.Configurations;

internal sealed class ServerConfiguration : IEntityTypeConfiguration<Server>
{
    public void Configure(EntityTypeBuilder<Server> b)
    {
        b.ToTable("Servers");
        b.HasKey(s => s.Id);
        b.Property(s => s.Id).ValueGeneratedNever();
        b.Property(s => s.Name).HasMaxLength(255).IsRequired();
        b.Property(s => s.ProjectId).HasMaxLength(64).IsRequired();
        b.Property(s => s.UserId).HasMaxLength(64).IsRequired();
        b.Property(s => s.Description).HasMaxLength(255);
        b.Property(s => s.Host).HasMaxLength(255);
        b.Property(s => s.Node).HasMaxLength(255);
        b.Property(s => s.AvailabilityZone).HasMaxLength(255).IsRequired();
        b.Property(s => s.LockedReason).HasMaxLength(255);
        b.Property(s => s.LockedBy).HasMaxLength(8);
        b.Property(s => s.VmState).HasMaxLength(32)
            .HasConversion(v => v.ToNovaName(), s => NovaStateNames.ParseVmState(s));
        b.Property(s => s.TaskState).HasMaxLength(64)
            .HasConversion(v => v!.Value.ToNovaName(), s => NovaStateNames.ParseTaskState(s));
        b.Property(s => s.PowerState).HasConversion<int>();
        b.Property(s => s.PreviousHost).HasMaxLength(255);
        b.Property(s => s.PreviousNode).HasMaxLength(255);

        MapJson(b.Property(s => s.Flavor)).IsRequired();
        MapJson(b.Property(s => s.OldFlavor));
        MapJson(b.Property(s => s.NewFlavor));
        MapJson(b.Property(s => s.Fault));
        b.Property(s => s.ImageId).HasMaxLength(64);
        MapJson(b.Property(s => s.Metadata)).IsRequired(); // the ServerLifecycle migrations fill existing rows with "{}"
        MapJson(b.Property(s => s.RequestedNetworks));
        b.Property(s => s.KeyName).HasMaxLength(255);
        b.Property(s => s.AccessIPv4).HasMaxLength(45);
        b.Property(s => s.AccessIPv6).HasMaxLength(45);
        MapJson(b.Property(s => s.SchedulerHints));
        MapJson(b.Property(s => s.Tags)).IsRequired();
        b.Property(s => s.ReservationId).HasMaxLength(16);
        b.HasIndex(s => s.ReservationId);
        MapJson(b.Property(s => s.Addresses)).IsRequired(); // the ComputeApiExtensions migrations fill existing rows with "[]"

        // Nova's soft delete: a deleted server keeps its row (instance actions and migrations point
        // at it) but no query sees it unless it asks for deleted rows explicitly.
        b.HasQueryFilter(s => s.VmState != VmState.Deleted);

        b.Ignore(s => s.Status);
        b.Property<int>(XenMigrateDbContext.ConcurrencyVersion).IsConcurrencyToken();

        b.HasIndex(s => s.ProjectId);
        b.HasIndex(s => s.Host);
        b.HasIndex(s => new { s.CreatedAt, s.Id });
    }

    private static PropertyBuilder<T> MapJson<T>(PropertyBuilder<T> property) =>
        property.HasConversion(JsonColumn.Converter<T>(), JsonColumn.Comparer<T>());
}

internal sealed class FlavorConfiguration : IEntityTypeConfiguration<Flavor>
{
    public void Configure(EntityTypeBuilder<Flavor> b)
    {
        b.ToTable("Flavors");
        b.HasKey(f => f.InternalId);
        b.Property(f => f.InternalId).ValueGeneratedOnAdd();
        b.Property(f => f.FlavorId).HasMaxLength(255).IsRequired();
        b.HasIndex(f => f.FlavorId).IsUnique();
        b.Property(f => f.Name).HasMaxLength(255).IsRequired();
        b.HasIndex(f => f.Name).IsUnique();
        b.Property(f => f.Description).HasMaxLength(65535);
        b.Property(f => f.ExtraSpecs)
            .HasField("_extraSpecs")
            .UsePropertyAccessMode(PropertyAccessMode.Field)
            .HasConversion(JsonColumn.Converter<IReadOnlyDictionary<string, string>>(),
                JsonColumn.Comparer<IReadOnlyDictionary<string, string>>())
            .IsRequired();
        b.OwnsMany(f => f.Access, a =>
        {
            a.ToTable("FlavorProjects");
            a.WithOwner().HasForeignKey("FlavorInternalId");
            a.Property(x => x.ProjectId).HasMaxLength(64);
            a.HasKey("FlavorInternalId", nameof(FlavorAccess.ProjectId));
        });
        b.Navigation(f => f.Access).HasField("_access").UsePropertyAccessMode(PropertyAccessMode.Field);
    }
}
