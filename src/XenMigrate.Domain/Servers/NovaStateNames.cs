namespace XenMigrate.Domain.Servers;

/// <summary>
/// The exact lowercase strings Nova uses for vm_state and task_state, both on the wire and in
/// storage, so a row can be read by anyone who knows Nova.
/// </summary>
public static class NovaStateNames
{
    private static readonly Dictionary<VmState, string> VmStateNames = new()
    {
        [VmState.Active] = "active",
        [VmState.Building] = "building",
        [VmState.Paused] = "paused",
        [VmState.Suspended] = "suspended",
        [VmState.Stopped] = "stopped",
        [VmState.Rescued] = "rescued",
        [VmState.Resized] = "resized",
        [VmState.SoftDeleted] = "soft-delete",
        [VmState.Deleted] = "deleted",
        [VmState.Error] = "error",
        [VmState.Shelved] = "shelved",
        [VmState.ShelvedOffloaded] = "shelved_offloaded",
    };

    private static readonly Dictionary<TaskState, string> TaskStateNames = new()
    {
        [TaskState.Scheduling] = "scheduling",
        [TaskState.Spawning] = "spawning",
        [TaskState.Networking] = "networking",
        [TaskState.BlockDeviceMapping] = "block_device_mapping",
        [TaskState.UpdatingPassword] = "updating_password",
        [TaskState.ResizePrep] = "resize_prep",
        [TaskState.ResizeMigrating] = "resize_migrating",
        [TaskState.ResizeMigrated] = "resize_migrated",
        [TaskState.ResizeFinish] = "resize_finish",
        [TaskState.ResizeReverting] = "resize_reverting",
        [TaskState.ResizeConfirming] = "resize_confirming",
        [TaskState.Rebooting] = "rebooting",
        [TaskState.RebootPending] = "reboot_pending",
        [TaskState.RebootStarted] = "reboot_started",
        [TaskState.RebootingHard] = "rebooting_hard",
        [TaskState.RebootPendingHard] = "reboot_pending_hard",
        [TaskState.RebootStartedHard] = "reboot_started_hard",
        [TaskState.Pausing] = "pausing",
        [TaskState.Unpausing] = "unpausing",
        [TaskState.Suspending] = "suspending",
        [TaskState.Resuming] = "resuming",
        [TaskState.PoweringOff] = "powering-off",
        [TaskState.PoweringOn] = "powering-on",
        [TaskState.Rescuing] = "rescuing",
        [TaskState.Unrescuing] = "unrescuing",
        [TaskState.Rebuilding] = "rebuilding",
        [TaskState.RebuildBlockDeviceMapping] = "rebuild_block_device_mapping",
        [TaskState.RebuildSpawning] = "rebuild_spawning",
        [TaskState.Migrating] = "migrating",
        [TaskState.Deleting] = "deleting",
        [TaskState.SoftDeleting] = "soft-deleting",
        [TaskState.Restoring] = "restoring",
        [TaskState.Shelving] = "shelving",
        [TaskState.ShelvingImagePendingUpload] = "shelving_image_pending_upload",
        [TaskState.ShelvingImageUploading] = "shelving_image_uploading",
        [TaskState.ShelvingOffloading] = "shelving_offloading",
        [TaskState.Unshelving] = "unshelving",
    };

    private static readonly Dictionary<string, VmState> VmStatesByName =
        VmStateNames.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    private static readonly Dictionary<string, TaskState> TaskStatesByName =
        TaskStateNames.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    public static string ToNovaName(this VmState state) => VmStateNames[state];

    public static string ToNovaName(this TaskState state) => TaskStateNames[state];

    public static VmState ParseVmState(string name) =>
        VmStatesByName.TryGetValue(name, out var state)
            ? state
            : throw new ArgumentException($"'{name}' is not a Nova vm_state.", nameof(name));

    public static TaskState ParseTaskState(string name) =>
        TaskStatesByName.TryGetValue(name, out var state)
            ? state
            : throw new ArgumentException($"'{name}' is not a Nova task_state.", nameof(name));
}
