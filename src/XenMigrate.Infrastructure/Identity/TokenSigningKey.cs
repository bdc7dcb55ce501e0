namespace XenMigrate.Infrastructure.Identity;

/// <summary>The one row holding the token key when none is configured (shared by all processes).</summary>
public sealed class TokenSigningKey
{
    public const int SingletonId = 1;

    public int Id { get; set; } = SingletonId;
    public byte[] Key { get; set; } = [];
    public DateTime CreatedAt { get; set; }
}
