namespace XenMigrate.Domain.Servers;

/// <summary>
/// One of Nova's power actions (nova/compute/api.py stop, start, pause, unpause, suspend, resume):
/// the vm_states it may start from, the task_state it shows while it runs and where it leaves the
/// server. <see cref="Name"/> is Nova's action name, used in the 409 message and the instance action.
/// </summary>
public sealed record PowerAction(string Name, TaskState Task, VmState[] AllowedFrom, VmState Result, PowerState ResultPower, bool ChecksHost)
{
    // stop and start carry @check_instance_host(check_is_up=True); the others do not.
    public static readonly PowerAction Stop = new("stop", TaskState.PoweringOff, [VmState.Active, VmState.Error], VmState.Stopped, PowerState.Shutdown, true);
    public static readonly PowerAction Start = new("start", TaskState.PoweringOn, [VmState.Stopped], VmState.Active, PowerState.Running, true);
    public static readonly PowerAction Pause = new("pause", TaskState.Pausing, [VmState.Active], VmState.Paused, PowerState.Paused, false);
    public static readonly PowerAction Unpause = new("unpause", TaskState.Unpausing, [VmState.Paused], VmState.Active, PowerState.Running, false);
    public static readonly PowerAction Suspend = new("suspend", TaskState.Suspending, [VmState.Active], VmState.Suspended, PowerState.Suspended, false);
    public static readonly PowerAction Resume = new("resume", TaskState.Resuming, [VmState.Suspended], VmState.Active, PowerState.Running, false);

    public static IReadOnlyList<PowerAction> All { get; } = [Stop, Start, Pause, Unpause, Suspend, Resume];

    /// <summary>The action with this Nova name (as recorded on the instance action), or null.</summary>
    public static PowerAction? Named(string name) => All.FirstOrDefault(a => a.Name == name);

    /// <summary>The action a task_state belongs to, or null when it is no power action's.</summary>
    public static PowerAction? ForTask(TaskState? task) => All.FirstOrDefault(a => a.Task == task);
}
