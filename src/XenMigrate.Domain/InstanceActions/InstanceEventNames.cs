namespace XenMigrate.Domain.InstanceActions;

/// <summary>
/// The event names of an instance action's steps: Nova's compute manager records each step as
/// "compute_" + the wrapped method's name (@wrap_instance_event), the conductor as "conductor_" + its own.
/// </summary>
public static class InstanceEventNames
{
    public const string BuildAndRun = "compute__do_build_and_run_instance";
    public const string Terminate = "compute_terminate_instance";

    public const string PrepResize = "compute_prep_resize";
    public const string ResizeInstance = "compute_resize_instance";
    public const string FinishResize = "compute_finish_resize";
    public const string ConfirmResize = "compute_confirm_resize";
    public const string RevertResize = "compute_revert_resize";
    public const string FinishRevertResize = "compute_finish_revert_resize";

    public const string ConductorLiveMigrate = "conductor_live_migrate_instance";
    public const string CheckCanLiveMigrateDestination = "compute_check_can_live_migrate_destination";
    public const string LiveMigration = "compute_live_migration";
    public const string PostLiveMigrationAtDestination = "compute_post_live_migration_at_destination";
    public const string RollbackLiveMigration = "compute_rollback_live_migration";

    public const string StopInstance = "compute_stop_instance";
    public const string RebootInstance = "compute_reboot_instance";
    public const string StartInstance = "compute_start_instance";

    /// <summary>The event a power action's step records: compute_{action}_instance (stop and start as Nova names them too).</summary>
    public static string ForPowerAction(string action) => $"compute_{action}_instance";
}
