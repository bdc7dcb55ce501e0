using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Hosts;

/// <summary>No host can take the server (Nova's NoValidHost): a move or build gives up at once, with this as its fault.</summary>
public sealed class NoValidHostException(string message) : DomainException(message);
