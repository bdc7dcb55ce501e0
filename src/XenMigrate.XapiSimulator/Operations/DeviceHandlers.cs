using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// VBDs (disk and CD slots) and VIFs (network interfaces) of VMs: create, destroy, hot plug
/// and unplug. A device is created unplugged; it attaches when its VM starts (or on plug).
/// </summary>
internal static class DeviceHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("VBD.create", CreateVbd);
        registry.Add("VBD.destroy", call => DestroyDevice(call, "VBD", RemoveVbd));
        registry.Add("VBD.plug", call => Plug(call, "VBD", attach: true));
        registry.Add("VBD.unplug", call => Plug(call, "VBD", attach: false));
        registry.Add("VBD.unplug_force", call => Plug(call, "VBD", attach: false));
        registry.Add("VBD.eject", call =>
        {
            lock (call.Db.Sync)
            {
                // xapi_vbd.ml assert_ok_to_eject: removable, not empty, VM not suspended.
                var vbd = call.Db.Require("VBD", call.Ref(1));
                if (vbd.GetString("type") != "CD") throw new XapiException(XapiErrors.VbdNotRemovableMedia, vbd.Ref);
                if (vbd.GetBool("empty")) throw new XapiException(XapiErrors.VbdIsEmpty, vbd.Ref);
                AssertNotSuspended(call.Db.Require("VM", vbd.GetString("VM")));
                Eject(call.Host, vbd);
                return ValueTask.FromResult<JsonNode?>(null);
            }
        });
        registry.Add("VBD.insert", call =>
        {
            lock (call.Db.Sync)
            {
                // xapi_vbd.ml assert_ok_to_insert: VM not suspended, removable, empty.
                var vbd = call.Db.Require("VBD", call.Ref(1));
                var vdi = call.Db.Require("VDI", call.Ref(2));
                AssertNotSuspended(call.Db.Require("VM", vbd.GetString("VM")));
                if (vbd.GetString("type") != "CD") throw new XapiException(XapiErrors.VbdNotRemovableMedia, vbd.Ref);
                if (!vbd.GetBool("empty")) throw new XapiException(XapiErrors.VbdNotEmpty, vbd.Ref);
                vbd.Set("VDI", vdi.Ref);
                vbd.Set("empty", false);
                vdi.AddToSet("VBDs", vbd.Ref);
                return ValueTask.FromResult<JsonNode?>(null);
            }
        });
        registry.Add("VIF.create", CreateVif);
        registry.Add("VIF.destroy", call => DestroyDevice(call, "VIF", RemoveVif));
        registry.Add("VIF.plug", call => Plug(call, "VIF", attach: true));
        registry.Add("VIF.unplug", call => Plug(call, "VIF", attach: false));
    }

    /// <summary>A suspended VM's CD cannot change: its saved state names the medium (xapi_vbd.ml assert_not_suspended).</summary>
    private static void AssertNotSuspended(XapiObject vm)
    {
        if (vm.GetString("power_state") == VmLifecycle.Suspended)
            throw new XapiException(XapiErrors.VmBadPowerState, vm.Ref, "halted, running", "suspended");
    }

    private static ValueTask<JsonNode?> CreateVbd(XapiCall call)
    {
        lock (call.Db.Sync)
        {
            var values = GenericHandlers.ConstructorValues(call, call.Db.Model.GetClass("VBD"), call.Object(1));
            var vm = call.Db.Require("VM", values["VM"]!.GetValue<string>());
            var vdiRef = values["VDI"]!.GetValue<string>();
            var empty = values["empty"]!.GetValue<bool>();
            if (vdiRef != XapiType.NullRef) call.Db.Require("VDI", vdiRef);
            else if (!empty) throw new XapiException(XapiErrors.InvalidValue, "VDI", vdiRef);
            var userdevice = values["userdevice"]!.GetValue<string>();
            var taken = vm.GetStrings("VBDs").Select(r => call.Db.Find("VBD", r)?.GetString("userdevice")).ToHashSet(StringComparer.Ordinal);
            if (userdevice == "autodetect")
            {
                userdevice = Enumerable.Range(0, 255).Select(i => i.ToString(CultureInfo.InvariantCulture)).First(d => !taken.Contains(d));
                values["userdevice"] = userdevice;
            }

            if (taken.Contains(userdevice)) throw new XapiException(XapiErrors.DeviceAlreadyExists, userdevice);
            var vbd = CreateVbdObject(call.Host, vm, values);
            return ValueTask.FromResult<JsonNode?>(vbd.Ref);
        }
    }

    /// <summary>Adds a copy of <paramref name="template"/> to <paramref name="vm"/> pointing at <paramref name="vdiRef"/>.</summary>
    public static XapiObject AddVbd(HostRuntime host, XapiObject vm, string vdiRef, XapiObject template)
    {
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in template.Class.Fields.Where(f => f.IsConstructorArgument))
            values[field.Name] = template.Get(field.Name)?.DeepClone();
        values["VM"] = vm.Ref;
        values["VDI"] = vdiRef;
        values["currently_attached"] = false;
        return CreateVbdObject(host, vm, values);
    }

    /// <summary>A new VBD between a VM and a VDI (or an empty drive); call under the database lock.</summary>
    public static XapiObject CreateVbd(HostRuntime host, XapiObject vm, string vdiRef, string userdevice, bool bootable, string type = "Disk", string mode = "RW") =>
        CreateVbdObject(host, vm, new Dictionary<string, JsonNode?>
        {
            ["VM"] = vm.Ref,
            ["VDI"] = vdiRef,
            ["userdevice"] = userdevice,
            ["bootable"] = bootable,
            ["mode"] = mode,
            ["type"] = type,
            ["empty"] = vdiRef == XapiType.NullRef,
            ["other_config"] = new JsonObject(),
            ["qos_algorithm_type"] = string.Empty,
            ["qos_algorithm_params"] = new JsonObject(),
        });

    private static XapiObject CreateVbdObject(HostRuntime host, XapiObject vm, Dictionary<string, JsonNode?> values)
    {
        var db = host.Database;
        values["currently_attached"] = false;
        if (values.GetValueOrDefault("device") is null || (string?)values["device"] == string.Empty)
        {
            var userdevice = (string?)values["userdevice"];
            values["device"] = int.TryParse(userdevice, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n < 26
                ? "xvd" + (char)('a' + n)
                : string.Empty;
        }

        var vbd = db.Create("VBD", values);
        vbd.Set("status_detail", string.Empty);
        vbd.Set("runtime_properties", new JsonObject());
        vbd.Set("qos_supported_algorithms", new JsonArray());
        vbd.Set("allowed_operations", new JsonArray("attach", "plug"));
        vm.AddToSet("VBDs", vbd.Ref);
        if (db.Find("VDI", vbd.GetString("VDI")) is { } vdi) vdi.AddToSet("VBDs", vbd.Ref);
        return vbd;
    }

    /// <summary>Takes the disc out of a CD drive (the drive stays, empty); call under the database lock.</summary>
    public static void Eject(HostRuntime host, XapiObject vbd)
    {
        host.Database.Find("VDI", vbd.GetString("VDI"))?.RemoveFromSet("VBDs", vbd.Ref);
        vbd.Set("VDI", XapiType.NullRef);
        vbd.Set("empty", true);
    }

    /// <summary>Unlinks and deletes a VBD; call under the database lock.</summary>
    public static void RemoveVbd(HostRuntime host, XapiObject vbd)
    {
        var db = host.Database;
        db.Find("VM", vbd.GetString("VM"))?.RemoveFromSet("VBDs", vbd.Ref);
        db.Find("VDI", vbd.GetString("VDI"))?.RemoveFromSet("VBDs", vbd.Ref);
        db.Destroy(vbd);
    }

    private static ValueTask<JsonNode?> CreateVif(XapiCall call)
    {
        lock (call.Db.Sync)
        {
            var values = GenericHandlers.ConstructorValues(call, call.Db.Model.GetClass("VIF"), call.Object(1));
            var vm = call.Db.Require("VM", values["VM"]!.GetValue<string>());
            call.Db.Require("network", values["network"]!.GetValue<string>());
            var device = values["device"]!.GetValue<string>();
            if (vm.GetStrings("VIFs").Any(r => call.Db.Find("VIF", r)?.GetString("device") == device))
                throw new XapiException(XapiErrors.DeviceAlreadyExists, device);
            var vif = CreateVifObject(call.Host, vm, values);
            return ValueTask.FromResult<JsonNode?>(vif.Ref);
        }
    }

    /// <summary>Adds a copy of a VIF (same device, network and MAC) to <paramref name="vm"/>.</summary>
    public static XapiObject AddVif(HostRuntime host, XapiObject vm, XapiObject template)
    {
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in template.Class.Fields.Where(f => f.IsConstructorArgument))
            values[field.Name] = template.Get(field.Name)?.DeepClone();
        values["VM"] = vm.Ref;
        return CreateVifObject(host, vm, values);
    }

    /// <summary>A new VIF on a network; an empty MAC gets a generated one. Call under the database lock.</summary>
    public static XapiObject CreateVif(HostRuntime host, XapiObject vm, string networkRef, string device, string mac = "") =>
        CreateVifObject(host, vm, new Dictionary<string, JsonNode?>
        {
            ["device"] = device,
            ["network"] = networkRef,
            ["VM"] = vm.Ref,
            ["MAC"] = mac,
            ["MTU"] = 1500L,
            ["other_config"] = new JsonObject(),
            ["qos_algorithm_type"] = string.Empty,
            ["qos_algorithm_params"] = new JsonObject(),
        });

    private static XapiObject CreateVifObject(HostRuntime host, XapiObject vm, Dictionary<string, JsonNode?> values)
    {
        var db = host.Database;
        values["currently_attached"] = false;
        var generated = string.IsNullOrEmpty((string?)values.GetValueOrDefault("MAC"));
        if (generated) values["MAC"] = RandomMac();
        var vif = db.Create("VIF", values);
        vif.Set("MAC_autogenerated", generated);
        vif.Set("status_detail", string.Empty);
        vif.Set("runtime_properties", new JsonObject());
        vif.Set("qos_supported_algorithms", new JsonArray());
        vif.Set("allowed_operations", new JsonArray("attach", "plug"));
        vm.AddToSet("VIFs", vif.Ref);
        db.Find("network", vif.GetString("network"))?.AddToSet("VIFs", vif.Ref);
        return vif;
    }

    public static void RemoveVif(HostRuntime host, XapiObject vif)
    {
        var db = host.Database;
        db.Find("VM", vif.GetString("VM"))?.RemoveFromSet("VIFs", vif.Ref);
        db.Find("network", vif.GetString("network"))?.RemoveFromSet("VIFs", vif.Ref);
        db.Destroy(vif);
    }

    private static ValueTask<JsonNode?> DestroyDevice(XapiCall call, string className, Action<HostRuntime, XapiObject> remove)
    {
        lock (call.Db.Sync)
        {
            var device = call.Db.Require(className, call.Ref(1));
            if (device.GetBool("currently_attached"))
                throw new XapiException(XapiErrors.OperationNotAllowed, $"{className} '{device.Ref}' is still attached to a running VM; unplug it first.");
            remove(call.Host, device);
            return ValueTask.FromResult<JsonNode?>(null);
        }
    }

    private static ValueTask<JsonNode?> Plug(XapiCall call, string className, bool attach)
    {
        lock (call.Db.Sync)
        {
            var device = call.Db.Require(className, call.Ref(1));
            var vm = call.Db.Require("VM", device.GetString("VM"));
            if (vm.GetString("power_state") != VmLifecycle.Running)
                throw new XapiException(XapiErrors.VmBadPowerState, vm.Ref, "running", vm.GetString("power_state").ToLowerInvariant());
            if (device.GetBool("currently_attached") == attach)
                throw new XapiException(attach ? XapiErrors.DeviceAlreadyAttached : XapiErrors.DeviceAlreadyDetached, device.Ref);
            device.Set("currently_attached", attach);
            if (className == "VIF") GuestNetworks.Refresh(call.Host, vm);
            return ValueTask.FromResult<JsonNode?>(null);
        }
    }

    private static string RandomMac()
    {
        Span<byte> bytes = stackalloc byte[6];
        Random.Shared.NextBytes(bytes);
        bytes[0] = (byte)((bytes[0] & 0xFE) | 0x02); // unicast, locally administered
        return string.Join(':', bytes.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }
}
