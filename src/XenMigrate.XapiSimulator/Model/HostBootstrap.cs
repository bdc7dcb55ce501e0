using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>
/// What a freshly installed pool holds: the pool object, its networks (a PIF on each on every
/// member), a shared SR when it has one, and the default templates (pool-wide objects); then,
/// member by member as they join, the host and its metrics, the control domain, the local ext
/// SR with its PBD, and the host's PIFs and PBDs. A standalone host is the only member of its own
/// nameless pool, whose default SR is its local SR.
/// </summary>
internal static class HostBootstrap
{
    /// <summary>The pool-wide objects, before any member joins. Call under the database lock.</summary>
    public static void CreatePool(PoolRuntime pool, SimulatedPoolOptions options, string storageRoot)
    {
        var db = pool.Database;
        // Listed in no useful order, as a real host lists them: the PIF-less host-internal
        // management network (xapi's HIMN, for guest agents talking to dom0) and a VLAN come first.
        AddNetwork(pool, "Host internal management network", "xenapi", device: null, vlan: -1, management: false,
            new JsonObject { ["is_guest_installer_network"] = "true", ["is_host_internal_management_network"] = "true", ["ip_begin"] = "169.254.0.1", ["ip_end"] = "169.254.255.254", ["netmask"] = "255.255.0.0" });
        AddNetwork(pool, "VLAN 100 (storage)", "xapi1", "eth0", 100, management: false, new JsonObject());
        AddNetwork(pool, "Pool-wide network associated with eth0", "xenbr0", "eth0", -1, management: true, new JsonObject());
        pool.ManagementNetworkRef = pool.Networks.Single(n => n.Management).NetworkRef;

        // ISO libraries: the guest tools every host ships, and an NFS ISO library the pool shares.
        pool.ToolsSrRef = AddIsoSr(db, "XenServer Tools", "XenServer Tools ISOs", "iso", tools: true, shared: true, "guest-tools.iso").Ref;
        pool.IsoLibrarySrRef = AddIsoSr(db, "ISO library", "NFS ISO library [simulated:/srv/isos]", "iso", tools: false, shared: true,
            "debian-12.5.0-amd64-netinst.iso", "config-drive.iso").Ref;

        if (options.SharedStorageBytes > 0)
        {
            var sr = db.Create("SR", new Dictionary<string, JsonNode?>
            {
                ["name_label"] = options.SharedStorageName,
                ["name_description"] = "NFS SR [simulated:/srv/xenmigrate-shared]",
                ["physical_size"] = options.SharedStorageBytes,
                ["type"] = "nfs",
                ["content_type"] = "user",
                ["shared"] = true,
                ["other_config"] = new JsonObject(),
                ["sm_config"] = new JsonObject(),
                ["allowed_operations"] = new JsonArray("vdi_create", "vdi_destroy", "vdi_resize", "vdi_clone", "vdi_snapshot", "scan", "plug", "unplug", "update"),
            });
            pool.SharedSrRef = sr.Ref;
            pool.AddStore(sr.Ref, new Storage.CowDiskStore(Path.Combine(storageRoot, $"shared-sr-{sr.Uuid}"), options.SharedStorageBytes),
                $"/var/run/sr-mount/{sr.Uuid}");
        }

        var poolObj = db.Create("pool", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = options.Name,
            ["name_description"] = string.Empty,
            ["master"] = XapiType.NullRef,
            ["default_SR"] = XapiType.NullRef,
            ["suspend_image_SR"] = XapiType.NullRef,
            ["crash_dump_SR"] = XapiType.NullRef,
            ["other_config"] = new JsonObject(),
            ["restrictions"] = new JsonObject { ["restrict_vswitch_controller"] = "false", ["restrict_vtpm"] = "false" },
        });
        pool.PoolRef = poolObj.Ref;
    }

    /// <summary>
    /// The default templates a fresh install ships (a few of the ~100): no VBDs of their own, the
    /// disks to make described in other_config:disks for VM.provision (sr="" until an installer
    /// names one), as xapi's create_templates writes them.
    /// </summary>
    public static void CreateTemplates(PoolRuntime pool, HostRuntime first)
    {
        CreateTemplate(first, "Other install media", "Template for installing from install media", 1 * GiB, 8 * GiB);
        CreateTemplate(first, "Debian Bookworm 12", "Template for Debian 12 (64-bit)", 1 * GiB, 10 * GiB);
        CreateTemplate(first, "Ubuntu Jammy Jellyfish 22.04", "Template for Ubuntu 22.04 (64-bit)", 1 * GiB, 10 * GiB);
        CreateTemplate(first, "Rocky Linux 9", "Template for Rocky Linux 9 (64-bit)", 2 * GiB, 10 * GiB);
        CreateTemplate(first, "Windows Server 2022 (64-bit)", "Template for Windows Server 2022 (UEFI)", 2 * GiB, 32 * GiB, uefi: true);
        CreateTemplate(first, "Windows 11", "Template for Windows 11 (UEFI, vTPM)", 4 * GiB, 64 * GiB, uefi: true);
    }

    private const long GiB = 1024L * 1024 * 1024;

    /// <summary>
    /// A member joins: its host object, metrics, local SR, PIFs and PBDs, and its control domain.
    /// The first member to join becomes master and decides the pool's default SR. Call under the lock.
    /// </summary>
    public static void Join(HostRuntime host, SimulatedPoolOptions poolOptions, int index)
    {
        var pool = host.Pool;
        var options = host.Options;
        var db = host.Database;
        var now = host.Now();
        var unixNow = host.Pool.Clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture) + ".";

        var metrics = db.Create("host_metrics", new Dictionary<string, JsonNode?>
        {
            ["memory_total"] = options.MemoryBytes,
            ["memory_free"] = options.MemoryBytes,
            ["live"] = true,
            ["last_updated"] = now,
        });
        host.HostMetricsRef = metrics.Ref;

        var hostObj = db.Create("host", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = options.Name,
            ["name_description"] = "Simulated XenServer host",
            ["API_version_major"] = (long)options.ApiVersionMajor,
            ["API_version_minor"] = (long)options.ApiVersionMinor,
            ["API_version_vendor"] = "XenSource",
            ["API_version_vendor_implementation"] = new JsonObject(),
            ["enabled"] = true,
            ["software_version"] = SoftwareVersion(options),
            // xapi's dbsync_slave writes both as OCaml string_of_float of the Unix time ("1764874800.").
            ["other_config"] = new JsonObject { ["agent_start_time"] = unixNow, ["boot_time"] = unixNow },
            ["capabilities"] = new JsonArray("xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"),
            ["cpu_configuration"] = new JsonObject(),
            ["sched_policy"] = "credit",
            ["supported_bootloaders"] = new JsonArray("pygrub", "eliloader"),
            ["logging"] = new JsonObject(),
            ["hostname"] = options.Name,
            ["address"] = host.Address,
            ["metrics"] = metrics.Ref,
            ["license_params"] = new JsonObject { ["sku_type"] = "free" },
            ["edition"] = "free",
            ["cpu_info"] = new JsonObject
            {
                ["cpu_count"] = "8", ["socket_count"] = "1", ["vendor"] = "GenuineIntel", ["modelname"] = "Simulated CPU",
                ["features"] = options.CpuFeatures,
            },
        });
        host.HostRef = hostObj.Ref;

        var sr = db.Create("SR", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = "Local storage",
            ["name_description"] = $"Local storage on {options.Name}",
            ["physical_size"] = options.StorageBytes,
            ["physical_utilisation"] = 0L,
            ["virtual_allocation"] = 0L,
            ["type"] = "ext",
            ["content_type"] = "user",
            ["shared"] = false,
            ["other_config"] = new JsonObject { ["i18n-key"] = "local-storage", ["i18n-original-value-name_label"] = "Local storage" },
            ["sm_config"] = new JsonObject { ["devserial"] = "scsi-simulated" },
            ["allowed_operations"] = new JsonArray("vdi_create", "vdi_destroy", "vdi_resize", "vdi_clone", "vdi_snapshot", "scan", "plug", "unplug", "update"),
        });
        host.SrRef = sr.Ref;
        pool.AddStore(sr.Ref, host.Storage, $"/var/run/sr-mount/{sr.Uuid}");
        hostObj.Set("suspend_image_sr", sr.Ref);
        hostObj.Set("crash_dump_sr", sr.Ref);
        AddPbd(db, hostObj, sr, new JsonObject { ["device"] = "/dev/disk/by-id/scsi-simulated-part3" });
        if (options.LegacyLvmStorageBytes > 0) AddLegacyLvmSr(host, hostObj);
        if (db.Find("SR", pool.SharedSrRef) is { } shared)
            AddPbd(db, hostObj, shared, new JsonObject { ["server"] = "simulated", ["serverpath"] = "/srv/xenmigrate-shared" });

        foreach (var network in pool.Networks.Where(n => n.Device is not null))
            AddPif(db, hostObj, network, index);
        foreach (var iso in new[] { pool.ToolsSrRef, pool.IsoLibrarySrRef }.Select(r => db.Find("SR", r)).OfType<XapiObject>())
            AddPbd(db, hostObj, iso, new JsonObject { ["location"] = "/opt/xensource/packages/iso" });
        // The host's own optical drive: a local ISO SR (udev) with the disc in it.
        var dvd = AddIsoSr(db, "DVD drives", $"Physical DVD drives on {options.Name}", "udev", tools: false, shared: false, "SCSI 0:0:0:0");
        AddPbd(db, hostObj, dvd, new JsonObject { ["location"] = "/dev/xapi/cd" });

        var poolObj = db.Require("pool", pool.PoolRef);
        if (poolObj.GetString("master") == XapiType.NullRef)
        {
            poolObj.Set("master", hostObj.Ref);
            var defaultSr = poolOptions.DefaultStorage switch
            {
                DefaultStorage.Shared when pool.SharedSrRef != XapiType.NullRef => pool.SharedSrRef,
                DefaultStorage.None => XapiType.NullRef,
                _ => sr.Ref,
            };
            poolObj.Set("default_SR", defaultSr);
            poolObj.Set("suspend_image_SR", defaultSr);
            poolObj.Set("crash_dump_SR", defaultSr);
        }

        CreateControlDomain(host, hostObj);
        host.RefreshMemory();
    }

    /// <summary>
    /// A local LVM SR not upgraded to LVHD: type lvm, sm_config without use_vhd, so its VDIs are
    /// raw volumes that must have zeroes written (sm_fs_ops.ml:66-97; LVHDSR.py legacy mode).
    /// </summary>
    private static void AddLegacyLvmSr(HostRuntime host, XapiObject hostObj)
    {
        var db = host.Database;
        var options = host.Options;
        var sr = db.Create("SR", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = "Local LVM storage",
            ["name_description"] = $"Thick LVM storage on {options.Name}",
            ["physical_size"] = options.LegacyLvmStorageBytes,
            ["physical_utilisation"] = 0L,
            ["virtual_allocation"] = 0L,
            ["type"] = "lvm",
            ["content_type"] = "user",
            ["shared"] = false,
            ["other_config"] = new JsonObject(),
            ["sm_config"] = new JsonObject { ["allocation"] = "thick", ["devserial"] = "scsi-simulated-lvm" },
            ["allowed_operations"] = new JsonArray("vdi_create", "vdi_destroy", "vdi_resize", "vdi_clone", "vdi_snapshot", "scan", "plug", "unplug", "update"),
        });
        host.LvmSrRef = sr.Ref;
        host.Pool.AddStore(sr.Ref, new Storage.CowDiskStore(host.Storage.RootDirectory + "-lvm", options.LegacyLvmStorageBytes), $"/dev/VG_XenStorage-{sr.Uuid}");
        AddPbd(db, hostObj, sr, new JsonObject { ["device"] = "/dev/disk/by-id/scsi-simulated-lvm-part1" });
    }

    private static void AddNetwork(PoolRuntime pool, string name, string bridge, string? device, long vlan, bool management, JsonObject otherConfig)
    {
        var network = pool.Database.Create("network", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = name,
            ["bridge"] = bridge,
            ["MTU"] = 1500L,
            ["other_config"] = otherConfig,
            ["allowed_operations"] = new JsonArray(),
        });
        pool.Networks.Add(new PoolNetwork(network.Ref, device, vlan, management));
    }

    /// <summary>An ISO SR (no disk store: its VDIs are discs for CD drives, never written or exported).</summary>
    private static XapiObject AddIsoSr(XapiDatabase db, string name, string description, string type, bool tools, bool shared, params string[] isos)
    {
        var sr = db.Create("SR", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = name,
            ["name_description"] = description,
            ["type"] = type,
            ["content_type"] = "iso",
            ["shared"] = shared,
            ["other_config"] = new JsonObject(),
            ["sm_config"] = new JsonObject(),
            ["allowed_operations"] = new JsonArray("scan", "plug", "unplug"),
        });
        if (tools) sr.Set("is_tools_sr", true);
        foreach (var iso in isos)
        {
            var vdi = db.Create("VDI", new Dictionary<string, JsonNode?>
            {
                ["name_label"] = iso,
                ["name_description"] = string.Empty,
                ["SR"] = sr.Ref,
                ["virtual_size"] = 600L * 1024 * 1024,
                ["type"] = "user",
                ["sharable"] = true,
                ["read_only"] = true,
                ["other_config"] = new JsonObject(),
            });
            vdi.Set("location", iso);
            vdi.Set("managed", true);
            vdi.Set("parent", XapiType.NullRef);
            if (tools) vdi.Set("is_tools_iso", true);
            sr.AddToSet("VDIs", vdi.Ref);
        }

        return sr;
    }

    private static void AddPbd(XapiDatabase db, XapiObject hostObj, XapiObject sr, JsonObject deviceConfig)
    {
        var pbd = db.Create("PBD", new Dictionary<string, JsonNode?>
        {
            ["host"] = hostObj.Ref,
            ["SR"] = sr.Ref,
            ["device_config"] = deviceConfig,
            ["currently_attached"] = true,
        });
        sr.AddToSet("PBDs", pbd.Ref);
        hostObj.AddToSet("PBDs", pbd.Ref);
    }

    private static void AddPif(XapiDatabase db, XapiObject hostObj, PoolNetwork network, int hostIndex)
    {
        var address = hostObj.GetString("address");
        var pif = db.Create("PIF", new Dictionary<string, JsonNode?>
        {
            ["device"] = network.Device,
            ["network"] = network.NetworkRef,
            ["host"] = hostObj.Ref,
            ["MAC"] = string.Create(CultureInfo.InvariantCulture, $"02:00:7f:{hostIndex:x2}:00:{(network.Vlan < 0 ? 1 : network.Vlan % 256):x2}"),
            ["MTU"] = 1500L,
            ["VLAN"] = network.Vlan,
            ["physical"] = network.Vlan < 0,
            ["currently_attached"] = true,
            ["ip_configuration_mode"] = network.Management ? "Static" : "None",
            ["IP"] = network.Management ? address : string.Empty,
            ["netmask"] = network.Management ? "255.0.0.0" : string.Empty,
            ["management"] = network.Management,
            ["ipv6_configuration_mode"] = "None",
        });
        db.Require("network", network.NetworkRef).AddToSet("PIFs", pif.Ref);
        hostObj.AddToSet("PIFs", pif.Ref);
    }

    private static JsonObject SoftwareVersion(SimulatedHostOptions options)
    {
        var parts = options.ProductVersion.Split('.');
        return new JsonObject
        {
            ["product_version"] = options.ProductVersion,
            ["product_version_text"] = string.Join('.', parts.Take(2)),
            ["product_version_text_short"] = string.Join('.', parts.Take(2)),
            ["platform_name"] = "XCP",
            ["platform_version"] = options.PlatformVersion,
            ["product_brand"] = "XenServer",
            ["build_number"] = "simulated",
            ["hostname"] = options.Name,
            ["date"] = "2024-06-01",
            ["xapi"] = options.XapiVersion,
            ["xapi_build"] = options.XapiVersion + ".0",
            ["xen"] = "4.17.4",
            ["linux"] = "4.19.0+1",
            ["xencenter_min"] = "2.21",
            ["xencenter_max"] = string.Create(CultureInfo.InvariantCulture, $"{options.ApiVersionMajor}.{options.ApiVersionMinor}"),
            ["network_backend"] = "openvswitch",
            ["db_schema"] = "5.775",
        };
    }

    private static void CreateControlDomain(HostRuntime host, XapiObject hostObj)
    {
        var options = host.Options;
        var record = VmFactory.HvmRecord($"Control domain on host: {options.Name}", options.ControlDomainMemoryBytes, 4);
        record["name_description"] = "The domain which manages physical devices and manages other domains";
        record["HVM_boot_policy"] = string.Empty;
        record["HVM_boot_params"] = new JsonObject();
        record["platform"] = new JsonObject();
        record["domain_type"] = "pv";
        record["memory_static_min"] = options.ControlDomainMemoryBytes;
        var dom0 = VmFactory.Create(host, record);
        host.SetGuestAgent(dom0.Ref, true);
        dom0.Set("is_control_domain", true);
        VmLifecycle.Boot(host, dom0, paused: false);
        dom0.Set("domid", 0L);
        host.ControlDomainRef = dom0.Ref;
        hostObj.Set("control_domain", dom0.Ref);
        VmLifecycle.UpdateAllowedOperations(host, dom0);
    }

    private static void CreateTemplate(HostRuntime host, string name, string description, long memory, long diskBytes, bool uefi = false)
    {
        var record = VmFactory.HvmRecord(name, memory, 2);
        record["name_description"] = description;
        record["is_a_template"] = true;
        record["memory_static_min"] = Math.Min(memory, 512L * 1024 * 1024);
        if (uefi)
        {
            record["HVM_boot_params"] = new JsonObject { ["order"] = "dc", ["firmware"] = "uefi" };
            record["platform"]!["secureboot"] = "auto";
            record["platform"]!["device_id"] = "0002";
        }

        record["other_config"] = new JsonObject
        {
            ["default_template"] = "true",
            ["install-methods"] = "cdrom",
            ["disks"] = string.Create(CultureInfo.InvariantCulture,
                $"<provision><disk device=\"0\" size=\"{diskBytes}\" sr=\"\" bootable=\"true\" type=\"system\"/></provision>"),
        };
        var template = VmFactory.Create(host, record);
        template.Set("is_default_template", true);
        VmLifecycle.UpdateAllowedOperations(host, template);
    }
}
