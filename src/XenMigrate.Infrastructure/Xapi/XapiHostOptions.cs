namespace XenMigrate.Infrastructure.Xapi;

/// <summary>Configuration section <c>XenServer</c>.</summary>
public sealed class XenServerOptions
{
    public const string Section = "XenServer";

    /// <summary>The standalone hosts to drive. Empty: the embedded default starts a simulated lab.</summary>
    public List<XapiHostOptions> Hosts { get; set; } = [];

    /// <summary>With no hosts configured, start a simulated lab of three hosts in-process (the embedded default).</summary>
    public bool EmbeddedLab { get; set; } = true;

    /// <summary>Project (by name) that owns VMs which name none in their other_config.</summary>
    public string DefaultProject { get; set; } = "admin";

    /// <summary>How long one event.from long-poll waits before the inventory syncs anyway.</summary>
    public TimeSpan EventTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a server may be missing from its host before it is forgotten: long enough for a VM
    /// moved to another host to be seen there first.
    /// </summary>
    public TimeSpan VanishedGrace { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long to wait before calling a host that stopped answering again.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bound on any single XAPI call (an event.from adds its own timeout to this).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Which existing VMs the gateway takes on as servers (writing its keys into their
    /// other_config): <c>All</c> (the embedded lab), <c>Tagged</c> (only VMs carrying
    /// <see cref="AdoptTag"/> in their XenServer tags, the default) or <c>None</c> (only VMs the
    /// gateway creates). The others are shown to admins as unmanaged and cannot be acted on.
    /// </summary>
    public AdoptVms AdoptVms { get; set; } = AdoptVms.Tagged;

    /// <summary>The XenServer tag (VM.tags, e.g. set in XenCenter or Xen Orchestra) that hands a VM to XenMigrate.</summary>
    public string AdoptTag { get; set; } = "xenmigrate";

    /// <summary>
    /// Networks named differently on another pool: source network name_label → destination
    /// name_label. Unmapped networks are matched by name_label and VLAN.
    /// </summary>
    public Dictionary<string, string> NetworkMap { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The network (name_label) a new server's interface goes on when its create names none
    /// ("networks": "auto"); empty: the network of the host's management interface.
    /// </summary>
    public string? DefaultNetwork { get; set; }

    /// <summary>How often an operation on an object XenServer says is busy (VDI_IN_USE, OTHER_OPERATION_IN_PROGRESS) is tried again.</summary>
    public int BusyRetries { get; set; } = 10;

    /// <summary>The first pause before such a retry; it doubles up to 5 s.</summary>
    public TimeSpan BusyRetryDelay { get; set; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>Which VMs found on the hosts become servers the gateway manages.</summary>
public enum AdoptVms
{
    All,
    Tagged,
    None,
}

/// <summary>One XenServer host: where its XAPI is and how to log in.</summary>
public sealed class XapiHostOptions
{
    /// <summary>The compute host name Nova shows (<c>OS-EXT-SRV-ATTR:host</c>).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Base URL of the host, e.g. https://xs1.example.org (JSON-RPC is at /jsonrpc).</summary>
    public string Url { get; set; } = string.Empty;

    public string Username { get; set; } = "root";

    public string Password { get; set; } = string.Empty;

    /// <summary>
    /// SHA-256 (or SHA-1) thumbprint of the host's self-signed certificate, hex with or without
    /// colons. When set, only that certificate is accepted; when empty, normal chain validation.
    /// For a pool, list every member's (comma-separated): logins go to the master and transfers to
    /// the member that holds a disk, and each member has a certificate of its own.
    /// </summary>
    public string? Thumbprint { get; set; }

    /// <summary>Project (by name) owning this host's unclaimed VMs; falls back to XenServer:DefaultProject.</summary>
    public string? DefaultProject { get; set; }

    /// <summary>Never print the password, not even by accident in a log line.</summary>
    public override string ToString() => $"{Name} ({Url}, user {Username})";
}
