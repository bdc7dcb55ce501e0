namespace XenMigrate.Infrastructure.XenServer;

/// <summary>A VM's power state, as XenServer reports it.</summary>
public enum VmPower
{
    Halted,
    Running,
    Paused,
    Suspended,
    Unknown,
}

/// <summary>A guest VM as the driver found it.</summary>
/// <param name="ComputeHost">The member it runs on (resident_on) or, when it runs nowhere, the member it belongs to (affinity, else its disks' host).</param>
/// <param name="Managed">Whether XenMigrate may act on it (adopted, or made by XenMigrate).</param>
/// <param name="BusyWith">XenServer operations in progress on it (current_operations).</param>
public sealed record GuestVm(string Uuid, string NameLabel, VmPower Power, string? ComputeHost, long MemoryBytes, int Vcpus,
    IReadOnlyDictionary<string, string> OtherConfig, IReadOnlyList<string> Tags, bool Managed, IReadOnlyList<string> BusyWith);

/// <summary>One disk of a VM.</summary>
public sealed record VmDisk(string Userdevice, string VdiUuid, string SrUuid, long VirtualSize, bool Bootable, string NameLabel);

/// <summary>A snapshot a move took: its uuid and its disks (snapshot VDI uuid) by userdevice.</summary>
public sealed record VmSnapshot(string Uuid, IReadOnlyDictionary<string, string> DisksByUserdevice);

/// <summary>A disk to make (or find again) on a host: its tags say whose it is.</summary>
public sealed record DiskRequest(string NameLabel, string Description, long VirtualSize, IReadOnlyDictionary<string, string> Tags);

/// <summary>How a server moves between two hosts, chosen per pair (and checked) before anything moves.</summary>
public enum MovePath
{
    /// <summary>Same pool, every disk on an SR the destination sees: no disk byte moves.</summary>
    SharedStorage,

    /// <summary>Same pool, local disks: copied between members (cold), or Storage XenMotion inside the pool (live).</summary>
    WithinPool,

    /// <summary>Another pool or standalone host: snapshot, base and delta copies (cold), or cross-pool Storage XenMotion (live).</summary>
    AcrossPools,
}

/// <summary>What a move will do.</summary>
/// <param name="DiskBytes">The bytes a copy would move (the disks' virtual sizes; nothing on shared storage).</param>
public sealed record MovePlan(MovePath Path, IReadOnlyList<VmDisk> Disks, long DiskBytes, long MemoryBytes);

/// <summary>What a moved VM gets instead of the source's: its size, its disks, and the tag of the move.</summary>
/// <param name="Disks">Destination VDI uuid by userdevice.</param>
public sealed record VmCopySpec(int MemoryMb, int Vcpus, IReadOnlyDictionary<string, string> Disks, IReadOnlyDictionary<string, bool> Bootable, string MoveTag);

/// <summary>A live move under way: the XenServer task that carries it and how.</summary>
public sealed record LiveMove(string TaskRef, MovePath Path, long DiskBytes, long MemoryBytes);

public enum LiveMoveState
{
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>Where a live move stands.</summary>
/// <param name="Progress">XenServer's task progress, 0–1 (the only progress a real host gives).</param>
/// <param name="Power">On success, the VM's power state on the destination; otherwise on the source.</param>
/// <param name="Error">XAPI's error code and parameters when it failed.</param>
public sealed record LiveMoveStatus(LiveMoveState State, double Progress, VmPower Power, IReadOnlyList<string> Error);

/// <summary>One host's resources as Nova's os-hypervisors shows them.</summary>
/// <param name="DiskBytes">The host's target SR (where new disks go): the pool's default SR if it sees it, else its local SR.</param>
public sealed record HostUsage(string Host, bool Answered, string Address, string ProductVersion, IReadOnlyDictionary<string, string> CpuInfo,
    int Vcpus, int VcpusUsed, long MemoryBytes, long MemoryFreeBytes, long DiskBytes, long DiskUsedBytes, int RunningVms, DateTimeOffset? BootedAt = null)
{
    public static HostUsage Unreachable(string host) => new(host, false, string.Empty, string.Empty,
        new Dictionary<string, string>(), 0, 0, 0, 0, 0, 0, 0);
}

/// <summary>What a build makes: the server's identity, its size, and the template (image) it comes from.</summary>
public sealed record BuildSpec(Guid ServerId, string Name, string ProjectId, string UserId, Guid ImageId, int MemoryMb, int Vcpus, long RootBytes,
    Domain.Servers.RequestedNetworks Networks, string? PublicKey = null);

/// <summary>
/// What XAPI says of a running VM for Nova's diagnostics: its power state, when its domain started
/// (VM_metrics.start_time), vCPUs, memory (static max, and what the domain holds now), its VIFs'
/// MACs and its disks. Counters Nova's libvirt driver reads (CPU time, bytes per NIC and disk)
/// live in xcp-rrdd's RRDs, not the XAPI database, and are not reported.
/// </summary>
public sealed record VmDiagnostics(VmPower Power, DateTimeOffset? StartedAt, int Vcpus, long MemoryMaxBytes, long? MemoryActualBytes,
    IReadOnlyList<string> NicMacs, int Disks);
