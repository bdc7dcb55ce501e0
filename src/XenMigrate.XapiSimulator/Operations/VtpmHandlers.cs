using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// Virtual TPMs (xapi_vtpm.ml): at most one per VM, created while the VM is Halted and only when
/// the pool's restrictions allow it (restrict_vtpm = false); the TPM's state is a secret read and
/// written with the hidden VTPM.get_contents / set_contents, as Xen Orchestra copies it.
/// </summary>
internal static class VtpmHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("VTPM.create", call =>
        {
            lock (call.Db.Sync)
            {
                var vm = call.Db.Require("VM", call.Ref(1));
                var restrictions = call.Db.Require("pool", call.Host.PoolRef).GetStringMap("restrictions");
                if (restrictions.GetValueOrDefault("restrict_vtpm") != "false")
                    throw new XapiException(XapiErrors.FeatureRestricted, "restrict_vtpm");
                if (vm.GetStrings("VTPMs").Count > 0)
                    throw new XapiException(XapiErrors.VtpmMaxAmountReached, XapiErrors.Int(vm.GetStrings("VTPMs").Count));
                if (vm.GetString("power_state") != VmLifecycle.Halted)
                    throw new XapiException(XapiErrors.VmBadPowerState, vm.Ref, "halted", vm.GetString("power_state").ToLowerInvariant());
                return ValueTask.FromResult<JsonNode?>(Add(call.Host, vm, call.Bool(2), string.Empty).Ref);
            }
        });
        registry.Add("VTPM.destroy", call =>
        {
            lock (call.Db.Sync)
            {
                var vtpm = call.Db.Require("VTPM", call.Ref(1));
                var vm = call.Db.Require("VM", vtpm.GetString("VM"));
                if (vm.GetString("power_state") != VmLifecycle.Halted)
                    throw new XapiException(XapiErrors.VmBadPowerState, vm.Ref, "halted", vm.GetString("power_state").ToLowerInvariant());
                Remove(call.Host, vtpm);
                return ValueTask.FromResult<JsonNode?>(null);
            }
        });
        registry.Add("VTPM.get_contents", call =>
        {
            lock (call.Db.Sync) return ValueTask.FromResult<JsonNode?>(Contents(call.Host, call.Db.Require("VTPM", call.Ref(1))));
        });
        registry.Add("VTPM.set_contents", call =>
        {
            lock (call.Db.Sync)
            {
                var vtpm = call.Db.Require("VTPM", call.Ref(1));
                call.Host.Pool.VtpmContents[vtpm.Ref] = call.String(2);
                return ValueTask.FromResult<JsonNode?>(null);
            }
        });
    }

    /// <summary>A VTPM on a VM with the given state; call under the database lock.</summary>
    public static XapiObject Add(HostRuntime host, XapiObject vm, bool isUnique, string contents)
    {
        var vtpm = host.Database.Create("VTPM", new Dictionary<string, JsonNode?>
        {
            ["VM"] = vm.Ref,
            ["backend"] = XapiType.NullRef,
            ["persistence_backend"] = "xapi",
            ["is_unique"] = isUnique,
            ["is_protected"] = false,
            ["allowed_operations"] = new JsonArray("destroy"),
        });
        vm.AddToSet("VTPMs", vtpm.Ref);
        host.Pool.VtpmContents[vtpm.Ref] = contents;
        return vtpm;
    }

    public static void Remove(HostRuntime host, XapiObject vtpm)
    {
        host.Database.Find("VM", vtpm.GetString("VM"))?.RemoveFromSet("VTPMs", vtpm.Ref);
        host.Pool.VtpmContents.Remove(vtpm.Ref);
        host.Database.Destroy(vtpm);
    }

    public static string Contents(HostRuntime host, XapiObject vtpm) => host.Pool.VtpmContents.GetValueOrDefault(vtpm.Ref, string.Empty);
}
