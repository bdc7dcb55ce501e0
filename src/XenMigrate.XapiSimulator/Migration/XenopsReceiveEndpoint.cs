using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Migration;

/// <summary>
/// <c>POST /services/xenops/receive?session_id</c>, the destination's end of a Storage XenMotion
/// (the <c>xenops</c> URL of the migrate_receive token; xapi sends the VM's metadata and memory to
/// its xenopsd there). The body is the simulator's hand-over, in JSON: the VM's record with its
/// uuid, its disks (VDIs already copied here), its VIFs (networks here) and its power state. In one
/// step under the database lock the VM is created with that uuid and runs (or is paused) here.
/// Answers <c>{"vm": ref}</c>, or <c>{"error": [code, params…]}</c> with HTTP 500.
/// </summary>
internal static class XenopsReceiveEndpoint
{
    public static Task HandleAsync(HttpContext context, HostRuntime host) =>
        HttpTransfer.WithSessionAsync(context, host, _ => ReceiveAsync(context, host));

    private static async Task ReceiveAsync(HttpContext context, HostRuntime host)
    {
        try
        {
            host.CountCall(FaultInjector.XenopsReceiveMethod);
            var body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted) as JsonObject
                       ?? throw new XapiException(XapiErrors.InvalidValue, "body", "not a JSON object");
            if (host.Faults.TakeFailure(FaultInjector.XenopsReceiveMethod) is { } injected) throw injected;
            string vmRef;
            lock (host.Database.Sync) vmRef = Receive(host, body).Ref;
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

    private static XapiObject Receive(HostRuntime host, JsonObject body)
    {
        var db = host.Database;
        var record = body["vm"] as JsonObject ?? throw new XapiException(XapiErrors.InvalidValue, "vm", "missing");
        var uuid = record["uuid"]?.GetValue<string>() ?? throw new XapiException(XapiErrors.InvalidValue, "uuid", "missing");
        if (db.FindByUuid("VM", uuid) is not null)
            throw new XapiException(XapiErrors.OperationNotAllowed, $"A VM with uuid {uuid} already exists here.");
        var powerState = body["power_state"]?.GetValue<string>() ?? VmLifecycle.Halted;
        var running = powerState is VmLifecycle.Running or VmLifecycle.Paused;
        var memory = record["memory_static_max"]?.GetValue<long>() ?? 0;
        if (running && memory > host.FreeMemory())
            throw new XapiException(XapiErrors.HostNotEnoughFreeMemory, XapiErrors.Int(memory), XapiErrors.Int(host.FreeMemory()));

        // Every referenced object must be here before anything is created.
        var vbds = (body["vbds"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var vifs = (body["vifs"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        foreach (var vbd in vbds) db.Require("VDI", vbd["VDI"]!.GetValue<string>());
        foreach (var vif in vifs) db.Require("network", vif["network"]!.GetValue<string>());

        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in db.Model.GetClass("VM").Fields.Where(f => f.IsConstructorArgument))
            if (record.TryGetPropertyValue(field.Name, out var value)) values[field.Name] = value?.DeepClone();
        values["uuid"] = uuid;
        var vm = VmFactory.Create(host, values);
        foreach (var vbd in vbds)
        {
            DeviceHandlers.CreateVbd(host, vm, vbd["VDI"]!.GetValue<string>(), vbd["userdevice"]!.GetValue<string>(),
                vbd["bootable"]?.GetValue<bool>() ?? false, mode: vbd["mode"]?.GetValue<string>() ?? "RW");
        }

        foreach (var vif in vifs)
        {
            var created = DeviceHandlers.CreateVif(host, vm, vif["network"]!.GetValue<string>(), vif["device"]!.GetValue<string>(),
                vif["MAC"]?.GetValue<string>() ?? string.Empty);
            if (vif["MTU"] is { } mtu) created.Set("MTU", mtu.GetValue<long>());
        }

        host.SetGuestAgent(vm.Ref, body["guest_agent"]?.GetValue<bool>() ?? host.Options.GuestAgentsByDefault);
        if (running) VmLifecycle.Boot(host, vm, paused: powerState == VmLifecycle.Paused);
        host.RefreshStorageUsage();
        return vm;
    }
}
