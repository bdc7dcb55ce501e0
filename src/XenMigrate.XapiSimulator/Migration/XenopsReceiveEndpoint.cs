using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Migration;

/// <summary>
/// The destination's end of a cross-pool Storage XenMotion, under the token's <c>xenops</c> URL.
/// It stands in for what xapi does there with two protocols of its own (the VM metadata import
/// and xenopsd's memory stream); the JSON bodies are the simulator's, used only between two
/// simulated hosts:
/// <list type="bullet">
/// <item><c>POST /services/xenops/import?session_id</c>: the VM's metadata (record with its uuid,
/// disks already copied here, empty CD drives, VIFs, vTPMs, snapshots). The VM is created Halted:
/// from now on it exists here, before its memory has moved.</item>
/// <item><c>POST /services/xenops/receive?session_id&amp;vm&amp;power_state&amp;guest_agent</c>: the domain
/// hand-over: the imported VM runs here (or is Suspended with its image) from this moment.</item>
/// </list>
/// Each answers <c>{"vm": ref}</c>, or <c>{"error": [code, params…]}</c> with HTTP 500.
/// </summary>
internal static class XenopsReceiveEndpoint
{
    public static Task ImportAsync(HttpContext context, HostRuntime host) =>
        HttpTransfer.WithSessionAsync(context, host, _ => AnswerAsync(context, async () =>
        {
            var body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted) as JsonObject
                       ?? throw new XapiException(XapiErrors.InvalidValue, "body", "not a JSON object");
            lock (host.Database.Sync) return Import(host, body).Ref;
        }));

    public static Task ReceiveAsync(HttpContext context, HostRuntime host) =>
        HttpTransfer.WithSessionAsync(context, host, _ => AnswerAsync(context, () =>
        {
            host.CountCall(FaultInjector.XenopsReceiveMethod);
            if (host.Faults.TakeFailure(FaultInjector.XenopsReceiveMethod) is { } injected) throw injected;
            var query = context.Request.Query;
            lock (host.Database.Sync)
            {
                var vm = host.Database.Require("VM", query["vm"].FirstOrDefault() ?? string.Empty);
                var powerState = query["power_state"].FirstOrDefault() ?? VmLifecycle.Halted;
                host.SetGuestAgent(vm.Ref, !bool.TryParse(query["guest_agent"].FirstOrDefault(), out var agent) || agent);
                if (powerState == VmLifecycle.Running)
                {
                    var needed = vm.GetLong("memory_static_max");
                    if (needed > host.FreeMemory())
                        throw new XapiException(XapiErrors.HostNotEnoughFreeMemory, XapiErrors.Int(needed), XapiErrors.Int(host.FreeMemory()));
                    VmLifecycle.Boot(host, vm, paused: false);
                }
                else if (powerState == VmLifecycle.Suspended)
                {
                    vm.Set("power_state", VmLifecycle.Suspended);
                    VmLifecycle.UpdateAllowedOperations(host, vm);
                }

                return Task.FromResult(vm.Ref);
            }
        }));

    private static async Task AnswerAsync(HttpContext context, Func<Task<string>> work)
    {
        try
        {
            var vmRef = await work();
            await context.Response.WriteAsJsonAsync(new JsonObject { ["vm"] = vmRef }, context.RequestAborted);
        }
        catch (Exception e) when (e is XapiException or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            var failure = e as XapiException ?? new XapiException(XapiErrors.InvalidValue, "body", e.Message);
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["error"] = new JsonArray(failure.ErrorInfo.Select(s => (JsonNode?)s).ToArray()),
            }, context.RequestAborted);
        }
    }

    private static XapiObject Import(HostRuntime host, JsonObject body)
    {
        var db = host.Database;
        var record = body["vm"] as JsonObject ?? throw new XapiException(XapiErrors.InvalidValue, "vm", "missing");
        var uuid = record["uuid"]?.GetValue<string>() ?? throw new XapiException(XapiErrors.InvalidValue, "uuid", "missing");
        if (db.FindByUuid("VM", uuid) is not null)
            throw new XapiException(XapiErrors.OperationNotAllowed, $"A VM with uuid {uuid} already exists here.");
        Validate(db, body);
        foreach (var snapshot in (body["snapshots"] as JsonArray ?? []).OfType<JsonObject>()) Validate(db, snapshot);

        var vm = Create(host, body, snapshotOf: null);
        foreach (var snapshot in (body["snapshots"] as JsonArray ?? []).OfType<JsonObject>()) Create(host, snapshot, snapshotOf: vm);
        host.RefreshStorageUsage();
        return vm;
    }

    /// <summary>Every referenced object must be here before anything is created.</summary>
    private static void Validate(XapiDatabase db, JsonObject description)
    {
        foreach (var vbd in (description["vbds"] as JsonArray ?? []).OfType<JsonObject>())
            if (vbd["VDI"]?.GetValue<string>() is { } vdi && vdi != XapiType.NullRef) db.Require("VDI", vdi);
        foreach (var vif in (description["vifs"] as JsonArray ?? []).OfType<JsonObject>()) db.Require("network", vif["network"]!.GetValue<string>());
    }

    private static XapiObject Create(HostRuntime host, JsonObject description, XapiObject? snapshotOf)
    {
        var db = host.Database;
        var record = description["vm"]!.AsObject();
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in db.Model.GetClass("VM").Fields.Where(f => f.IsConstructorArgument))
            if (record.TryGetPropertyValue(field.Name, out var value)) values[field.Name] = value?.DeepClone();
        values["uuid"] = record["uuid"]!.GetValue<string>();
        var vm = VmFactory.Create(host, values);
        if (snapshotOf is not null)
        {
            vm.Set("is_a_snapshot", true);
            vm.Set("snapshot_of", snapshotOf.Ref);
            vm.Set("snapshot_time", host.Now());
            snapshotOf.AddToSet("snapshots", vm.Ref);
        }

        foreach (var vbd in (description["vbds"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var vdi = vbd["VDI"]?.GetValue<string>() ?? XapiType.NullRef;
            DeviceHandlers.CreateVbd(host, vm, vdi, vbd["userdevice"]!.GetValue<string>(), vbd["bootable"]?.GetValue<bool>() ?? false,
                type: vbd["type"]?.GetValue<string>() ?? "Disk", mode: vbd["mode"]?.GetValue<string>() ?? "RW");
        }

        foreach (var vif in (description["vifs"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var created = DeviceHandlers.CreateVif(host, vm, vif["network"]!.GetValue<string>(), vif["device"]!.GetValue<string>(),
                vif["MAC"]?.GetValue<string>() ?? string.Empty);
            if (vif["MTU"] is { } mtu) created.Set("MTU", mtu.GetValue<long>());
        }

        foreach (var vtpm in (description["vtpms"] as JsonArray ?? []).OfType<JsonObject>())
            VtpmHandlers.Add(host, vm, vtpm["is_unique"]?.GetValue<bool>() ?? false, vtpm["contents"]?.GetValue<string>() ?? string.Empty);
        if (description["suspend_VDI"]?.GetValue<string>() is { } image && db.Find("VDI", image) is not null) vm.Set("suspend_VDI", image);
        return vm;
    }
}
