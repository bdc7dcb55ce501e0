namespace XenMigrate.Domain.Servers;

/// <summary>
/// Nova's user-facing server status, derived from (vm_state, task_state) exactly as
/// nova/api/openstack/common.py <c>status_from_state</c> does: the task_state's entry for that
/// vm_state when there is one, else the vm_state's default; UNKNOWN for an unmapped vm_state.
/// </summary>
public static class ServerStatus
{
    public const string Unknown = "UNKNOWN";

    private static readonly TaskState[] Resizing =
        [TaskState.ResizePrep, TaskState.ResizeMigrating, TaskState.ResizeMigrated, TaskState.ResizeFinish];

    private static readonly TaskState[] Rebuilding =
        [TaskState.Rebuilding, TaskState.RebuildBlockDeviceMapping, TaskState.RebuildSpawning];

    private static readonly Dictionary<VmState, (string Default, Dictionary<TaskState, string> ByTask)> Map = new()
    {
        [VmState.Active] = ("ACTIVE", Overrides(
            ([TaskState.Rebooting, TaskState.RebootPending, TaskState.RebootStarted], "REBOOT"),
            ([TaskState.RebootingHard, TaskState.RebootPendingHard, TaskState.RebootStartedHard], "HARD_REBOOT"),
            ([TaskState.UpdatingPassword], "PASSWORD"),
            (Rebuilding, "REBUILD"),
            ([TaskState.Migrating], "MIGRATING"),
            (Resizing, "RESIZE"))),
        [VmState.Building] = ("BUILD", Overrides()),
        [VmState.Stopped] = ("SHUTOFF", Overrides((Resizing, "RESIZE"), (Rebuilding, "REBUILD"))),
        // Nova deliberately leaves resize_confirming unmapped: a confirming server still reads VERIFY_RESIZE.
        [VmState.Resized] = ("VERIFY_RESIZE", Overrides(([TaskState.ResizeReverting], "REVERT_RESIZE"))),
        [VmState.Paused] = ("PAUSED", Overrides(([TaskState.Migrating], "MIGRATING"))),
        [VmState.Suspended] = ("SUSPENDED", Overrides()),
        [VmState.Rescued] = ("RESCUE", Overrides()),
        [VmState.Error] = ("ERROR", Overrides((Rebuilding, "REBUILD"))),
        [VmState.Deleted] = ("DELETED", Overrides()),
        [VmState.SoftDeleted] = ("SOFT_DELETED", Overrides()),
        [VmState.Shelved] = ("SHELVED", Overrides()),
        [VmState.ShelvedOffloaded] = ("SHELVED_OFFLOADED", Overrides()),
    };

    /// <summary>Statuses under which Nova shows the <c>progress</c> field.</summary>
    private static readonly HashSet<string> StatusesWithProgress =
        ["ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"];

    /// <summary>Statuses under which Nova shows the <c>fault</c> field.</summary>
    private static readonly HashSet<string> StatusesWithFault = ["ERROR", "DELETED"];

    public static string From(VmState vmState, TaskState? taskState)
    {
        if (!Map.TryGetValue(vmState, out var entry))
        {
            return Unknown;
        }

        return taskState is { } task && entry.ByTask.TryGetValue(task, out var status) ? status : entry.Default;
    }

    public static bool ShowsProgress(string status) => StatusesWithProgress.Contains(status);

    public static bool ShowsFault(string status) => StatusesWithFault.Contains(status);

    private static Dictionary<TaskState, string> Overrides(params (TaskState[] Tasks, string Status)[] rows) =>
        rows.SelectMany(row => row.Tasks.Select(task => (task, row.Status)))
            .ToDictionary(p => p.task, p => p.Status);
}
