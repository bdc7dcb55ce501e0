using System.Text.Json.Nodes;

namespace XenMigrate.Infrastructure.Xapi;

// Typed views of the XAPI records the gateway reads (field names as in the XAPI data model).
// Each keeps the JSON it came from, so a VM can later be re-created from its own record.

public sealed record XapiHost(string Ref, string Uuid, string NameLabel, string Address, bool Enabled,
    long ApiVersionMajor, long ApiVersionMinor, IReadOnlyDictionary<string, string> SoftwareVersion, string ControlDomain,
    string Metrics, IReadOnlyDictionary<string, string> CpuInfo, IReadOnlyDictionary<string, string> OtherConfig)
{
    public static XapiHost From(string reference, JsonObject r) => new(reference,
        XapiValues.String(r["uuid"]), XapiValues.String(r["name_label"]), XapiValues.String(r["address"]), XapiValues.Bool(r["enabled"]),
        XapiValues.Int(r["API_version_major"]), XapiValues.Int(r["API_version_minor"]), XapiValues.Map(r["software_version"]),
        XapiValues.String(r["control_domain"]), XapiValues.String(r["metrics"]), XapiValues.Map(r["cpu_info"]), XapiValues.Map(r["other_config"]));

    /// <summary>
    /// When the host booted: xapi writes other_config:boot_time at start-up as OCaml's
    /// string_of_float of the Unix time (dbsync_slave.ml, "1764874800."); null when absent.
    /// </summary>
    public DateTimeOffset? BootedAt =>
        double.TryParse(OtherConfig.GetValueOrDefault("boot_time"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000))
            : null;
}

public sealed record XapiVm(string Ref, string Uuid, string NameLabel, string PowerState, long MemoryStaticMax,
    long VcpusMax, string ResidentOn, bool IsATemplate, bool IsASnapshot, bool IsControlDomain,
    IReadOnlyList<string> Vbds, IReadOnlyDictionary<string, string> OtherConfig, IReadOnlyDictionary<string, string> CurrentOperations,
    JsonObject Record)
{
    /// <summary>A VM that Nova would call a server: not a template, snapshot or control domain.</summary>
    public bool IsGuest => !IsATemplate && !IsASnapshot && !IsControlDomain;

    /// <summary>The host the VM prefers to start on (OpaqueRef:NULL when none).</summary>
    public string Affinity => XapiValues.String(Record["affinity"]);

    /// <summary>The VM's XenServer tags (what XenCenter and Xen Orchestra show).</summary>
    public IReadOnlyList<string> Tags => XapiValues.Strings(Record["tags"]);

    public IReadOnlyList<string> Vifs => XapiValues.Strings(Record["VIFs"]);

    public static XapiVm From(string reference, JsonObject r) => new(reference,
        XapiValues.String(r["uuid"]), XapiValues.String(r["name_label"]), XapiValues.String(r["power_state"]),
        XapiValues.Int(r["memory_static_max"]), XapiValues.Int(r["VCPUs_max"]), XapiValues.String(r["resident_on"]),
        XapiValues.Bool(r["is_a_template"]), XapiValues.Bool(r["is_a_snapshot"]), XapiValues.Bool(r["is_control_domain"]),
        XapiValues.Strings(r["VBDs"]), XapiValues.Map(r["other_config"]), XapiValues.Map(r["current_operations"]), r);
}

public sealed record XapiVbd(string Ref, string Vm, string Vdi, string Userdevice, string Type, bool CurrentlyAttached)
{
    public bool IsDisk => Type == "Disk" && !XapiValues.IsNullRef(Vdi);

    public static XapiVbd From(string reference, JsonObject r) => new(reference,
        XapiValues.String(r["VM"]), XapiValues.String(r["VDI"]), XapiValues.String(r["userdevice"]), XapiValues.String(r["type"]),
        XapiValues.Bool(r["currently_attached"]));
}

public sealed record XapiVdi(string Ref, string Uuid, string NameLabel, string Sr, long VirtualSize, bool IsASnapshot,
    IReadOnlyDictionary<string, string> OtherConfig)
{
    public static XapiVdi From(string reference, JsonObject r) => new(reference,
        XapiValues.String(r["uuid"]), XapiValues.String(r["name_label"]), XapiValues.String(r["SR"]), XapiValues.Int(r["virtual_size"]),
        XapiValues.Bool(r["is_a_snapshot"]), XapiValues.Map(r["other_config"]));
}

public sealed record XapiSr(string Ref, string Uuid, string NameLabel, string Type, string ContentType, bool Shared,
    long PhysicalSize, long PhysicalUtilisation, long VirtualAllocation)
{
    public long FreeBytes => Math.Max(0, PhysicalSize - PhysicalUtilisation);

    public static XapiSr From(string reference, JsonObject r) => new(reference,
        XapiValues.String(r["uuid"]), XapiValues.String(r["name_label"]), XapiValues.String(r["type"]),
        XapiValues.String(r["content_type"]), XapiValues.Bool(r["shared"]), XapiValues.Int(r["physical_size"]),
        XapiValues.Int(r["physical_utilisation"]), XapiValues.Int(r["virtual_allocation"]));
}

public sealed record XapiPool(string Ref, string Master, string DefaultSr)
{
    public static XapiPool From(string reference, JsonObject r) =>
        new(reference, XapiValues.String(r["master"]), XapiValues.String(r["default_SR"]));
}

/// <summary>An XAPI task: status (pending, success, failure, cancelling, cancelled), progress 0–1, result, error.</summary>
public sealed record XapiTask(string Ref, string Status, double Progress, string Result, IReadOnlyList<string> ErrorInfo,
    IReadOnlyDictionary<string, string> OtherConfig)
{
    public bool IsFinished => Status is "success" or "failure" or "cancelled";

    public static XapiTask From(string reference, JsonObject r) => new(reference,
        XapiValues.String(r["status"]),
        r["progress"] is JsonValue p && p.TryGetValue<double>(out var progress) ? progress : 0,
        XapiValues.DecodeTaskResult(XapiValues.String(r["result"])),
        XapiValues.Strings(r["error_info"]),
        XapiValues.Map(r["other_config"]));
}

public sealed record XapiVif(string Ref, string Vm, string Network, string Device, string Mac, bool CurrentlyAttached)
{
    public static XapiVif From(string reference, JsonObject r) => new(reference,
        XapiValues.String(r["VM"]), XapiValues.String(r["network"]), XapiValues.String(r["device"]), XapiValues.String(r["MAC"]),
        XapiValues.Bool(r["currently_attached"]));
}

/// <summary>What a guest's agent reports (VM_guest_metrics); networks maps "device/ip", "device/ipv4/n", "device/ipv6/n" to addresses.</summary>
public sealed record XapiGuestMetrics(string Ref, IReadOnlyDictionary<string, string> Networks)
{
    public static XapiGuestMetrics From(string reference, JsonObject r) => new(reference, XapiValues.Map(r["networks"]));
}
