using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// VM memory settings. Static limits change only while Halted; the dynamic range also while
/// Running. Every change keeps static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max.
/// </summary>
internal static class VmMemoryHandlers
{
    private readonly record struct Limits(long StaticMin, long StaticMax, long DynamicMin, long DynamicMax);

    public static void Register(HandlerRegistry registry)
    {
        registry.Add("VM.set_memory_limits", call => Change(call, "changing_memory_limits",
            _ => new Limits(call.Long(2), call.Long(3), call.Long(4), call.Long(5))));
        // VM.set_memory (7.1+): static_max = dynamic_min = dynamic_max = value.
        registry.Add("VM.set_memory", call => Change(call, "changing_memory_limits",
            l => l with { StaticMax = call.Long(2), DynamicMin = call.Long(2), DynamicMax = call.Long(2) }));
        registry.Add("VM.set_memory_static_range", call => Change(call, "changing_static_range",
            l => l with { StaticMin = call.Long(2), StaticMax = call.Long(3) }));
        registry.Add("VM.set_memory_static_min", call => Change(call, "changing_static_range", l => l with { StaticMin = call.Long(2) }));
        registry.Add("VM.set_memory_static_max", call => Change(call, "changing_static_range", l => l with { StaticMax = call.Long(2) }));
        registry.Add("VM.set_memory_dynamic_range", call => Change(call, "changing_dynamic_range",
            l => l with { DynamicMin = call.Long(2), DynamicMax = call.Long(3) }));
        registry.Add("VM.set_memory_dynamic_min", call => Change(call, "changing_dynamic_range", l => l with { DynamicMin = call.Long(2) }));
        registry.Add("VM.set_memory_dynamic_max", call => Change(call, "changing_dynamic_range", l => l with { DynamicMax = call.Long(2) }));
    }

    private static ValueTask<JsonNode?> Change(XapiCall call, string operation, Func<Limits, Limits> update) =>
        ObjectOperation.RunAsync(call, "VM", call.Ref(1), operation,
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, operation);
                var next = update(Read(vm));
                VmFactory.AssertMemoryOrder(next.StaticMin, next.DynamicMin, next.DynamicMax, next.StaticMax);
            },
            vm =>
            {
                var next = update(Read(vm));
                VmFactory.AssertMemoryOrder(next.StaticMin, next.DynamicMin, next.DynamicMax, next.StaticMax);
                vm.Set("memory_static_min", next.StaticMin);
                vm.Set("memory_static_max", next.StaticMax);
                vm.Set("memory_dynamic_min", next.DynamicMin);
                vm.Set("memory_dynamic_max", next.DynamicMax);
                if (vm.GetString("power_state") is VmLifecycle.Running or VmLifecycle.Paused)
                {
                    // The balloon driver moves the guest to the new target.
                    vm.Set("memory_target", next.DynamicMax);
                    if (call.Db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics) metrics.Set("memory_actual", next.DynamicMax);
                }

                call.Host.RefreshMemory();
                return null;
            });

    private static Limits Read(Model.XapiObject vm) => new(
        vm.GetLong("memory_static_min"), vm.GetLong("memory_static_max"),
        vm.GetLong("memory_dynamic_min"), vm.GetLong("memory_dynamic_max"));
}
