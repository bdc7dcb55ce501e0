using XenMigrate.Domain.Flavors;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// Which flavors a caller finds, as Nova's flavor queries filter them for a non-admin context:
/// public ones and private ones shared with the caller's project (os-flavor-access). Every lookup
/// by id — show, extra specs, boot, resize — goes through this, so a private flavor is as missing
/// to another project as an unknown id.
/// </summary>
public static class FlavorVisibility
{
    public static IQueryable<Flavor> VisibleTo(this IQueryable<Flavor> flavors, RequestContext caller)
    {
        if (caller.IsAdmin) return flavors;
        var project = caller.ProjectId;
        return flavors.Where(f => f.IsPublic || f.Access.Any(a => a.ProjectId == project));
    }
}
