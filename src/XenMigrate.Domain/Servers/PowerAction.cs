namespace XenMigrate.Domain.Servers;

/// <summary>
/// One of Nova's power actions (nova/compute/api.py stop, start, pause, unpause, suspend, resume,
/// reboot): the vm_states it may start from, the task_state it shows while it runs and where it
/// leaves the server. <see cref="Name"/> is Nova's action name, used in the 409 message and the
/// instance action; both reboots are "reboot", told apart by their task_state. An action that
/// <see cref="Restarts"/> the guest is carried out even when the VM is already in its result state.
/// </summary>
public sealed record PowerAction(string Name, TaskState Task, VmState[] AllowedFrom, VmState Result, PowerState ResultPower, bool ChecksHost,
    bool Restarts = false)
{
    // stop and start carry @check_instance_host(check_is_up=True); the others do not.
    public static readonly PowerAction Stop = new("stop", TaskState.PoweringOff, [VmState.Active, VmState.Error], VmState.Stopped, PowerState.Shutdown, true);
    public static readonly PowerAction Start = new("start", TaskState.PoweringOn, [VmState.Stopped], VmState.Active, PowerState.Running, true);
    public static readonly PowerAction Pause = new("pause", TaskState.Pausing, [VmState.Active], VmState.Paused, PowerState.Paused, false);
    public static readonly PowerAction Unpause = new("unpause", TaskState.Unpausing, [VmState.Paused], VmState.Active, PowerState.Running, false);
    public static readonly PowerAction Suspend = new("suspend", TaskState.Suspending, [VmState.Active], VmState.Suspended, PowerState.Suspended, false);
    public static readonly PowerAction Resume = new("resume", TaskState.Resuming, [VmState.Suspended], VmState.Active, PowerState.Running, false);

    // Nova's vm_states.ALLOW_SOFT_REBOOT and ALLOW_HARD_REBOOT; a hard reboot of a stopped, paused or
    // suspended server leaves it running a fresh boot.
    public static readonly PowerAction SoftReboot = new("reboot", TaskState.Rebooting, [VmState.Active], VmState.Active, PowerState.Running, true, Restarts: true);
    public static readonly PowerAction HardReboot = new("reboot", TaskState.RebootingHard,
        [VmState.Active, VmState.Stopped, VmState.Paused, VmState.Suspended, VmState.Error], VmState.Active, PowerState.Running, true, Restarts: true);

    public static IReadOnlyList<PowerAction> All { get; } = [Stop, Start, Pause, Unpause, Suspend, Resume, SoftReboot, HardReboot];

    /// <summary>The action with this Nova name (as recorded on the instance action) whose task the server shows, or null.</summary>
    public static PowerAction? Named(string name, TaskState? task) => All.FirstOrDefault(a => a.Name == name && a.Task == task);

    /// <summary>The action a task_state belongs to, or null when it is no power action's.</summary>
    public static PowerAction? ForTask(TaskState? task) => All.FirstOrDefault(a => a.Task == task);
}
