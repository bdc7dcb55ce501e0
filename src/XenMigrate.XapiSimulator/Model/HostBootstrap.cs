using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>
/// What a freshly installed standalone host holds: a one-host pool, the host and its metrics,
/// the control domain, the management network and PIF, the local ext SR with its PBD (the pool's
/// default SR), and a couple of default templates.
/// </summary>
internal static class HostBootstrap
{
    public static void Populate(HostRuntime host)
    {
        var options = host.Options;
        var db = host.Database;
        var now = host.Now();

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
            ["other_config"] = new JsonObject { ["agent_start_time"] = now, ["boot_time"] = now },
            ["capabilities"] = new JsonArray("xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"),
            ["cpu_configuration"] = new JsonObject(),
            ["sched_policy"] = "credit",
            ["supported_bootloaders"] = new JsonArray("pygrub", "eliloader"),
            ["logging"] = new JsonObject(),
            ["hostname"] = options.Name,
            ["address"] = "127.0.0.1",
            ["metrics"] = metrics.Ref,
            ["license_params"] = new JsonObject { ["sku_type"] = "free" },
            ["edition"] = "free",
            ["cpu_info"] = new JsonObject { ["cpu_count"] = "8", ["socket_count"] = "1", ["vendor"] = "GenuineIntel", ["modelname"] = "Simulated CPU" },
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
        host.SrMountPath = $"/var/run/sr-mount/{sr.Uuid}";
        hostObj.Set("suspend_image_sr", sr.Ref);
        hostObj.Set("crash_dump_sr", sr.Ref);

        var pbd = db.Create("PBD", new Dictionary<string, JsonNode?>
        {
            ["host"] = hostObj.Ref,
            ["SR"] = sr.Ref,
            ["device_config"] = new JsonObject { ["device"] = "/dev/disk/by-id/scsi-simulated-part3" },
            ["currently_attached"] = true,
        });
        sr.AddToSet("PBDs", pbd.Ref);
        hostObj.AddToSet("PBDs", pbd.Ref);

        var network = db.Create("network", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = "Pool-wide network associated with eth0",
            ["bridge"] = "xenbr0",
            ["MTU"] = 1500L,
            ["other_config"] = new JsonObject(),
            ["allowed_operations"] = new JsonArray(),
        });
        host.NetworkRef = network.Ref;
        var pif = db.Create("PIF", new Dictionary<string, JsonNode?>
        {
            ["device"] = "eth0",
            ["network"] = network.Ref,
            ["host"] = hostObj.Ref,
            ["MAC"] = "02:00:7f:00:00:01",
            ["MTU"] = 1500L,
            ["VLAN"] = -1L,
            ["physical"] = true,
            ["currently_attached"] = true,
            ["ip_configuration_mode"] = "Static",
            ["IP"] = "127.0.0.1",
            ["netmask"] = "255.0.0.0",
            ["management"] = true,
            ["ipv6_configuration_mode"] = "None",
        });
        network.AddToSet("PIFs", pif.Ref);
        hostObj.AddToSet("PIFs", pif.Ref);

        db.Create("pool", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = string.Empty,
            ["name_description"] = string.Empty,
            ["master"] = hostObj.Ref,
            ["default_SR"] = sr.Ref,
            ["suspend_image_SR"] = sr.Ref,
            ["crash_dump_SR"] = sr.Ref,
            ["other_config"] = new JsonObject(),
            ["restrictions"] = new JsonObject { ["restrict_vswitch_controller"] = "false" },
        });
        host.PoolRef = db.All("pool").Single().Ref;

        CreateControlDomain(host, hostObj);
        CreateTemplate(host, "Other install media", "Template for installing from install media");
        CreateTemplate(host, "Debian Bookworm 12", "Template for Debian 12 (64-bit)");
        host.RefreshMemory();
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

    private static void CreateTemplate(HostRuntime host, string name, string description)
    {
        var record = VmFactory.HvmRecord(name, 2L * 1024 * 1024 * 1024, 2);
        record["name_description"] = description;
        record["is_a_template"] = true;
        record["other_config"] = new JsonObject { ["default_template"] = "true", ["install-methods"] = "cdrom" };
        var template = VmFactory.Create(host, record);
        template.Set("is_default_template", true);
        VmLifecycle.UpdateAllowedOperations(host, template);
    }
}
