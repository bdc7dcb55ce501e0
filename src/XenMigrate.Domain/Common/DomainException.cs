namespace XenMigrate.Domain.Common;

/// <summary>
/// A rule of the model was broken. Each subclass names the invariant it protects and says, by its
/// <see cref="FaultKind"/>, which of Nova's faults a client gets for it (the API's one table).
/// </summary>
public abstract class DomainException(string message, FaultKind kind = FaultKind.Invalid) : Exception(message)
{
    public FaultKind Kind { get; } = kind;
}

/// <summary>The kinds of refusal Nova answers with, each one HTTP status.</summary>
public enum FaultKind
{
    /// <summary>What was asked cannot be done (400 badRequest).</summary>
    Invalid,

    /// <summary>Not in the state it takes (409 conflictingRequest).</summary>
    Conflict,

    /// <summary>No such thing for this caller (404 itemNotFound).</summary>
    NotFound,

    /// <summary>Allowed in general, not within this project's limits (403 forbidden, as Nova's quota faults).</summary>
    Forbidden,
}
