using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// Creates VM objects with what xapi adds on its own (metrics, a MAC seed, Halted, no domain)
/// and checks the memory and vCPU invariants every VM must keep.
/// </summary>
internal static class VmFactory
{
    public const string MemoryOrderRule = "Memory limits must satisfy: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max";

    /// <summary>A complete constructor record for an HVM guest (what a template would give).</summary>
    public static Dictionary<string, JsonNode?> HvmRecord(string name, long memoryBytes, long vcpus) => new(StringComparer.Ordinal)
    {
        ["name_label"] = name,
        ["name_description"] = string.Empty,
        ["user_version"] = 1L,
        ["is_a_template"] = false,
        ["affinity"] = XapiType.NullRef,
        ["memory_static_min"] = Math.Min(memoryBytes, 512L * 1024 * 1024),
        ["memory_static_max"] = memoryBytes,
        ["memory_dynamic_min"] = memoryBytes,
        ["memory_dynamic_max"] = memoryBytes,
        ["VCPUs_params"] = new JsonObject(),
        ["VCPUs_max"] = vcpus,
        ["VCPUs_at_startup"] = vcpus,
        ["actions_after_shutdown"] = "destroy",
        ["actions_after_reboot"] = "restart",
        ["actions_after_crash"] = "restart",
        ["PV_bootloader"] = string.Empty,
        ["PV_kernel"] = string.Empty,
        ["PV_ramdisk"] = string.Empty,
        ["PV_args"] = string.Empty,
        ["PV_bootloader_args"] = string.Empty,
        ["PV_legacy_args"] = string.Empty,
        ["HVM_boot_policy"] = "BIOS order",
        ["HVM_boot_params"] = new JsonObject { ["order"] = "cd", ["firmware"] = "bios" },
        ["platform"] = new JsonObject
        {
            ["acpi"] = "1", ["apic"] = "true", ["pae"] = "true", ["nx"] = "true", ["hpet"] = "true",
            ["viridian"] = "false", ["timeoffset"] = "0", ["device-model"] = "qemu-upstream-compat",
            ["cores-per-socket"] = vcpus.ToString(CultureInfo.InvariantCulture),
        },
        ["PCI_bus"] = string.Empty,
        ["other_config"] = new JsonObject(),
        ["recommendations"] = "<restrictions><restriction field=\"memory-static-max\" max=\"1649267441664\"/><restriction field=\"vcpus-max\" max=\"64\"/><restriction max=\"255\" property=\"number-of-vbds\"/><restriction max=\"7\" property=\"number-of-vifs\"/></restrictions>",
        ["domain_type"] = "hvm",
        ["hardware_platform_version"] = 2L,
    };

    /// <summary>Creates a halted VM; call under the database lock.</summary>
    public static XapiObject Create(HostRuntime host, Dictionary<string, JsonNode?> values)
    {
        AssertMemoryOrder(
            Long(values, "memory_static_min"), Long(values, "memory_dynamic_min"),
            Long(values, "memory_dynamic_max"), Long(values, "memory_static_max"));
        AssertVcpus(Long(values, "VCPUs_at_startup"), Long(values, "VCPUs_max"), "VCPUs_at_startup");
        var db = host.Database;
        values["power_state"] = VmLifecycle.Halted;
        values["suspend_VDI"] = XapiType.NullRef;
        var metrics = db.Create("VM_metrics", new Dictionary<string, JsonNode?>
        {
            ["VCPUs_params"] = new JsonObject(),
            ["VCPUs_CPU"] = new JsonObject(),
            ["VCPUs_flags"] = new JsonObject(),
            ["install_time"] = host.Now(),
            ["start_time"] = XapiDateTime.Epoch,
            ["last_updated"] = host.Now(),
            ["hvm"] = (string?)values.GetValueOrDefault("HVM_boot_policy") is { Length: > 0 },
        });
        var otherConfig = values.GetValueOrDefault("other_config") as JsonObject ?? new JsonObject();
        if (!otherConfig.ContainsKey("mac_seed")) otherConfig["mac_seed"] = Guid.NewGuid().ToString("D");
        values["other_config"] = otherConfig;
        if (values.GetValueOrDefault("generation_id") is null || (string?)values["generation_id"] == "0:0")
            values["generation_id"] = $"{Random.Shared.NextInt64()}:{Random.Shared.NextInt64()}";
        var vm = db.Create("VM", values);
        vm.Set("metrics", metrics.Ref);
        vm.Set("domid", -1L);
        vm.Set("resident_on", XapiType.NullRef);
        vm.Set("snapshot_of", XapiType.NullRef);
        vm.Set("parent", XapiType.NullRef);
        vm.Set("guest_metrics", XapiType.NullRef);
        VmLifecycle.UpdateAllowedOperations(host, vm);
        return vm;
    }

    public static void AssertMemoryOrder(long staticMin, long dynamicMin, long dynamicMax, long staticMax)
    {
        if (!(staticMin <= dynamicMin && dynamicMin <= dynamicMax && dynamicMax <= staticMax) || staticMin < 0)
            throw new XapiException(XapiErrors.MemoryConstraintViolation, MemoryOrderRule);
    }

    /// <summary>0 &lt; VCPUs_at_startup ≤ VCPUs_max, else INVALID_VALUE [field, value].</summary>
    public static void AssertVcpus(long atStartup, long max, string changedField)
    {
        if (atStartup <= 0 || max <= 0 || atStartup > max)
        {
            var value = changedField == "VCPUs_max" ? max : atStartup;
            throw new XapiException(XapiErrors.InvalidValue, changedField, value.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static long Long(Dictionary<string, JsonNode?> values, string field) => values.GetValueOrDefault(field)?.GetValue<long>() ?? 0;
}
