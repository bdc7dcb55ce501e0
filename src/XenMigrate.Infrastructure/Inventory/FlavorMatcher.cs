using XenMigrate.Domain.Flavors;

namespace XenMigrate.Infrastructure.Inventory;

/// <summary>
/// Finds the flavor a VM runs with from its size (memory, vCPUs, root disk), preferring public,
/// enabled flavors; a size no flavor has becomes a private custom flavor.
/// </summary>
public static class FlavorMatcher
{
    public const long MiB = 1024L * 1024;
    public const long GiB = 1024L * MiB;

    public static Flavor? Match(IEnumerable<Flavor> flavors, int memoryMb, int vcpus, int rootGb) =>
        flavors.Where(f => f.MemoryMb == memoryMb && f.Vcpus == vcpus && f.RootGb == rootGb)
            .OrderByDescending(f => f.IsPublic && !f.Disabled)
            .ThenBy(f => f.InternalId)
            .FirstOrDefault();

    public static Flavor Custom(int memoryMb, int vcpus, int rootGb) =>
        new($"xs-{memoryMb}-{vcpus}-{rootGb}", $"custom.{memoryMb}m.{vcpus}c.{rootGb}g", memoryMb, vcpus, rootGb,
            isPublic: false, description: "Recorded from a XenServer VM whose size matches no flavor.");

    /// <summary>Whole GiB, rounded up: a 20 GiB + 1 byte disk does not fit a 20 GB flavor.</summary>
    public static int CeilGiB(long bytes) => (int)((bytes + GiB - 1) / GiB);
}
