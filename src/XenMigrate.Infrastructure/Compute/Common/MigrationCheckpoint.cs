
namespace XenMigrate.Infrastructure.Compute.Common;

/// <summary>
/// What the workflow has made on the hosts for one migration so far (XAPI refs and uuids), saved
/// after every step so a re-run, a restart or a rollback knows exactly what exists. Every object
/// is also tagged on the host with the migration uuid, so a step that died between creating an
/// object and saving this row finds it again instead of creating a twin.
/// </summary>
public sealed class MigrationCheckpoint
{
    public int MigrationId { get; set; }

    /// <summary>The request id of the call that started the move (resize, migrate, os-migrateLive): its instance action gets the step events.</summary>
    public string? StartRequestId { get; set; }

    /// <summary>The request id of the confirm or revert call.</summary>
    public string? ConfirmOrRevertRequestId { get; set; }

    /// <summary>A destination named by an admin (migrate with host, 2.56).</summary>
    public string? RequestedHost { get; set; }

    /// <summary>Source VM uuid (found by the server id in its other_config at prep).</summary>
    public string? SourceVmUuid { get; set; }

    /// <summary>Power state of the source VM when the migration started (Running, Paused or Halted).</summary>
    public string? SourcePowerState { get; set; }

    /// <summary>
    /// How the disks travel between this pair of hosts (<see cref="XenServer.MovePath"/>), chosen at
    /// prep: a copy (snapshot, base, delta), or on a shared SR a copy-on-write clone at the cut-over.
    /// </summary>
    public string? MovePath { get; set; }

    public string? SnapshotVmUuid { get; set; }

    public string? DestinationVmUuid { get; set; }

    /// <summary>Per disk: userdevice, source VDI, its snapshot VDI, the destination VDI (uuids).</summary>
    public List<DiskCheckpoint> Disks { get; set; } = [];

    /// <summary>When the source VM was halted for the cut-over (downtime starts).</summary>
    public DateTime? SourceHaltedAt { get; set; }

    /// <summary>
    /// Set (to its cause) when a rollback begins, before it touches a host: a rollback cut short
    /// (a host still down) is resumed as a rollback, not by retrying the step that failed.
    /// </summary>
    public string? RollbackReason { get; set; }

    /// <summary>
    /// Live migration: the source's <c>Async.VM.migrate_send</c> task. A run that died before saving
    /// it finds it again in the VM's current_operations.
    /// </summary>
    public string? XapiTaskRef { get; set; }

    /// <summary>Live migration: when an abort was asked for; the worker cancels the XAPI task.</summary>
    public DateTime? AbortRequestedAt { get; set; }

    public DateTime UpdatedAt { get; set; }
}

public sealed class DiskCheckpoint
{
    public string Userdevice { get; set; } = "0";
    public bool Bootable { get; set; }
    public string SourceVdiUuid { get; set; } = string.Empty;
    public string NameLabel { get; set; } = string.Empty;
    public string? SnapshotVdiUuid { get; set; }
    public string? DestinationVdiUuid { get; set; }
    public long VirtualSize { get; set; }

    /// <summary>A disk that cannot give a differencing export (raw, qcow2): copied whole once the VM is down.</summary>
    public bool WholeAtCutOver { get; set; }

    public bool BaseCopied { get; set; }
    public bool DeltaCopied { get; set; }
}
