namespace XenMigrate.Domain.InstanceActions;

/// <summary>
/// The action names a server's instance actions carry, as nova/compute/instance_actions.py spells
/// them (what `openstack server event list` shows in its Action column).
/// </summary>
public static class InstanceActionNames
{
    public const string Create = "create";
    public const string Delete = "delete";
    public const string Resize = "resize";
    public const string Migrate = "migrate";
    public const string ConfirmResize = "confirmResize";
    public const string RevertResize = "revertResize";
    public const string LiveMigration = "live-migration";
    public const string LiveMigrationCancel = "live_migration_cancel";
    public const string LiveMigrationForceComplete = "live_migration_force_complete";
    public const string Stop = "stop";
    public const string Reboot = "reboot";
    public const string Start = "start";
    public const string Pause = "pause";
    public const string Unpause = "unpause";
    public const string Suspend = "suspend";
    public const string Resume = "resume";
    public const string Lock = "lock";
    public const string Unlock = "unlock";
}
