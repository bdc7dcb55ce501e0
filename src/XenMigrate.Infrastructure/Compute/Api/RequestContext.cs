using XenMigrate.Domain.Common;
using XenMigrate.Domain.Identity;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// Who asks, with which roles, under which request id: what Nova's RequestContext carries into
/// compute/api.py, and what every compute use case, instance action and notification records.
/// </summary>
public sealed record RequestContext(string UserId, string ProjectId, IReadOnlyList<string> Roles, string RequestId)
{
    public bool IsAdmin => Roles.Contains(Domain.Identity.Roles.Admin);

    /// <summary>XenMigrate acting on a user's behalf (an auto-confirm, a drain): admin, in that user's name.</summary>
    public static RequestContext ActingFor(string userId, string projectId, string requestId) =>
        new(userId, projectId, [Domain.Identity.Roles.Admin], requestId);

    /// <summary>Checks one of Nova's default policy rules: Nova's 403 when it does not allow the request.</summary>
    public void Authorize(NovaPolicy.Rule rule, string? targetProjectId = null)
    {
        if (!Can(rule, targetProjectId)) throw new PolicyNotAuthorizedException(rule.Name);
    }

    public bool Can(NovaPolicy.Rule rule, string? targetProjectId = null) => NovaPolicy.Allows(rule, this, targetProjectId);
}

/// <summary>Nova's PolicyNotAuthorized (403).</summary>
public sealed class PolicyNotAuthorizedException(string rule)
    : DomainException($"Policy doesn't allow {rule} to be performed.", FaultKind.Forbidden);
