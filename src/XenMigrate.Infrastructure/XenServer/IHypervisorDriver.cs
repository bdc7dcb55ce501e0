using XenMigrate.Infrastructure.Transfer;

namespace XenMigrate.Infrastructure.XenServer;

/// <summary>
/// Everything the workflows ask of a hypervisor, in the spirit of Nova's <c>virt/driver.py</c>
/// <c>ComputeDriver</c>: find a server's VM, power it, snapshot and copy its disks, build a VM
/// like another one, move it live, destroy it. Hosts are Nova compute host names (pool members
/// or standalone hosts); objects are named by uuid. The XAPI implementation
/// (<see cref="XapiDriver"/>) holds every XAPI method name, record and HTTP handler; callers never
/// see them. Every call is idempotent where a workflow step may run twice: what an earlier run
/// made is found by its tag instead of being made again.
/// </summary>
public interface IHypervisorDriver
{
    // ---- finding things --------------------------------------------------------------------

    /// <summary>The guest VM that carries this server's id on that host's pool (never a snapshot or a migration's copy).</summary>
    Task<GuestVm?> FindServerVmAsync(string host, Guid serverId, CancellationToken ct);

    Task<GuestVm?> FindVmAsync(string host, string vmUuid, CancellationToken ct);

    /// <summary>
    /// How a VM on <paramref name="source"/> would move to <paramref name="destination"/>, checked
    /// before anything moves: the path (shared storage, a copy inside the pool, a copy across
    /// pools), its disks, the destination's networks for its VIFs. Throws
    /// <see cref="UnmovableVmException"/> for what cannot move (an unmappable network, a vGPU,
    /// PCI or USB passthrough).
    /// </summary>
    Task<MovePlan> PlanMoveAsync(string source, string destination, string vmUuid, bool live, CancellationToken ct);

    /// <summary>
    /// What the server's VM alone tells about moving it, asked before a move is accepted: throws
    /// <see cref="UnmovableVmException"/> for a vGPU, a PCI or USB device passed through.
    /// </summary>
    Task AssertMovableAsync(string host, Guid serverId, CancellationToken ct);

    /// <summary>The host's address (Nova's migration dest_host).</summary>
    Task<string> AddressAsync(string host, CancellationToken ct);

    /// <summary>Names the server's VMs on that host's pool (both copies of an open resize within one pool) as the server is named.</summary>
    Task RenameServerAsync(string host, Guid serverId, string name, CancellationToken ct);

    /// <summary>
    /// Of these hosts, those whose pool has every one of these networks (by uuid): where a build
    /// asking for them may go. Each pool's networks are read once; a host that does not answer is
    /// left out, and <c>Answered</c> says whether any did.
    /// </summary>
    Task<(IReadOnlySet<string> Hosts, bool Answered)> HostsWithNetworksAsync(IEnumerable<string> hosts, IReadOnlyList<string> networkIds, CancellationToken ct);

    /// <summary>The VM's interfaces with the addresses its guest reports (Nova's network info), read live.</summary>
    Task<IReadOnlyList<Domain.Servers.ServerAddress>> AddressesAsync(string host, string vmUuid, CancellationToken ct);

    /// <summary>Memory, CPUs and storage of one host, read live.</summary>
    Task<HostUsage> UsageAsync(string host, CancellationToken ct);

    /// <summary>A VM's state, size, devices and start time (Nova's server diagnostics).</summary>
    Task<VmDiagnostics> DiagnosticsAsync(string host, string vmUuid, CancellationToken ct);

    // ---- power -----------------------------------------------------------------------------

    /// <summary>Starts (or resumes) the VM on exactly this host.</summary>
    Task StartAsync(string host, string vmUuid, bool paused, CancellationToken ct);

    /// <summary>Halts the VM: a clean shutdown first when it runs, then a hard one if the guest does not stop in time.</summary>
    Task ShutDownAsync(string host, string vmUuid, Action<string>? cleanFailed, CancellationToken ct);

    /// <summary>
    /// Reboots the VM. Soft: a clean reboot by the guest, reset (hard reboot) if it cannot or does not
    /// in time. Hard: reset a running or paused VM; a suspended one is powered off and started, a
    /// halted one started, so it ends running a fresh boot on its host either way.
    /// </summary>
    Task RebootAsync(string host, string vmUuid, bool hard, Action<string>? cleanFailed, CancellationToken ct);

    Task PauseAsync(string host, string vmUuid, CancellationToken ct);

    Task UnpauseAsync(string host, string vmUuid, CancellationToken ct);

    Task SuspendAsync(string host, string vmUuid, CancellationToken ct);

    /// <summary>Keeps a halted VM from being started by anyone (and lifts that again).</summary>
    Task BlockStartAsync(string host, string vmUuid, string reason, CancellationToken ct);

    Task UnblockStartAsync(string host, string vmUuid, CancellationToken ct);

    // ---- disks -----------------------------------------------------------------------------

    /// <summary>The VM's snapshot tagged for this move, taken now if none exists (found again by tag or name after a crash).</summary>
    Task<VmSnapshot> SnapshotAsync(string host, string vmUuid, string tag, CancellationToken ct);

