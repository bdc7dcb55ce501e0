namespace XenMigrate.Domain.Common;

/// <summary>A create or resize would take a project past one of its quota limits (Nova's 403 "Quota exceeded for …").</summary>
public sealed class QuotaExceededException(string message) : DomainException(message, FaultKind.Forbidden);
