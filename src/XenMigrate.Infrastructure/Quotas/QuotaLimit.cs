namespace XenMigrate.Infrastructure.Quotas;

/// <summary>A project's own limit for one resource (set by an admin); without a row the default applies.</summary>
public sealed class QuotaLimit
{
    public int Id { get; set; }
    public required string ProjectId { get; set; }
    public required string Resource { get; set; }
    public int HardLimit { get; set; }
}

/// <summary>
/// A quota class's limit for one resource (Nova's quota_classes). Only the class "default" is
/// read: its limits replace the configured defaults (Quota:*) for every project without its own.
/// </summary>
public sealed class QuotaClassLimit
{
    public const string DefaultClass = "default";

    public int Id { get; set; }
    public required string ClassName { get; set; }
    public required string Resource { get; set; }
    public int HardLimit { get; set; }
}