    /// <summary>The VM's disks (not CDs), by userdevice.</summary>
    Task<IReadOnlyList<VmDisk>> DisksAsync(string host, string vmUuid, CancellationToken ct);

    /// <summary>A new disk on the host's target SR, tagged; one with the same tags is found instead of made twice.</summary>
    Task<string> CreateDiskAsync(string host, DiskRequest request, CancellationToken ct);

    /// <summary>
    /// Whether a disk takes a copy as a delta over an earlier one: false where the SR must have
    /// every byte written (thick LVM not upgraded to LVHD), so the copy is whole, at the cut-over.
    /// </summary>
    Task<bool> TakesDeltasAsync(string host, string vdiUuid, CancellationToken ct);

    /// <summary>An instant copy-on-write copy of a disk on its own (shared) SR, tagged like <see cref="CreateDiskAsync"/>.</summary>
    Task<string> CloneDiskAsync(string host, string vdiUuid, DiskRequest request, CancellationToken ct);

    /// <summary>Grows a disk (never shrinks it); retried while its last transfer's dom0 attachment lingers.</summary>
    Task GrowDiskAsync(string host, string vdiUuid, long bytes, CancellationToken ct);

    /// <summary>
    /// Streams a disk (or, with <paramref name="baseVdiUuid"/>, only what changed since that
    /// snapshot) into a disk on another host, straight from the host that holds it to the one that
    /// will (never through the gateway's disk, nor whole in its memory).
    /// </summary>
    Task<TransferResult> CopyDiskAsync(string sourceHost, string vdiUuid, string? baseVdiUuid, string destinationHost, string destinationVdiUuid,
        IProgress<TransferProgress>? progress, CancellationToken ct);

    Task DestroyDiskAsync(string host, string? vdiUuid, CancellationToken ct);

    // ---- VMs -------------------------------------------------------------------------------

    /// <summary>
    /// On <paramref name="destination"/>, a VM like the source one — its boot settings, platform,
    /// BIOS strings, NVRAM, vTPM contents, VIFs (same MACs) on the mapped networks, CD drives (the
    /// same ISO where the destination sees it, empty otherwise) — with the new size and the given
    /// disks, tagged for the move and placed on that host. A half-built one with the same tag is
    /// taken down first.
    /// </summary>
    Task<string> CreateVmLikeAsync(string destination, string source, string sourceVmUuid, VmCopySpec spec, CancellationToken ct);

    /// <summary>Hard-stops and destroys a VM and, optionally, the disks behind it; absent is fine.</summary>
    Task DestroyVmAsync(string host, string? vmUuid, bool withDisks, CancellationToken ct);

    /// <summary>Snapshots, VMs and disks tagged for a move (or named for it), on that host's pool.</summary>
    Task DestroyMoveArtifactsAsync(string host, string tag, bool snapshotsOnly, CancellationToken ct);

    /// <summary>Removes the move's tag from the VM it made (once the move is confirmed).</summary>
    Task ClearMoveTagAsync(string host, string vmUuid, CancellationToken ct);

    // ---- live migration --------------------------------------------------------------------

    /// <summary>Checks with XenServer that the live move can happen, then starts it; returns its handle.</summary>
    Task<LiveMove> StartLiveMigrationAsync(string source, string destination, string vmUuid, CancellationToken ct);

    /// <summary>A live move already under way for this VM on the source (a worker died after starting it), if any.</summary>
    Task<string?> RunningLiveMigrationAsync(string source, string vmUuid, CancellationToken ct);

    /// <summary>
    /// Where a live move stands: running (with XenServer's progress), succeeded (only by the task's
    /// result, or — the task lost — by the VM running on the destination and gone from the
    /// source), failed or cancelled (the VM as the source has it).
    /// </summary>
    Task<LiveMoveStatus> LiveMigrationStatusAsync(string source, string destination, string vmUuid, string? taskRef, CancellationToken ct);

    Task CancelLiveMigrationAsync(string source, string taskRef, CancellationToken ct);

    /// <summary>Watches the VM's power on both sides while a live move runs, measuring the blackout itself (xapi reports none).</summary>
    IDowntimeWatch WatchDowntime(string source, string destination, string vmUuid);

    // ---- servers ---------------------------------------------------------------------------

    /// <summary>
    /// Builds a server's VM from a template on a host, one idempotent stage per call (clone, tag,
    /// size, provision or grow its disk, make it a VM); returns the VM once it can be started.
    /// </summary>
    Task<GuestVm> BuildAsync(string host, BuildSpec spec, CancellationToken ct);

    /// <summary>Every VM, snapshot and disk of a server (and of a move of it) on that host's pool.</summary>
    Task DestroyServerAsync(string host, Guid serverId, string? moveTag, CancellationToken ct);
}

/// <summary>XenServer refuses such a move, or it cannot move at all: why, in XAPI's code and a human cause.</summary>
public sealed class UnmovableVmException(string code, string reason) : Exception(reason)
{
    public string Code { get; } = code;
}

/// <summary>Measures a live move's blackout from the VM's power states as XenServer reports them.</summary>
public interface IDowntimeWatch : IAsyncDisposable
{
    /// <summary>The time the VM ran on neither host, once seen; null when XenServer never showed a gap (a pool migration).</summary>
    TimeSpan? Downtime { get; }
}
