namespace XenMigrate.Domain.Servers;

/// <summary>Nova's vm_state: the stable state a server rests in between tasks.</summary>
public enum VmState
{
    Active,
    Building,
    Paused,
    Suspended,
    Stopped,
    Rescued,
    Resized,
    SoftDeleted,
    Deleted,
    Error,
    Shelved,
    ShelvedOffloaded,
}

/// <summary>Nova's task_state: what is being done to a server right now (null when idle).</summary>
public enum TaskState
{
    Scheduling,
    Spawning,
    Networking,
    BlockDeviceMapping,
    UpdatingPassword,
    ResizePrep,
    ResizeMigrating,
    ResizeMigrated,
    ResizeFinish,
    ResizeReverting,
    ResizeConfirming,
    Rebooting,
    RebootPending,
    RebootStarted,
    RebootingHard,
    RebootPendingHard,
    RebootStartedHard,
    Pausing,
    Unpausing,
    Suspending,
    Resuming,
    PoweringOff,
    PoweringOn,
    Rescuing,
    Unrescuing,
    Rebuilding,
    RebuildBlockDeviceMapping,
    RebuildSpawning,
    Migrating,
    Deleting,
    SoftDeleting,
    Restoring,
    Shelving,
    ShelvingImagePendingUpload,
    ShelvingImageUploading,
    ShelvingOffloading,
    Unshelving,
}

/// <summary>Nova's power_state, with Nova's integer codes.</summary>
public enum PowerState
{
    NoState = 0,
    Running = 1,
    Paused = 3,
    Shutdown = 4,
    Crashed = 6,
    Suspended = 7,
}
