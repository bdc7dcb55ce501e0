namespace XenMigrate.Domain.Flavors;

/// <summary>Nova's classic default flavors, seeded into a new deployment.</summary>
public static class StandardFlavors
{
    public static IReadOnlyList<Flavor> Create() =>
    [
        new Flavor("1", "m1.tiny", memoryMb: 512, vcpus: 1, rootGb: 1),
        new Flavor("2", "m1.small", memoryMb: 2048, vcpus: 1, rootGb: 20),
        new Flavor("3", "m1.medium", memoryMb: 4096, vcpus: 2, rootGb: 40),
        new Flavor("4", "m1.large", memoryMb: 8192, vcpus: 4, rootGb: 80),
        new Flavor("5", "m1.xlarge", memoryMb: 16384, vcpus: 8, rootGb: 160),
    ];
}
