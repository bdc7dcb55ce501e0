using Microsoft.Extensions.Logging;

namespace XenMigrate.XapiSimulator;

/// <summary>How to start a <see cref="SimulatedHost"/>.</summary>
public sealed class SimulatedHostOptions
{
    public const long GiB = 1024L * 1024 * 1024;

    /// <summary>Host name (name_label and hostname); the pool, SR and dom0 are named after it.</summary>
    public string Name { get; set; } = "xs-sim";

    /// <summary>Port to listen on; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>Address to listen on: loopback unless a lab in containers needs another (0.0.0.0).</summary>
    public System.Net.IPAddress ListenAddress { get; set; } = System.Net.IPAddress.Loopback;

    /// <summary>Where the SR keeps its disk files; null uses a fresh temporary directory.</summary>
    public string? DataDirectory { get; set; }

    public string Username { get; set; } = "root";

    public string Password { get; set; } = "password";

    /// <summary>Physical memory of the host.</summary>
    public long MemoryBytes { get; set; } = 16 * GiB;

    /// <summary>Memory held by the control domain (dom0).</summary>
    public long ControlDomainMemoryBytes { get; set; } = 1 * GiB;

    /// <summary>Physical size of the local SR.</summary>
    public long StorageBytes { get; set; } = 512 * GiB;

    /// <summary>
    /// Size of an extra local LVM SR in "legacy" mode (type lvm, no sm_config use_vhd): its VDIs
    /// are raw volumes and a VHD import into them fails as on a real host; 0 for none.
    /// </summary>
    public long LegacyLvmStorageBytes { get; set; }

    /// <summary>
    /// How long after a transfer ends its dom0 VBD stays plugged (VDI.destroy/resize answer
    /// VDI_IN_USE meanwhile), as the detach lags on real hosts. Zero detaches as the transfer ends.
    /// </summary>
    public TimeSpan Dom0DetachDelay { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>
    /// Port of the host's NBD server (xapi-nbd listens on 10809); 0 picks a free one, which
    /// VDI.get_nbd_info reports. It listens on the host's address, without TLS.
    /// </summary>
    public int NbdPort { get; set; }

    /// <summary>The product version reported in host.software_version (XenServer 8 by default).</summary>
    public string ProductVersion { get; set; } = "8.4.0";

    public string XapiVersion { get; set; } = "24.19";

    /// <summary>
    /// host.software_version's platform_version. Storage XenMotion refuses a destination whose
    /// platform version is older than the source's (VM_HOST_INCOMPATIBLE_VERSION_MIGRATE).
    /// </summary>
    public string PlatformVersion { get; set; } = "3.4.0";

    public int ApiVersionMajor { get; set; } = 2;

    public int ApiVersionMinor { get; set; } = 21;

    /// <summary>host.cpu_info's features (a hex bitmap as xapi shows it); a live migration needs the destination to have the VM's.</summary>
    public string CpuFeatures { get; set; } = "1fcbfbff-bfebfbff-00000029-2c100800-2993fbff-00000000-00000000-00000000";

    /// <summary>How long VM power operations take (start, shutdown, suspend…); zero for instant.</summary>
    public TimeSpan PowerOperationDuration { get; set; } = TimeSpan.Zero;

    /// <summary>Whether VMs created through XAPI run a guest agent (PV drivers) once started.</summary>
    public bool GuestAgentsByDefault { get; set; } = true;

    /// <summary>How fast a live migration copies the guest's memory (the simulated guest has none; only the time is spent).</summary>
    public long MemoryMigrationBytesPerSecond { get; set; } = 4 * GiB;

    /// <summary>Features the host's licence lacks (xapi's LICENCE_RESTRICTION [feature]); e.g. "Storage_motion".</summary>
    public List<string> LicenceRestrictions { get; set; } = [];

    /// <summary>
    /// How long checking a login's password takes (xapi's PAM call); logins hold one of the host's
    /// authentication slots meanwhile (xapi_session.ml throttle_auth_internal). Zero for instant.
    /// </summary>
    public TimeSpan LoginLatency { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How many logins the host authenticates at once; null follows the pool's
    /// local_auth_max_threads (8 on a fresh pool, changed by pool.set_local_auth_max_threads).
    /// </summary>
    public int? LoginConcurrency { get; set; }

    /// <summary>Remove the SR's files when the host is disposed.</summary>
    public bool DeleteDataOnDispose { get; set; } = true;

    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>Logging for the host's web server; none when null.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }

    /// <summary>A copy to vary per pool member (its licence restrictions a list of its own).</summary>
    public SimulatedHostOptions Clone()
    {
        var copy = (SimulatedHostOptions)MemberwiseClone();
        copy.LicenceRestrictions = [.. LicenceRestrictions];
        return copy;
    }
}
