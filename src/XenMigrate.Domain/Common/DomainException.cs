namespace XenMigrate.Domain.Common;

/// <summary>A rule of the model was broken. Each subclass names the invariant it protects.</summary>
public abstract class DomainException(string message) : Exception(message);
