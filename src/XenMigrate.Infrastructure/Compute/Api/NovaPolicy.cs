using XenMigrate.Domain.Identity;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>Nova's default policies (nova/policies/*.py) for the routes the gateway serves.</summary>
public static class NovaPolicy
{
    public enum Check
    {
        Admin,
        ReaderOrAdmin,
        MemberOrAdmin,
        ManagerOrAdmin,
        Anyone,
    }

    public sealed record Rule(string Name, Check Check);

    public static readonly Rule ServersIndex = new("os_compute_api:servers:index", Check.ReaderOrAdmin);
    public static readonly Rule ServersIndexAllTenants = new("os_compute_api:servers:index:get_all_tenants", Check.Admin);
    public static readonly Rule ServersDetail = new("os_compute_api:servers:detail", Check.ReaderOrAdmin);
    public static readonly Rule ServersDetailAllTenants = new("os_compute_api:servers:detail:get_all_tenants", Check.Admin);
    public static readonly Rule ServersShow = new("os_compute_api:servers:show", Check.ReaderOrAdmin);
    public static readonly Rule IpsIndex = new("os_compute_api:ips:index", Check.ReaderOrAdmin);
    public static readonly Rule IpsShow = new("os_compute_api:ips:show", Check.ReaderOrAdmin);
    public static readonly Rule ServersShowHostStatus = new("os_compute_api:servers:show:host_status", Check.Admin);
    public static readonly Rule ExtendedServerAttributes = new("os_compute_api:os-extended-server-attributes", Check.Admin);
    public static readonly Rule ServersResize = new("os_compute_api:servers:resize", Check.MemberOrAdmin);
    public static readonly Rule ServersConfirmResize = new("os_compute_api:servers:confirm_resize", Check.MemberOrAdmin);
    public static readonly Rule ServersRevertResize = new("os_compute_api:servers:revert_resize", Check.MemberOrAdmin);
    public static readonly Rule Migrate = new("os_compute_api:os-migrate-server:migrate", Check.Admin);
    public static readonly Rule MigrateHost = new("os_compute_api:os-migrate-server:migrate:host", Check.Admin);
    public static readonly Rule MigrateLive = new("os_compute_api:os-migrate-server:migrate_live", Check.Admin);
    public static readonly Rule ServerMigrationsDelete = new("os_compute_api:servers:migrations:delete", Check.Admin);
    public static readonly Rule ServerMigrationsForceComplete = new("os_compute_api:servers:migrations:force_complete", Check.Admin);
    public static readonly Rule MigrationsIndex = new("os_compute_api:os-migrations:index", Check.Admin);
    public static readonly Rule ServerMigrationsIndex = new("os_compute_api:servers:migrations:index", Check.Admin);
    public static readonly Rule ServerMigrationsShow = new("os_compute_api:servers:migrations:show", Check.Admin);
    public static readonly Rule InstanceActionsList = new("os_compute_api:os-instance-actions:list", Check.ReaderOrAdmin);
    public static readonly Rule InstanceActionsShow = new("os_compute_api:os-instance-actions:show", Check.ReaderOrAdmin);
    public static readonly Rule InstanceActionEvents = new("os_compute_api:os-instance-actions:events", Check.Admin);
    public static readonly Rule FlavorExtraSpecsIndex = new("os_compute_api:os-flavor-extra-specs:index", Check.ReaderOrAdmin);
    public static readonly Rule AvailabilityZoneList = new("os_compute_api:os-availability-zone:list", Check.Anyone);
    public static readonly Rule AvailabilityZoneDetail = new("os_compute_api:os-availability-zone:detail", Check.Admin);
    public static readonly Rule SimpleTenantUsageList = new("os_compute_api:os-simple-tenant-usage:list", Check.Admin);
    public static readonly Rule SimpleTenantUsageShow = new("os_compute_api:os-simple-tenant-usage:show", Check.ReaderOrAdmin);
    public static readonly Rule ServicesList = new("os_compute_api:os-services:list", Check.Admin);
    public static readonly Rule AggregatesIndex = new("os_compute_api:os-aggregates:index", Check.Admin);
    public static readonly Rule AggregatesShow = new("os_compute_api:os-aggregates:show", Check.Admin);
    public static readonly Rule ServicesUpdate = new("os_compute_api:os-services:update", Check.Admin);
    public static readonly Rule HypervisorsList = new("os_compute_api:os-hypervisors:list", Check.Admin);
    public static readonly Rule HypervisorsListDetail = new("os_compute_api:os-hypervisors:list-detail", Check.Admin);
    public static readonly Rule HypervisorsShow = new("os_compute_api:os-hypervisors:show", Check.Admin);
    public static readonly Rule HypervisorsUptime = new("os_compute_api:os-hypervisors:uptime", Check.Admin);
    public static readonly Rule HypervisorsSearch = new("os_compute_api:os-hypervisors:search", Check.Admin);
    public static readonly Rule HypervisorsServers = new("os_compute_api:os-hypervisors:servers", Check.Admin);
    public static readonly Rule HostsList = new("os_compute_api:os-hosts:list", Check.Admin);
    public static readonly Rule HostsShow = new("os_compute_api:os-hosts:show", Check.Admin);
    public static readonly Rule HostsUpdate = new("os_compute_api:os-hosts:update", Check.Admin);
    public static readonly Rule ExtensionsList = new("os_compute_api:extensions", Check.Anyone);
    public static readonly Rule HypervisorsStatistics = new("os_compute_api:os-hypervisors:statistics", Check.Admin);
    public static readonly Rule ServersUpdate = new("os_compute_api:servers:update", Check.MemberOrAdmin);
    public static readonly Rule LockServer = new("os_compute_api:os-lock-server:lock", Check.MemberOrAdmin);
    public static readonly Rule UnlockServer = new("os_compute_api:os-lock-server:unlock", Check.MemberOrAdmin);
    public static readonly Rule UnlockOverride = new("os_compute_api:os-lock-server:unlock:override", Check.Admin);
    public static readonly Rule ServersCreate = new("os_compute_api:servers:create", Check.MemberOrAdmin);
    public static readonly Rule ServersDelete = new("os_compute_api:servers:delete", Check.MemberOrAdmin);
    public static readonly Rule QuotaSetsShow = new("os_compute_api:os-quota-sets:show", Check.ReaderOrAdmin);
    public static readonly Rule QuotaSetsDetail = new("os_compute_api:os-quota-sets:detail", Check.ReaderOrAdmin);
    public static readonly Rule QuotaSetsDefaults = new("os_compute_api:os-quota-sets:defaults", Check.Anyone);
    public static readonly Rule ServerExternalEventsCreate = new("os_compute_api:os-server-external-events:create", Check.Admin);
    public static readonly Rule InstanceUsageAuditLogList = new("os_compute_api:os-instance-usage-audit-log:list", Check.Admin);
    public static readonly Rule InstanceUsageAuditLogShow = new("os_compute_api:os-instance-usage-audit-log:show", Check.Admin);
    public static readonly Rule ServerDiagnostics = new("os_compute_api:os-server-diagnostics", Check.Admin);
    public static readonly Rule QuotaClassSetsShow = new("os_compute_api:os-quota-class-sets:show", Check.Admin);
    public static readonly Rule QuotaClassSetsUpdate = new("os_compute_api:os-quota-class-sets:update", Check.Admin);
    public static readonly Rule QuotaSetsUpdate = new("os_compute_api:os-quota-sets:update", Check.Admin);
    public static readonly Rule Limits = new("os_compute_api:limits", Check.Anyone);
    public static readonly Rule LimitsOtherProject = new("os_compute_api:limits:other_project", Check.Admin);
    public static readonly Rule ServersReboot = new("os_compute_api:servers:reboot", Check.MemberOrAdmin);
    public static readonly Rule ServersStop = new("os_compute_api:servers:stop", Check.MemberOrAdmin);
    public static readonly Rule ServersStart = new("os_compute_api:servers:start", Check.MemberOrAdmin);
    public static readonly Rule PauseServer = new("os_compute_api:os-pause-server:pause", Check.MemberOrAdmin);
    public static readonly Rule UnpauseServer = new("os_compute_api:os-pause-server:unpause", Check.MemberOrAdmin);
    public static readonly Rule SuspendServer = new("os_compute_api:os-suspend-server:suspend", Check.MemberOrAdmin);
    public static readonly Rule ResumeServer = new("os_compute_api:os-suspend-server:resume", Check.MemberOrAdmin);
    public static readonly Rule ServerGroupsIndex = new("os_compute_api:os-server-groups:index", Check.ReaderOrAdmin);
    public static readonly Rule ServerGroupsIndexAllProjects = new("os_compute_api:os-server-groups:index:all_projects", Check.Admin);
    public static readonly Rule ServerGroupsShow = new("os_compute_api:os-server-groups:show", Check.ReaderOrAdmin);
    public static readonly Rule ServerGroupsCreate = new("os_compute_api:os-server-groups:create", Check.MemberOrAdmin);
    public static readonly Rule ServerGroupsDelete = new("os_compute_api:os-server-groups:delete", Check.MemberOrAdmin);
    public static readonly Rule ResetState = new("os_compute_api:os-admin-actions:reset_state", Check.Admin);
    public static readonly Rule RestoreServer = new("os_compute_api:os-deferred-delete:restore", Check.MemberOrAdmin);
    public static readonly Rule ForceDeleteServer = new("os_compute_api:os-deferred-delete:force", Check.MemberOrAdmin);
    public static readonly Rule ServerPasswordShow = new("os_compute_api:os-server-password:show", Check.ReaderOrAdmin);
    public static readonly Rule ServerPasswordClear = new("os_compute_api:os-server-password:clear", Check.MemberOrAdmin);
    public static readonly Rule ServerTagsIndex = new("os_compute_api:os-server-tags:index", Check.ReaderOrAdmin);
    public static readonly Rule ServerTagsShow = new("os_compute_api:os-server-tags:show", Check.ReaderOrAdmin);
    public static readonly Rule ServerTagsUpdate = new("os_compute_api:os-server-tags:update", Check.MemberOrAdmin);
    public static readonly Rule ServerTagsUpdateAll = new("os_compute_api:os-server-tags:update_all", Check.MemberOrAdmin);
    public static readonly Rule ServerTagsDelete = new("os_compute_api:os-server-tags:delete", Check.MemberOrAdmin);
    public static readonly Rule ServerTagsDeleteAll = new("os_compute_api:os-server-tags:delete_all", Check.MemberOrAdmin);
    public static readonly Rule FlavorAccessIndex = new("os_compute_api:os-flavor-access", Check.Admin);
    public static readonly Rule FlavorAccessAdd = new("os_compute_api:os-flavor-access:add_tenant_access", Check.Admin);
    public static readonly Rule FlavorAccessRemove = new("os_compute_api:os-flavor-access:remove_tenant_access", Check.Admin);
    public static readonly Rule FlavorCreate = new("os_compute_api:os-flavor-manage:create", Check.Admin);
    public static readonly Rule FlavorUpdate = new("os_compute_api:os-flavor-manage:update", Check.Admin);
    public static readonly Rule FlavorDelete = new("os_compute_api:os-flavor-manage:delete", Check.Admin);
    public static readonly Rule FlavorExtraSpecsCreate = new("os_compute_api:os-flavor-extra-specs:create", Check.Admin);
    public static readonly Rule FlavorExtraSpecsUpdate = new("os_compute_api:os-flavor-extra-specs:update", Check.Admin);
    public static readonly Rule FlavorExtraSpecsDelete = new("os_compute_api:os-flavor-extra-specs:delete", Check.Admin);

    public static bool Allows(Rule rule, RequestContext caller, string? targetProjectId)
    {
        if (caller.IsAdmin) return true;
        var project = targetProjectId ?? caller.ProjectId;
        var sameProject = project == caller.ProjectId;
        return rule.Check switch
        {
            Check.Admin => false,
            Check.ReaderOrAdmin => sameProject && caller.Roles.Contains(Roles.Reader),
            Check.MemberOrAdmin => sameProject && caller.Roles.Contains(Roles.Member),
            Check.ManagerOrAdmin => sameProject && caller.Roles.Contains("manager"),
            Check.Anyone => true,
            _ => false,
        };
    }
}
