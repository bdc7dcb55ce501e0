namespace XenMigrate.Domain.Servers;

/// <summary>The last failure recorded on a server, shown as Nova's <c>fault</c> while it is in ERROR.</summary>
public sealed record ServerFault(int Code, string Message, string? Details, DateTime CreatedAt);
