namespace XenMigrate.Infrastructure.Quotas;

/// <summary>A project's own limit for one resource (set by an admin); without a row the default applies.</summary>
public sealed class QuotaLimit
{
    public int Id { get; set; }
    public required string ProjectId { get; set; }
    public required string Resource { get; set; }
    public int HardLimit { get; set; }
}
