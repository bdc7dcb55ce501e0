namespace XenMigrate.Domain.Flavors;

/// <summary>
/// The flavor a server runs with, copied onto the server, so it keeps reporting it after the
/// flavor itself is deleted (Nova stores the same copy in instance_extra).
/// </summary>
public sealed record FlavorSnapshot(
    int FlavorInternalId,
    string FlavorId,
    string Name,
    int MemoryMb,
    int Vcpus,
    int RootGb,
    int EphemeralGb,
    int SwapMb,
    IReadOnlyDictionary<string, string> ExtraSpecs)
{
    public bool Equals(FlavorSnapshot? other) =>
        other is not null
        && FlavorInternalId == other.FlavorInternalId
        && FlavorId == other.FlavorId
        && Name == other.Name
        && MemoryMb == other.MemoryMb
        && Vcpus == other.Vcpus
        && RootGb == other.RootGb
        && EphemeralGb == other.EphemeralGb
        && SwapMb == other.SwapMb
        && ExtraSpecs.Count == other.ExtraSpecs.Count
        && ExtraSpecs.All(p => other.ExtraSpecs.TryGetValue(p.Key, out var v) && v == p.Value);

    public override int GetHashCode() => HashCode.Combine(FlavorInternalId, FlavorId, MemoryMb, Vcpus, RootGb);
}
