namespace XenMigrate.XapiSimulator;

/// <summary>Which SR a pool names as its default (pool.default_SR): real pools may have none.</summary>
public enum DefaultStorage
{
    /// <summary>The master's local SR (what a fresh standalone install has).</summary>
    Local,

    /// <summary>The pool's shared SR.</summary>
    Shared,

    /// <summary>None: pool.default_SR is OpaqueRef:NULL and a caller must name an SR.</summary>
    None,
}

/// <summary>How to start a <see cref="SimulatedPool"/>: its members and its shared storage.</summary>
public sealed class SimulatedPoolOptions
{
    /// <summary>The pool's name_label ("" is what a standalone host's own pool has).</summary>
    public string Name { get; set; } = "sim-pool";

    /// <summary>The members, master first; each gets its own loopback address (all on one port, as real members share 443).</summary>
    public List<SimulatedHostOptions> Hosts { get; set; } = [];

    /// <summary>Size of the NFS-like SR every member sees; 0 for none.</summary>
    public long SharedStorageBytes { get; set; }

    public string SharedStorageName { get; set; } = "Shared storage";

    public DefaultStorage DefaultStorage { get; set; } = DefaultStorage.Local;

    /// <summary>
    /// The members' addresses (one per host, in order). Empty: loopback addresses picked at
    /// random in 127.0.0.0/8 (one port for all, found free on each).
    /// </summary>
    public List<System.Net.IPAddress> Addresses { get; set; } = [];

    /// <summary>Where the SRs keep their files; null uses a fresh temporary directory.</summary>
    public string? DataDirectory { get; set; }

    public bool DeleteDataOnDispose { get; set; } = true;
}
