namespace XenMigrate.Infrastructure.Identity;

/// <summary>
/// Keystone's revocation event by audit id: a token revoked with <c>DELETE /v3/auth/tokens</c>
/// stays refused by every process sharing the database. Kept until the token would have expired
/// anyway, then purged.
/// </summary>
public sealed class RevokedToken
{
    public string AuditId { get; set; } = string.Empty;
    public DateTime ExpiresAt { get; set; }
    public DateTime RevokedAt { get; set; }
}
