using System.Text.Json.Nodes;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Flavors;

/// <summary>Nova's flavor bodies (nova/api/openstack/compute/views/flavors.py), per microversion.</summary>
public static class FlavorView
{
    public static JsonObject Summary(Flavor f, NovaCaller caller)
    {
        var body = new JsonObject { ["id"] = f.FlavorId, ["name"] = f.Name, ["links"] = Links(f, caller) };
        if (caller.Version.AtLeast(55)) body["description"] = f.Description;
        return body;
    }

    public static JsonObject Detail(Flavor f, NovaCaller caller)
    {
        var v = caller.Version;
        var body = new JsonObject
        {
            ["id"] = f.FlavorId,
            ["name"] = f.Name,
            ["ram"] = f.MemoryMb,
            ["disk"] = f.RootGb,
            ["vcpus"] = f.Vcpus,
            ["OS-FLV-EXT-DATA:ephemeral"] = f.EphemeralGb,
            // Before 2.75 Nova says "" for no swap.
            ["swap"] = v.AtLeast(75) || f.SwapMb != 0 ? JsonValue.Create(f.SwapMb) : JsonValue.Create(string.Empty),
            ["os-flavor-access:is_public"] = f.IsPublic,
            ["links"] = Links(f, caller),
        };
        if (!v.AtLeast(102))
        {
            body["OS-FLV-DISABLED:disabled"] = f.Disabled;
            body["rxtx_factor"] = f.RxtxFactor;
        }

        if (v.AtLeast(55)) body["description"] = f.Description;
        if (v.AtLeast(61) && caller.Can(NovaPolicy.FlavorExtraSpecsIndex)) body["extra_specs"] = ExtraSpecs(f.ExtraSpecs);
        return body;
    }

    public static JsonObject ExtraSpecs(IReadOnlyDictionary<string, string> specs)
    {
        var o = new JsonObject();
        foreach (var (k, val) in specs.OrderBy(p => p.Key, StringComparer.Ordinal)) o[k] = val;
        return o;
    }

    private static JsonArray Links(Flavor f, NovaCaller caller) =>
    [
        new JsonObject { ["href"] = caller.SelfLink("flavors", f.FlavorId), ["rel"] = "self" },
        new JsonObject { ["href"] = caller.BookmarkLink("flavors", f.FlavorId), ["rel"] = "bookmark" },
    ];
}
